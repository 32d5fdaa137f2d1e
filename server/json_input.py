"""JSON a client sends, read defensively: UTF-8, finite numbers only, and bounded nesting,
so that no body can exhaust the parser's recursion or reach the code as an infinity."""

from __future__ import annotations

import json
from typing import Any

# No request of the API nests deeper than 4 levels (a court inside a body); this leaves room.
DEFAULT_MAX_DEPTH = 32


class JsonInputError(ValueError):
    """The text is not JSON the server accepts; the message says why, for the client."""


def parse_json(data: str | bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The value of `data`, or JsonInputError with a message fit for the client."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"the JSON is not UTF-8 text: {exc.reason}") from exc
    except RecursionError:
        # The C parser stops at the interpreter's recursion limit, long past max_depth.
        raise JsonInputError(f"the JSON is nested deeper than {max_depth} levels") from None
    except JsonInputError:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer past Python's digit limit
        raise JsonInputError(f"not valid JSON: {exc}") from exc
    if _depth_exceeds(value, max_depth):
        raise JsonInputError(f"the JSON is nested deeper than {max_depth} levels")
    return value


def _refuse_constant(name: str) -> Any:
    raise JsonInputError(f"not valid JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonInputError(f"the number {text[:40]} is too large")
    return value


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether arrays and objects nest deeper than max_depth (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > max_depth:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
