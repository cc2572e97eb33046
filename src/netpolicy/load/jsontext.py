"""JSON decoding that also yields where each top-level item starts, in a single pass."""

from __future__ import annotations

import json
import re

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def decode_json(text: str) -> tuple[object, int, list[int]]:
    """The value, the offset of the top-level value and the offsets of its items.

    Items are the elements of a top-level array or of a top-level object's `items` array.
    Raises `json.JSONDecodeError` exactly as `json.loads` would.
    """
    try:
        return _decode(text)
    except (json.JSONDecodeError, IndexError):
        # Let the standard decoder word the error; positions are not needed then.
        return json.loads(text), 0, []


def _skip(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()  # type: ignore[union-attr]


def _decode(text: str) -> tuple[object, int, list[int]]:
    start = _skip(text, 0)
    offsets: list[int] = []
    value: object
    if text.startswith("[", start):
        value, end = _array(text, start, offsets)
    elif text.startswith("{", start):
        value, end = _object(text, start, offsets)
    else:
        value, end = _DECODER.raw_decode(text, start)
    if _skip(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value, start, offsets


def _array(text: str, i: int, offsets: list[int]) -> tuple[list[object], int]:
    items: list[object] = []
    i = _skip(text, i + 1)
    if text[i] == "]":
        return items, i + 1
    while True:
        offsets.append(i)
        item, i = _DECODER.raw_decode(text, i)
        items.append(item)
        i = _skip(text, i)
        if text[i] == "]":
            return items, i + 1
        if text[i] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        i = _skip(text, i + 1)


def _object(text: str, i: int, offsets: list[int]) -> tuple[dict[str, object], int]:
    result: dict[str, object] = {}
    i = _skip(text, i + 1)
    if text[i] == "}":
        return result, i + 1
    while True:
        if text[i] != '"':
            raise json.JSONDecodeError("Expecting property name", text, i)
        key, i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
        i = _skip(text, i + 1)
        value: object
        if key == "items" and text[i] == "[":
            offsets.clear()
            value, i = _array(text, i, offsets)
        else:
            value, i = _DECODER.raw_decode(text, i)
        result[key] = value
        i = _skip(text, i)
        if text[i] == "}":
            return result, i + 1
        if text[i] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        i = _skip(text, i + 1)
