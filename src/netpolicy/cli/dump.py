"""`netpolicy dump [-o FILE]`: a live cluster saved as one List, for offline use and diff."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netpolicy.cli._common import (
    cluster_options_given,
    err,
    fail,
    mark_partial,
    progress_bar,
    write_chunks,
)

if TYPE_CHECKING:  # the live reader is imported when a cluster is read
    from netpolicy.load.live import Snapshot

YAML_SUFFIXES = (".yaml", ".yml")


def dump_command(
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write here (.yaml/.yml: YAML, else JSON); default or -: JSON on stdout.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE when it exists.")] = False,
) -> None:
    """Save the cluster's namespaces, pods, workloads and NetworkPolicies as one List.

    Reads the current kubeconfig context unless told otherwise (--kubeconfig, --context,
    -n). Every read-only command reads the file as it reads the cluster; `diff` compares
    two. Objects are saved as the API server sent them, with their kind and apiVersion, and
    without metadata.managedFields. Exits 0; 3 when the API server forbade some kind (the
    file holds the rest); 2 when the cluster cannot be read or FILE exists (--force).
    """
    from netpolicy.load.live import LiveError, read_snapshot

    target = None if output in (None, "-") else Path(output)
    if target is not None and target.is_dir():
        fail(f"{target} is a directory: give a file name")
    if target is not None and target.exists() and not force:
        fail(f"{target} exists: not overwritten (--force to replace it)")
    options = cluster_options_given()
    try:
        with progress_bar() as progress:
            snapshot = read_snapshot(options.source(), progress)
    except LiveError as e:
        fail(str(e))
    if snapshot.problems:
        from netpolicy.render.text import render_diagnostics

        render_diagnostics(err.console, [d for d in snapshot.problems if d.severity != "info"])
    yaml_out = target is not None and target.suffix.lower() in YAML_SUFFIXES
    chunks = yaml_chunks(snapshot) if yaml_out else json_chunks(snapshot)
    if target is None:
        write_chunks(chunks)
    else:
        _write_file(target, chunks)
        counts = ", ".join(f"{len(items)} {r.plural}" for r, items in snapshot.lists)
        err.print(f"wrote {target}: {snapshot.description}: {counts}")
    if snapshot.is_partial:
        mark_partial()


def _saved(item: dict[str, Any]) -> dict[str, Any]:
    meta = item.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        return {**item, "metadata": meta}
    return item


def json_chunks(snapshot: Snapshot) -> Iterator[str]:
    """One `kind: List`, compact, one object per line (as large inputs are best read)."""
    yield '{"apiVersion":"v1","kind":"List","metadata":{},"items":['
    separator = "\n"
    for item in snapshot.objects():
        yield separator + json.dumps(_saved(item), separators=(",", ":"), ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"


def yaml_chunks(snapshot: Snapshot) -> Iterator[str]:
    """One `kind: List` in block YAML."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    yield "apiVersion: v1\nkind: List\nmetadata: {}\n"
    empty = True
    for item in snapshot.objects():
        if empty:
            yield "items:\n"
            empty = False
        yield yaml.dump([_saved(item)], Dumper=dumper, sort_keys=False, default_flow_style=False)
    if empty:
        yield "items: []\n"


def _write_file(target: Path, chunks: Iterator[str]) -> None:
    """Write beside the target, then rename: a failed dump never leaves half a file."""
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as e:
        fail(f"cannot write {target}: {e.strerror or e}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            write_chunks(chunks, stream)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as e:
        fail(f"cannot write {target}: {e.strerror or e}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


__all__ = ["dump_command", "json_chunks", "yaml_chunks"]
