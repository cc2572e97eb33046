"""JSON decoding that also yields where each top-level item starts, in a single pass,
and which keys an object repeats (kubectl's strict decoding rejects those)."""

from __future__ import annotations

import json
import re

_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _Decoder(json.JSONDecoder):
    """The standard decoder; objects are built by a hook that notes repeated keys."""

    def __init__(self) -> None:
        super().__init__(object_pairs_hook=self._object)
        self.repeated: list[str] = []

    def _object(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.repeated.append(key)
                seen.add(key)
        return result


def decode_json(text: str) -> tuple[object, int, list[int], list[str]]:
    """The value, the offset of the top-level value, the offsets of its items and the keys
    that some object repeats (the later value kept, as `json.loads` keeps it).

    Items are the elements of a top-level array or of a top-level object's `items` array.
    Raises `json.JSONDecodeError` exactly as `json.loads` would.
    """
    decoder = _Decoder()
    try:
        value, start, offsets = _decode(text, decoder)
    except (json.JSONDecodeError, IndexError):
        # Let the standard decoder word the error; positions are not needed then.
        decoder = _Decoder()
        return decoder.decode(text), 0, [], decoder.repeated
    return value, start, offsets, decoder.repeated


def _skip(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()  # type: ignore[union-attr]


def _decode(text: str, decoder: _Decoder) -> tuple[object, int, list[int]]:
    start = _skip(text, 0)
    offsets: list[int] = []
    value: object
    if text.startswith("[", start):
        value, end = _array(text, start, offsets, decoder)
    elif text.startswith("{", start):
        value, end = _object(text, start, offsets, decoder)
    else:
        value, end = decoder.raw_decode(text, start)
    if _skip(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value, start, offsets


def _array(text: str, i: int, offsets: list[int], decoder: _Decoder) -> tuple[list[object], int]:
    items: list[object] = []
    i = _skip(text, i + 1)
    if text[i] == "]":
        return items, i + 1
    while True:
        offsets.append(i)
        item, i = decoder.raw_decode(text, i)
        items.append(item)
        i = _skip(text, i)
        if text[i] == "]":
            return items, i + 1
        if text[i] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        i = _skip(text, i + 1)


def _object(
    text: str, i: int, offsets: list[int], decoder: _Decoder
) -> tuple[dict[str, object], int]:
    result: dict[str, object] = {}
    i = _skip(text, i + 1)
    if text[i] == "}":
        return result, i + 1
    while True:
        if text[i] != '"':
            raise json.JSONDecodeError("Expecting property name", text, i)
        key, i = decoder.raw_decode(text, i)
        i = _skip(text, i)
        if text[i] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
        i = _skip(text, i + 1)
        value: object
        if key == "items" and text[i] == "[":
            offsets.clear()
            value, i = _array(text, i, offsets, decoder)
        else:
            value, i = decoder.raw_decode(text, i)
        if key in result:
            decoder.repeated.append(key)
        result[key] = value
        i = _skip(text, i)
        if text[i] == "}":
            return result, i + 1
        if text[i] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        i = _skip(text, i + 1)
