"""An intents document as YAML: the intent file's own shape, in a stable order, with comments.

The keys come in the order of the issue's example (`apiVersion`, `kind`, `namespaces`, `dns`,
`intents`; per intent `from`, `to`, `ports`, then notes such as `flows`), intents as given
(the producers sort them). An intent with `flows` gets a comment saying how many observed
flows support it; `comments` become lines at the top (what was read, what was left out).
Strings are written plain where YAML reads them back as the same string, else quoted;
mappings (selector endpoints) in flow style on one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import yaml

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:*-]*")
_INTENT_KEYS = ("from", "to", "ports")
_TOP_KEYS = ("apiVersion", "kind", "namespaces", "dns", "intents")


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value if _reads_back(value) else _quoted(value)
    return _flow(value)


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar, escaped by YAML's own emitter."""
    return yaml.safe_dump(text, default_style='"', width=float("inf")).rstrip("\n")


def _flow(value: object) -> str:
    """A value in YAML flow style on one line (`{namespace: x, selector: {...}}`); anything
    not ASCII escaped (a raw NEL or LINE SEPARATOR would read back as a line break)."""
    dumped = yaml.safe_dump(
        value, default_flow_style=True, width=float("inf"), sort_keys=False, allow_unicode=False
    )
    return dumped.rstrip("\n").removesuffix("\n...").rstrip("\n")


@lru_cache(maxsize=4096)
def _reads_back(text: str) -> bool:
    """YAML reads `text` written plain back as the same string (not a number, bool, date)."""
    if not _PLAIN.fullmatch(text):
        return False
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _flow_list(values: Iterable[object]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _value(value: object) -> str:
    if isinstance(value, Mapping):
        return _flow(value)
    if isinstance(value, (list, tuple)):
        return _flow_list(value)
    return _scalar(value)


def _flows_comment(flows: object) -> str:
    if not isinstance(flows, int) or isinstance(flows, bool):
        return ""
    return f"  # {flows} flow{'' if flows == 1 else 's'} observed"


def render_intents(doc: Mapping[str, Any], comments: Sequence[str] = ()) -> str:
    """The YAML text of an intents document (ends with a newline)."""
    out = [f"# {line}".rstrip() for text in comments for line in text.splitlines()]
    for key in _TOP_KEYS:
        if key == "intents" or key not in doc:
            continue
        out.append(f"{key}: {_value(doc[key])}")
    for key, value in doc.items():
        if key not in _TOP_KEYS:
            out.append(f"{_scalar(key)}: {_value(value)}")
    intents = doc.get("intents") or []
    if not intents:
        out.append("intents: []")
        return "\n".join(out) + "\n"
    out.append("intents:")
    for intent in intents:
        keys = [k for k in _INTENT_KEYS if k in intent]
        keys += [k for k in intent if k not in _INTENT_KEYS]
        for i, key in enumerate(keys):
            lead = "  - " if i == 0 else "    "
            line = f"{lead}{_scalar(key)}: {_value(intent[key])}"
            if i == 0:
                line += _flows_comment(intent.get("flows"))
            out.append(line)
    return "\n".join(out) + "\n"
