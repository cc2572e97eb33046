"""The official SARIF 2.1.0 schema (tests/data/sarif) as a validator that never downloads."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import NoSuchResource

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "sarif" / "sarif-schema-2.1.0.json"


def _no_download(uri: str) -> Any:
    # Every $ref of the schema points inside it; anything else would be a network fetch.
    raise NoSuchResource(ref=uri)


@cache
def sarif_validator() -> Draft4Validator:
    """A validator for the draft the schema declares (draft-04), with no remote retrieval."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = validator_for(schema)
    assert cls is Draft4Validator, cls
    cls.check_schema(schema)
    registry: Registry[Any] = Registry(retrieve=_no_download)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def schema_errors(log: object) -> list[str]:
    """Every violation of the schema, as `path: message` lines (empty when valid)."""
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
