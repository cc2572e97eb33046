"""Blast radius and its ranking as text and JSON, in chunks (targets can be many).

`blast-radius SRC -o json`:

    {"apiVersion": "netpolicy/v1", "kind": "BlastRadius", "source": "x/a",
     "sourcePods": ["x/a"], "reached": 3, "direct": 1, "maxHops": 2, "outside": 1,
     "namespaces": [{"namespace": "y", "reached": 2}],
     "targets": [{"target": "y/b", "namespace": "y", "hops": 2,
                  "path": [{"endpoint": "y/c", "ports": [PORT...]},
                           {"endpoint": "y/b", "ports": [PORT...]}]}]}

`path` runs from the first endpoint after the source to the target; `ports` are what the
previous endpoint may open towards each (the output contract's port objects). An outside
range has `"namespace": null`. `blast-radius --top N -o json`:

    {"apiVersion": "netpolicy/v1", "kind": "BlastRadiusRanking", "workloads": 12,
     "mostReachable": [WORKLOAD...], "widestReach": [WORKLOAD...]}

with WORKLOAD = {"workload", "namespace", "pods", "reachedBy", "reachedByDirectly",
"fromOutside", "reaches", "reachesDirectly"}.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from netpolicy.analysis.blast import BlastRadius, BlastRanking, Target, WorkloadReach
from netpolicy.render import formats
from netpolicy.render.chunks import chunked

FORMATS = formats.BLAST
CHUNK = 1 << 20


def _target_json(t: Target) -> str:
    path = [{"endpoint": h.name, "ports": h.connections.to_contract()} for h in t.path]
    return json.dumps({"target": t.name, "namespace": t.namespace, "hops": t.hops, "path": path})


def _blast_json(result: BlastRadius) -> Iterator[str]:
    head = {
        "apiVersion": "netpolicy/v1",
        "kind": "BlastRadius",
        "source": result.source,
        "sourcePods": list(result.source_pods),
        "reached": len(result.targets),
        "direct": result.direct,
        "maxHops": result.max_hops,
        "outside": result.outside,
        "namespaces": [{"namespace": ns, "reached": k} for ns, k in result.per_namespace().items()],
    }
    yield json.dumps(head)[:-1] + ', "targets": [\n'
    for i, t in enumerate(result.targets):
        yield ("    " if i == 0 else ",\n    ") + _target_json(t)
    yield ("\n" if result.targets else "") + "]}\n"


def _path_text(t: Target) -> str:
    return " ".join(f"=> {h.name} ({h.connections.describe()})" for h in t.path)


def _blast_txt(result: BlastRadius) -> Iterator[str]:
    pods = len(result.source_pods)
    yield f"Blast radius of {result.source} ({pods} pod{'s' if pods != 1 else ''})\n"
    spaces = result.per_namespace()
    inside = len(result.targets) - result.outside
    if not result.targets:
        yield "  reaches nothing: every connection it could open is denied\n"
        return
    yield (
        f"  reaches {inside} endpoint{'s' if inside != 1 else ''} in {len(spaces)} "
        f"namespace{'s' if len(spaces) != 1 else ''} and {result.outside} outside "
        f"range{'s' if result.outside != 1 else ''}: {result.direct} directly, "
        f"at most {result.max_hops} hop{'s' if result.max_hops != 1 else ''}\n\n"
    )
    width = max([len("namespace"), len("(outside)"), *(len(ns) for ns in spaces)])
    yield f"  {'namespace':<{width}}  reached\n"
    for ns, k in spaces.items():
        yield f"  {ns:<{width}}  {k}\n"
    if result.outside:
        yield f"  {'(outside)':<{width}}  {result.outside}\n"
    shown = max(len("target"), *(len(t.name) for t in result.targets))
    yield f"\n  hops  {'target':<{shown}}  example path (ports opened at each step)\n"
    for t in result.targets:
        yield f"  {t.hops:<4}  {t.name:<{shown}}  {result.source} {_path_text(t)}\n"


def blast_chunks(result: BlastRadius, fmt: str) -> Iterator[str]:
    pieces = _blast_json(result) if fmt == "json" else _blast_txt(result)
    return chunked(pieces, CHUNK)


def _reach_dict(w: WorkloadReach) -> dict[str, object]:
    return {
        "workload": w.name,
        "namespace": w.namespace,
        "pods": w.pods,
        "reachedBy": w.reached_by,
        "reachedByDirectly": w.reached_by_directly,
        "fromOutside": w.from_outside,
        "reaches": w.reaches,
        "reachesDirectly": w.reaches_directly,
    }


def ranking_to_dict(ranking: BlastRanking, top: int | None) -> dict[str, object]:
    return {
        "apiVersion": "netpolicy/v1",
        "kind": "BlastRadiusRanking",
        "workloads": len(ranking.workloads),
        "mostReachable": [_reach_dict(w) for w in ranking.most_reachable(top)],
        "widestReach": [_reach_dict(w) for w in ranking.widest_reach(top)],
    }


def _ranking_txt(ranking: BlastRanking, top: int | None) -> Iterator[str]:
    total = len(ranking.workloads)
    yield f"{total} workload{'s' if total != 1 else ''}; counts are of other workloads\n\n"
    yield "Most reachable (a compromise anywhere among 'reached by' gets there)\n"
    yield "  reached by  directly  outside  workload\n"
    for w in ranking.most_reachable(top):
        outside = "yes" if w.from_outside else "-"
        yield f"  {w.reached_by:>10}  {w.reached_by_directly:>8}  {outside:>7}  {w.name}\n"
    yield "\nWidest reach (what a compromise of the workload reaches)\n"
    yield "     reaches  directly  workload\n"
    for w in ranking.widest_reach(top):
        yield f"  {w.reaches:>10}  {w.reaches_directly:>8}  {w.name}\n"


def ranking_chunks(ranking: BlastRanking, fmt: str, top: int | None) -> Iterator[str]:
    if fmt == "json":
        return iter([json.dumps(ranking_to_dict(ranking, top), indent=1) + "\n"])
    return chunked(_ranking_txt(ranking, top), CHUNK)
