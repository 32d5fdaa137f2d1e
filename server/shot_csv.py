"""The shot list of a report as CSV, for spreadsheets: one row per shot, in time order."""

from __future__ import annotations

import csv
import io
from pathlib import PurePath
from typing import Any

COLUMNS = ("time_s", "rally", "player", "type", "confidence", "court_x_m", "court_y_m")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def shots_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(COLUMNS)
    shots = sorted(report.get("shots") or [], key=lambda shot: shot.get("time") or 0.0)
    for shot in shots:
        x, y = shot.get("court_xy") or (None, None)
        writer.writerow(
            [
                _number(shot.get("time")),
                _rally(shot, report.get("rallies") or []),
                _text(shot.get("player")),
                _text(shot.get("type")),
                _number(shot.get("confidence")),
                _number(x),
                _number(y),
            ]
        )
    return out.getvalue()


def csv_filename(title: str) -> str:
    """`<the match's file name without extension>-shots.csv`."""
    stem = PurePath(title.replace("\\", "/")).stem.strip() or "match"
    return f"{stem}-shots.csv"


def _rally(shot: dict[str, Any], rallies: list[dict[str, Any]]) -> str:
    """The shot's rally number: as the report gives it, else the rally its frame falls in."""
    if shot.get("rally_id") is not None:
        return str(shot["rally_id"])
    frame = shot.get("frame")
    for i, rally in enumerate(rallies):
        if frame is not None and rally.get("start_frame", 0) <= frame <= rally.get("end_frame", -1):
            return str(rally.get("rally_id", i + 1))
    return ""


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return str(value)  # the shortest text that reads back as the same number


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
