"""The lint config file (`.netpolicy.yaml`): checks to disable and per-check severities.

```yaml
disable: [broad-peer, redundant]
severity: {namespace-without-policies: warning}
```

The same two keys may instead sit under a top-level `lint:` key. Every mistake is a located
diagnostic, as for manifests. The valid check IDs are given by the caller: `load` sees only
`netpolicy.model`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netpolicy.model import Diagnostic, Severity, SourceRef

from .fields import ObjectContext, Report, type_name
from .positions import FieldPath

DEFAULT_CONFIG = ".netpolicy.yaml"
SECTION = "lint"
_KEYS = ("disable", "severity")
_SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class LintConfig:
    """Lint settings: the check IDs to leave out and severity overrides, all known IDs."""

    disable: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    file: str | None = None
    """The file the settings were read from; None when there was none."""


@dataclass(frozen=True, slots=True)
class LintConfigResult:
    """A config and the diagnostics found reading it; the config is empty after an error."""

    config: LintConfig
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


def find_lint_config(directory: str | Path = ".") -> Path | None:
    """`.netpolicy.yaml` in `directory` when it exists (the config used without --config)."""
    candidate = Path(directory) / DEFAULT_CONFIG
    return candidate if candidate.is_file() else None


def load_lint_config(path: str | Path, check_ids: Collection[str]) -> LintConfigResult:
    """The lint settings in the file at `path`; never raises on a bad or missing file."""
    file = str(path)
    report = Report()
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        report.add("error", "config file does not exist", SourceRef(file), "missing-config")
        return LintConfigResult(LintConfig(), tuple(report.items))
    except (OSError, UnicodeDecodeError) as err:
        report.add("error", f"cannot read config file: {err}", SourceRef(file), "read-error")
        return LintConfigResult(LintConfig(), tuple(report.items))
    config = parse_lint_config(text, file, check_ids, report)
    in_file_order = sorted(report.items, key=lambda d: d.source.line)
    return LintConfigResult(config if not report.errors else LintConfig(), tuple(in_file_order))


def parse_lint_config(
    text: str, file: str, check_ids: Collection[str], report: Report
) -> LintConfig:
    """The settings written in `text` (one YAML document); mistakes are added to `report`."""
    # PyYAML is imported only by a run that has a config (or YAML input) to read.
    from .yamltext import yaml_documents

    documents = list(yaml_documents(text, file, report))
    if not documents:
        return LintConfig(file=file)
    for extra in documents[1:]:
        report.add(
            "error", "a config file holds one YAML document", extra.ref(), "config-documents"
        )
    ctx = ObjectContext(documents[0], report)
    root = ctx.mapping(documents[0].value, ())
    if root is None:
        return LintConfig(file=file)
    settings = root
    base: FieldPath = ()
    if SECTION in root:
        written = [k for k in _KEYS if k in root]
        if written:
            ctx.error(
                (written[0],),
                f"give {' and '.join(_KEYS)} either at the top level or under {SECTION}:, not both",
                "config-conflict",
            )
        section = ctx.mapping(root[SECTION], (SECTION,))
        settings, base = section or {}, (SECTION,)
        for key in settings:
            if key not in _KEYS:
                ctx.error(
                    (SECTION, key),
                    f"unknown field {key!r} (lint reads {' and '.join(_KEYS)})",
                    "unknown-field",
                )
    # Other top-level keys may be the settings of other commands: a warning, not an error.
    for key in root:
        if key not in (*_KEYS, SECTION):
            ctx.warning(
                (key,),
                f"unknown field {key!r} ignored (lint reads {SECTION}, {', '.join(_KEYS)})",
                "unknown-field",
            )
    return LintConfig(
        disable=_disable(ctx, settings.get("disable"), (*base, "disable"), check_ids),
        severity=_severity(ctx, settings.get("severity"), (*base, "severity"), check_ids),
        file=file,
    )


def _disable(
    ctx: ObjectContext, value: object, path: FieldPath, check_ids: Collection[str]
) -> tuple[str, ...]:
    items = ctx.sequence(value, path) or []
    found: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            ctx.error((*path, i), f"must be a check ID (a string), not {type_name(item)}", "type")
        elif item not in check_ids:
            ctx.error((*path, i), unknown_check(item, check_ids), "unknown-check")
        elif item not in found:
            found.append(item)
    return tuple(found)


def _severity(
    ctx: ObjectContext, value: object, path: FieldPath, check_ids: Collection[str]
) -> dict[str, Severity]:
    raw: dict[str, Any] = ctx.mapping(value, path) or {}
    found: dict[str, Severity] = {}
    for key, level in raw.items():
        where = (*path, key)
        if key not in check_ids:
            ctx.error(where, unknown_check(key, check_ids), "unknown-check")
        elif level not in _SEVERITIES:
            ctx.error(
                where,
                f"severity must be one of {', '.join(_SEVERITIES)}, not {level!r}",
                "severity",
            )
        else:
            found[key] = level
    return found


def unknown_check(check_id: str, check_ids: Collection[str]) -> str:
    """The message for an unknown check ID, naming the closest known one."""
    close = difflib.get_close_matches(check_id, sorted(check_ids), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (netpolicy lint --list shows them)"
    return f"unknown check {check_id!r}{hint}"
