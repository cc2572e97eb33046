"""Input paths → (display name, text): files, directories (recursive, sorted) and stdin."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from netpolicy.model import SourceRef

from .fields import Report

MANIFEST_SUFFIXES = (".json", ".yaml", ".yml")
STDIN = "-"
STDIN_NAME = "<stdin>"


def read_inputs(
    paths: Sequence[str | Path], stdin: TextIO | None, report: Report
) -> Iterator[tuple[str, str]]:
    """The text of every manifest file named or found below the given paths, in order."""
    for given in paths:
        if str(given) == STDIN:
            yield STDIN_NAME, (stdin or sys.stdin).read()
            continue
        path = Path(given)
        if path.is_dir():
            files = manifest_files(path)
            if not files:
                report.add(
                    "error",
                    "no manifest files found; recognized file extensions are [.json .yaml .yml]",
                    SourceRef(str(path)),
                    "no-manifests",
                )
            for file in files:
                text = _read(file, report)
                if text is not None:
                    yield str(file), text
        elif path.exists():
            text = _read(path, report)
            if text is not None:
                yield str(path), text
        else:
            report.add("error", f"{path}: does not exist", SourceRef(str(path)), "missing-input")


def manifest_files(directory: Path) -> list[Path]:
    """Files with a manifest suffix below `directory`, sorted; hidden directories are skipped."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root, f) for f in files if f.lower().endswith(MANIFEST_SUFFIXES)]
    return sorted(found)


def _read(path: Path, report: Report) -> str | None:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        report.add("error", f"cannot read file: {err}", SourceRef(str(path)), "read-error")
        return None
