"""Text → documents: multi-document YAML (with positions) and JSON, errors kept per document."""

from __future__ import annotations

import json
from collections.abc import Iterator

from netpolicy.model import SourceRef

from .fields import Document, Report, describe
from .jsontext import decode_json
from .positions import JsonLocator

_ARRAY_MESSAGE = (
    "cannot unmarshal array into Go value of type unstructured.detector: "
    "a JSON file must hold one Kubernetes object (or a List), not an array of other values"
)


def parse(
    text: str, file: str, report: Report, *, json_first: bool, json_only: bool
) -> Iterator[Document]:
    """The documents of one file; a broken document is reported and the others still load.

    `json_first` tries JSON before YAML (JSON is far faster to read); `json_only` reports
    invalid JSON instead of trying YAML.
    """
    if json_first or json_only:
        try:
            value, top, offsets, repeated = decode_json(text)
        except json.JSONDecodeError as err:
            if json_only:
                report.add(
                    "error",
                    f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})",
                    SourceRef(file, err.lineno, 0),
                    "syntax",
                )
                return
        else:
            locator = JsonLocator(text, top, offsets)
            if repeated:
                _reject_duplicates(text, value, repeated, file, report, locator)
                return
            yield from _json_documents(value, file, report, locator)
            return
    # imported here: a run on JSON input never pays for loading PyYAML
    from .yamltext import yaml_documents

    yield from yaml_documents(text, file, report)


def _json_documents(
    value: object, file: str, report: Report, locator: JsonLocator
) -> Iterator[Document]:
    if isinstance(value, list):
        # Go reads a JSON file as one object; an array of objects is still welcome here,
        # but anything else (e.g. a tool's own output saved beside the manifests) is not.
        if not all(isinstance(v, dict) and "kind" in v for v in value):
            report.add(
                "error", _ARRAY_MESSAGE, SourceRef(file, locator.line(()), 0), "not-an-object"
            )
            return
        top = Document(value, file, 0, locator)
        for i, item in enumerate(value):
            yield top.item(item, (i,))
        return
    yield Document(value, file, 0, locator)


def _reject_duplicates(
    text: str, value: object, repeated: list[str], file: str, report: Report, locator: JsonLocator
) -> None:
    """A JSON object with a key written twice: kubectl's strict decoding rejects the file."""
    from .yamltext import report_duplicate_keys

    if report_duplicate_keys(text, file, report):
        return
    names = ", ".join(f'"{key}"' for key in dict.fromkeys(repeated))
    report.add(
        "error",
        f"duplicate key {names}: kubectl rejects a document with a duplicate key, "
        f"so {describe(value)} is not loaded",
        SourceRef(file, locator.line(()), 0),
        "duplicate-key",
    )
