"""The loader's entry points: manifests (files, directories, stdin, text) → `LoadResult`."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from netpolicy.model import Cluster, Diagnostic, SourceRef

from .cluster import ClusterBuilder
from .documents import parse
from .fields import Report
from .sources import STDIN, STDIN_NAME, read_inputs


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The loaded cluster and every diagnostic found on the way, in input order."""

    cluster: Cluster
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


def load_manifests(
    paths: Sequence[str | Path], *, stdin: TextIO | None = None, cluster_name: str = ""
) -> LoadResult:
    """Load manifest files, directories (recursively) and `-` (stdin); never raises on bad input."""
    report = Report()
    builder = ClusterBuilder(report)
    with gc_paused():
        for file, text in read_inputs(paths, stdin, report):
            _add_text(builder, text, file, report)
        cluster = builder.build(cluster_name)
        where = SourceRef(", ".join(STDIN_NAME if str(p) == STDIN else str(p) for p in paths))
        say_what_is_missing(cluster, report, where)
        return LoadResult(cluster, tuple(report.items))


def load_text(text: str, filename: str = "<input>", *, cluster_name: str = "") -> LoadResult:
    """Load manifests given as text (YAML or JSON); `filename` is used in locations."""
    report = Report()
    builder = ClusterBuilder(report)
    with gc_paused():
        _add_text(builder, text, filename, report)
        return LoadResult(builder.build(cluster_name), tuple(report.items))


def say_what_is_missing(cluster: Cluster, report: Report, where: SourceRef) -> None:
    """Warn, as netpol-analyzer does, when the input has no endpoints or no policies at all:
    an answer computed from half a cluster looks complete. Nothing is said when the input
    gave nothing readable (its errors say why)."""
    if report.errors and not (cluster.namespaces or cluster.pods or cluster.policies):
        return
    if not cluster.pods and not cluster.workloads:
        report.add(
            "warning",
            "no pods and no workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, "
            "ReplicationController, Job, CronJob) in the input: there is no connection to list",
            where,
            "no-workloads",
        )
    if not cluster.policies and not cluster.cluster_policies:
        report.add(
            "warning",
            "no NetworkPolicy in the input: no pod is isolated, every connection is allowed",
            where,
            "no-policies",
        )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while millions of acyclic objects are made.

    Each collection pass walks every live object; loading (and analysing) a large cluster
    makes so many that the passes alone more than double the time. Nothing made here forms
    reference cycles, and the GC runs again as soon as the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _add_text(builder: ClusterBuilder, text: str, file: str, report: Report) -> None:
    json_only = file.lower().endswith(".json")
    json_first = text.lstrip()[:1] in ("{", "[")
    for doc in parse(text, file, report, json_first=json_first, json_only=json_only):
        builder.add(doc)
