"""Logging set-up: readable lines on a terminal, JSON lines (LOG_FORMAT=json) for collectors."""

from __future__ import annotations

import json
import logging
import os
import re
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

CHATTY_LOGGERS = ("aioice",)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


# Path segments that are bearer tokens (a viewer link's `view/{token}`, a shared report's).
_TOKEN_IN_PATH = re.compile(r"/(view|shared?)/[^/]+")


def loggable_path(path: str) -> str:
    """A request path with its bearer tokens blanked out."""
    return _TOKEN_IN_PATH.sub(r"/\1/-", path)


class QueryFreeAccessLogger(AbstractAccessLogger):
    """One line per request without query strings or tokens: signed URLs carry their
    signature in the query and link tokens sit in the path, and a log line must not be a
    usable link."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        referer = loggable_path(request.headers.get("Referer", "-").split("?", 1)[0])
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d "%s" "%s" %.3fs',
            request.remote,
            request.method,
            loggable_path(request.path),
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            referer,
            request.headers.get("User-Agent", "-"),
            time,
        )


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    handler = logging.StreamHandler()
    if (fmt or os.environ.get("LOG_FORMAT", "text")).lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    # aioice reports every connectivity check at INFO, dozens per connection: worth reading
    # only when debugging.
    chatty = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty)
