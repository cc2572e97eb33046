"""The library surface: everything a command does, callable from Python."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

# Only what `connlist` needs is imported here: every other analysis is imported by the
# function that runs it, so that each command starts with no more than it uses.
from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import Connection, ConnectionRows
from netpolicy.analysis.owners import split_owners
from netpolicy.load import LoadResult, gc_paused, load_manifests, load_text
from netpolicy.model import Cluster, Diagnostic, Protocol, Severity
from netpolicy.semantics import Decision, Evaluator, HostNetworkMode

if TYPE_CHECKING:
    from netpolicy.analysis.blast import BlastRadius, BlastRanking
    from netpolicy.analysis.coverage import Coverage
    from netpolicy.analysis.diff import ConnectivityDiff
    from netpolicy.analysis.exposure import Exposure
    from netpolicy.analysis.grouped import GroupedConnections
    from netpolicy.analysis.lint import LintReport
    from netpolicy.analysis.report import ReportData
    from netpolicy.analysis.summary import Summary
    from netpolicy.generate.intents import Intents
    from netpolicy.generate.policies import Generated
    from netpolicy.generate.suggest import Suggestion
    from netpolicy.load.config import LintConfigResult
    from netpolicy.load.live import LiveSource, Progress

_LAZY = {
    "BlastRadius": "netpolicy.analysis.blast",
    "BlastRanking": "netpolicy.analysis.blast",
    "Coverage": "netpolicy.analysis.coverage",
    "ConnectivityDiff": "netpolicy.analysis.diff",
    "Exposure": "netpolicy.analysis.exposure",
    "GroupedConnections": "netpolicy.analysis.grouped",
    "CHECK_IDS": "netpolicy.analysis.lint",
    "LintReport": "netpolicy.analysis.lint",
    "ReportData": "netpolicy.analysis.report",
    "Summary": "netpolicy.analysis.summary",
    "Suggestion": "netpolicy.generate.suggest",
    "LintConfig": "netpolicy.load.config",
    "LintConfigResult": "netpolicy.load.config",
    "LiveSource": "netpolicy.load.live",
    "Progress": "netpolicy.load.live",
}
"""Names this module has always offered that live in modules imported on first use."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEMO_NAME = "shop"


@dataclass(slots=True)
class Timings:
    """Seconds spent per phase, for `--profile`."""

    phases: dict[str, float] = field(default_factory=dict)

    def add(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - started
        return now


@dataclass(slots=True)
class Input:
    cluster: Cluster
    diagnostics: tuple[Diagnostic, ...]
    demo: bool
    description: str
    missing: tuple[str, ...] = ()
    """Kinds a live cluster would not let us read (403): the result is partial."""

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    @property
    def is_empty(self) -> bool:
        c = self.cluster
        return not (c.pods or c.policies or c.namespaces)


def load_demo() -> LoadResult:
    from importlib import resources

    text = resources.files("netpolicy.demo").joinpath("shop.yaml").read_text()
    return load_text(text, filename="demo/shop.yaml", cluster_name=DEMO_NAME)


def load_input(paths: Sequence[str | Path], stdin: TextIO | None = None) -> Input:
    """The manifests at `paths` (`-` is stdin), or the embedded demo when none are given."""
    if not paths:
        demo = load_demo()
        return Input(
            demo.cluster, demo.diagnostics, True, f'the embedded demo cluster "{DEMO_NAME}"'
        )
    result = load_manifests(list(paths), stdin=stdin)
    return Input(result.cluster, result.diagnostics, False, ", ".join(str(p) for p in paths))


def load_cluster(source: LiveSource | None = None, progress: Progress | None = None) -> Input:
    """A live cluster through the kubeconfig (default: its current context, every namespace),
    loaded as files are. Raises `LiveError` when nothing can be read; kinds the API server
    forbids are left out and named in `Input.missing`. See `netpolicy.load.live`."""
    from netpolicy.load.live import LiveSource, load_live

    result, snapshot = load_live(source or LiveSource(), progress)
    missing = tuple(r.kind for r in snapshot.missing)
    return Input(result.cluster, result.diagnostics, False, snapshot.description, missing)


def analyze(cluster: Cluster, host_network: HostNetworkMode = "node") -> Summary:
    from netpolicy.analysis.summary import summarize

    with gc_paused():
        return summarize(cluster, compute_connectivity(cluster, host_network=host_network))


def connectivity(cluster: Cluster, host_network: HostNetworkMode = "node") -> Connectivity:
    with gc_paused():
        return compute_connectivity(cluster, host_network=host_network)


def coverage(
    cluster: Cluster, host_network: HostNetworkMode = "node", *, timings: Timings | None = None
) -> Coverage:
    """The adoption dashboard: per namespace the workloads isolated for ingress, egress, both,
    neither and the adoption step reached; then the workloads to do next (reachable from every
    pod or from outside), most reachable first. See `netpolicy.analysis.coverage`."""
    from netpolicy.analysis.coverage import coverage as compute_coverage

    with gc_paused():
        result = compute_connectivity(cluster, host_network=host_network)
        started = time.perf_counter()
        found = compute_coverage(result)
        found.timings.update(result.timings)
        found.timings["coverage"] = time.perf_counter() - started
        if timings is not None:
            timings.phases.update(found.timings)
        return found


AUTO_WORKLOADS = 1000
"""Above this many pods, connlist aggregates pods to their workloads unless told otherwise."""


def prefers_workloads(cluster: Cluster) -> bool:
    """At scale, replicas are listed once per workload, never pod by pod."""
    return len(cluster.pods) > AUTO_WORKLOADS and any(
        p.owner is not None and not p.from_template for p in cluster.pods
    )


def connlist(
    cluster: Cluster,
    *,
    workloads: bool | None = None,
    focus: str | None = None,
    namespace: str | None = None,
    timings: Timings | None = None,
    host_network: HostNetworkMode = "node",
) -> list[Connection]:
    """Every allowed connection as a list (for answers that fit in memory)."""
    with gc_paused():
        rows = connection_rows(
            cluster,
            workloads=workloads,
            focus=focus,
            namespace=namespace,
            timings=timings,
            host_network=host_network,
        )
        return list(rows.connections())


def exposure(
    cluster: Cluster,
    *,
    focus: str | None = None,
    namespace: str | None = None,
    host_network: HostNetworkMode = "node",
    connectivity: Connectivity | None = None,
) -> Exposure:
    """What each workload is exposed to beyond the input (`connlist --exposure`): the entire
    cluster, pods of namespaces or pods matching a selector, outside ranges, and the
    workloads not protected in a direction. `connectivity`: the engine's result for `cluster`
    when already computed. See `netpolicy.analysis.exposure`."""
    from netpolicy.analysis.exposure import compute_exposure

    with gc_paused():
        result = connectivity or compute_connectivity(cluster, host_network=host_network)
        return compute_exposure(result, focus=focus, namespace=namespace)


def connection_rows(
    cluster: Cluster,
    *,
    workloads: bool | None = None,
    focus: str | None = None,
    namespace: str | None = None,
    timings: Timings | None = None,
    host_network: HostNetworkMode = "node",
) -> ConnectionRows:
    """Every allowed connection as rows made while they are read: for any size of answer."""
    result, listed, started = _endpoints(cluster, workloads, timings, host_network)
    rows = ConnectionRows(
        result, workloads=listed.workloads, focus=focus, namespace=namespace, split=listed.split
    )
    rows.warnings = listed.warnings
    if timings is not None:
        timings.add("endpoints", started)
    return rows


@dataclass(frozen=True, slots=True)
class _Listing:
    workloads: bool
    split: set[str]
    warnings: list[Diagnostic]


def _endpoints(
    cluster: Cluster,
    workloads: bool | None,
    timings: Timings | None,
    host_network: HostNetworkMode,
) -> tuple[Connectivity, _Listing, float]:
    """The engine's result and how endpoints are named: by workload (owners whose pods are
    treated differently pod by pod, with a warning each) or by pod."""
    started = time.perf_counter()
    result = compute_connectivity(cluster, host_network=host_network)
    if timings is not None:
        timings.phases.update(result.timings)
        started = time.perf_counter()
    if workloads is None:
        workloads = prefers_workloads(cluster)
    split, warnings = split_owners(result) if workloads else (set(), [])
    return result, _Listing(workloads, split, warnings), started


def grouped(
    cluster: Cluster,
    *,
    workloads: bool | None = None,
    timings: Timings | None = None,
    host_network: HostNetworkMode = "node",
) -> GroupedConnections:
    """The grouped view (`connlist --grouped`): connections between groups of endpoints that
    the policies treat alike; expanded, exactly the connection list."""
    from netpolicy.analysis.grouped import grouped_connections

    result, listed, started = _endpoints(cluster, workloads, timings, host_network)
    view = grouped_connections(result, workloads=listed.workloads, split=listed.split)
    view.warnings = listed.warnings
    if timings is not None:
        timings.add("groups", started)
    return view


@dataclass(frozen=True, slots=True)
class Explanation:
    src: str
    dst: str
    decision: Decision
    notes: tuple[str, ...] = ()


def explain(
    cluster: Cluster,
    src: str,
    dst: str,
    protocol: Protocol = "TCP",
    port: int | str | None = None,
    evaluator: Evaluator | None = None,
    host_network: HostNetworkMode = "node",
) -> Explanation:
    """The verdict for one connection (or, without a port, every port) with its reasons."""
    from netpolicy.analysis.endpoints import resolve

    evaluator = evaluator or Evaluator(cluster, host_network)
    a = resolve(cluster, evaluator, src)
    b = resolve(cluster, evaluator, dst)
    notes = tuple(n for n in (a.note, b.note) if n) + tuple(
        f"{r.name} uses the host network: "
        + (
            "treated as the node's traffic (selectors ignore it; --host-network pod to change)"
            if host_network == "node"
            else "policies apply to it as to any pod (--host-network pod)"
        )
        for r in (a, b)
        if r.pod is not None and r.pod.host_network
    )
    if port is None:
        decision = evaluator.decide_all(a.endpoint, b.endpoint)
    else:
        decision = evaluator.decide(a.endpoint, b.endpoint, protocol, port)
    return Explanation(a.name, b.name, decision, notes)


def lint(
    cluster: Cluster,
    *,
    disable: Sequence[str] = (),
    severity: dict[str, Severity] | None = None,
    host_network: HostNetworkMode = "node",
) -> LintReport:
    """The classic NetworkPolicy mistakes in `cluster`, each finding located and explained.

    `disable` leaves checks out; `severity` overrides a check's default severity. Unknown
    check IDs raise `KeyError`.
    """
    from netpolicy.analysis.lint import lint as run_lint

    with gc_paused():
        return run_lint(cluster, disable=disable, severity=severity, host_network=host_network)


def lint_config(path: str | Path | None = None) -> LintConfigResult:
    """The lint settings in `path`, else in `.netpolicy.yaml` of the current directory.

    Without `path` and without that file the config is empty. A missing `path` or any mistake
    in the file is a located error diagnostic of the result, never an exception.
    """
    from netpolicy.analysis.lint import CHECK_IDS
    from netpolicy.load.config import (
        LintConfig,
        LintConfigResult,
        find_lint_config,
        load_lint_config,
    )

    if path is None:
        path = find_lint_config()
        if path is None:
            return LintConfigResult(LintConfig())
    return load_lint_config(path, CHECK_IDS)


def diff(
    old: Cluster,
    new: Cluster,
    *,
    workloads: bool | None = None,
    host_network: HostNetworkMode = "node",
) -> ConnectivityDiff:
    """What changes from `old` to `new`: every pair of endpoints (named as connlist names
    them) whose allowed ports differ, as rows made while they are read; `.changes()` gives
    them as values and `.summary()` counts them and finds the newly isolated pods and the
    new exposure. Outside ranges are cut by the ipBlocks of both inputs. `workloads` None:
    per workload when either input is large (as connlist decides)."""
    from netpolicy.analysis.diff import connectivity_diff

    if workloads is None:
        workloads = prefers_workloads(old) or prefers_workloads(new)
    with gc_paused():
        return connectivity_diff(old, new, workloads=workloads, host_network=host_network)


class RevisionError(ValueError):
    """A git revision cannot be read: git missing, not a repository, unknown revision."""


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    import subprocess

    try:
        run = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    except OSError as e:
        raise RevisionError(f"cannot run git: {e.strerror or e}") from None
    if run.returncode != 0:
        lines = run.stderr.decode(errors="replace").strip().splitlines()
        raise RevisionError(lines[-1] if lines else f"git {args[0]} failed")
    return run.stdout


def load_revision(rev: str, paths: Sequence[str | Path], cwd: str | Path | None = None) -> Input:
    """The manifests at `paths` (relative to `cwd`) as they are at git revision `rev`, read
    with the git CLI and loaded exactly as the working tree would be. Locations read
    `REV:path:line`. A path absent at `rev` counts as empty (a warning says so); a bad
    revision or a path outside the repository raises `RevisionError`."""
    import shutil
    import tempfile

    from netpolicy.load import MANIFEST_SUFFIXES
    from netpolicy.model import SourceRef

    here = Path(cwd) if cwd is not None else Path.cwd()
    if rev.startswith("-"):
        raise RevisionError(f"{rev!r} is not a git revision")
    root = Path(_git(["rev-parse", "--show-toplevel"], here).decode().strip()).resolve()
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    except RevisionError:
        raise RevisionError(f"unknown git revision {rev!r}") from None
    notes: list[Diagnostic] = []
    wanted: list[tuple[str, list[tuple[str, str]]]] = []  # (path in repo, its blobs)
    for given in paths:
        target = (here / given).resolve()
        try:
            rel = target.relative_to(root).as_posix()
        except ValueError:
            raise RevisionError(f"{given}: outside the git repository {root}") from None
        listing = _git(["ls-tree", "-r", "-z", rev, "--", rel], root)
        blobs: list[tuple[str, str]] = []
        for entry in listing.split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.decode("utf-8", errors="surrogateescape").partition("\t")
            mode, kind, sha = meta.split()
            if kind != "blob" or mode not in ("100644", "100755"):
                continue  # links and submodules: not manifests of this revision
            if name == rel:  # the path is a file: read whatever its name
                blobs.append((name, sha))
                continue
            # a directory: its manifest files, hidden directories skipped (as on disk)
            if rel != "." and not name.startswith(rel + "/"):
                continue
            below = (name if rel == "." else name[len(rel) + 1 :]).split("/")
            hidden = any(part.startswith(".") for part in below[:-1])
            if not hidden and name.lower().endswith(MANIFEST_SUFFIXES):
                blobs.append((name, sha))
        if not listing:
            notes.append(
                Diagnostic(
                    "warning",
                    f"{given} does not exist at {rev}: counted as empty",
                    SourceRef(f"{rev}:{rel}"),
                    "missing-at-revision",
                )
            )
            continue
        wanted.append((rel, blobs))
    description = f"{rev}:" + ", ".join(str(p) for p in paths)
    if not wanted:
        return Input(Cluster(), tuple(notes), False, description)
    shas = [sha for _, blobs in wanted for _, sha in blobs]
    contents = _git(["cat-file", "--batch"], root, "".join(f"{s}\n" for s in shas).encode())
    texts: dict[str, bytes] = {}
    at = 0
    for sha in shas:
        header_end = contents.index(b"\n", at)
        size = int(contents[at:header_end].split()[2])
        texts[sha] = contents[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
    tmp = Path(tempfile.mkdtemp(prefix="netpolicy-rev-"))
    try:
        inputs: list[Path] = []
        for rel, blobs in wanted:
            inputs.append(tmp / rel)
            if not any(name == rel for name, _ in blobs):
                (tmp / rel).mkdir(parents=True, exist_ok=True)
            for name, sha in blobs:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(texts[sha])
        loaded = load_manifests(inputs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    prefix = str(tmp) + "/"

    def at_revision(d: Diagnostic) -> Diagnostic:
        file = d.source.file.replace(prefix, f"{rev}:").replace(str(tmp), f"{rev}:.")
        source = SourceRef(file, d.source.line, d.source.doc, d.source.path)
        return Diagnostic(d.severity, d.message.replace(prefix, f"{rev}:"), source, d.code)

    diagnostics = tuple(notes) + tuple(at_revision(d) for d in loaded.diagnostics)
    return Input(loaded.cluster, diagnostics, False, description)


def blast_radius(
    cluster: Cluster,
    source: str,
    *,
    workloads: bool | None = None,
    max_hops: int | None = None,
    host_network: HostNetworkMode = "node",
    timings: Timings | None = None,
) -> BlastRadius:
    """What a compromised `source` (`ns/name`: a pod, or a workload with all its pods)
    reaches, directly and transitively, nearest first, with one example path per target.
    Targets are named as connlist names them (`workloads`: None = as connlist decides).
    Raises EndpointError when `source` is no pod or workload of the input."""
    from netpolicy.analysis.blast import blast_radius as compute_blast
    from netpolicy.analysis.blast import source_pods

    with gc_paused():
        name, pods = source_pods(cluster, source)
        result = compute_connectivity(cluster, host_network=host_network)
        if workloads is None:
            workloads = prefers_workloads(cluster)
        started = time.perf_counter()
        found = compute_blast(result, name, pods, workloads=workloads, max_hops=max_hops)
        if timings is not None:
            timings.phases.update(result.timings)
            timings.add("blast", started)
        return found


def blast_ranking(
    cluster: Cluster, *, host_network: HostNetworkMode = "node", timings: Timings | None = None
) -> BlastRanking:
    """Every workload with how many other workloads reach it and how many it reaches,
    directly and transitively (`most_reachable()`, `widest_reach()` give the orders)."""
    from netpolicy.analysis.blast import blast_ranking as rank

    with gc_paused():
        result = compute_connectivity(cluster, host_network=host_network)
        started = time.perf_counter()
        found = rank(result)
        if timings is not None:
            timings.phases.update(result.timings)
            timings.add("ranking", started)
        return found


def suggest(
    cluster: Cluster,
    src: str,
    dst: str,
    protocol: Protocol,
    port: int | str,
    *,
    host_network: HostNetworkMode = "node",
    workloads: bool | None = None,
) -> Suggestion:
    """For a denied connection, the smallest change that allows it (a rule added to the
    isolating policy, or a new policy, per denying direction), verified by re-analysis, with
    every other connection it would open (`extra`; empty when the labels allow a precise
    selector, else `hints` names the label to add). See `netpolicy.generate.suggest`.
    Raises EndpointError when a name denotes nothing of the input."""
    from netpolicy.generate.suggest import suggest as make_suggestion

    if workloads is None:
        workloads = prefers_workloads(cluster)
    with gc_paused():
        return make_suggestion(
            cluster, src, dst, protocol, port, host_network=host_network, workloads=workloads
        )


def report(
    cluster: Cluster, *, description: str = "", host_network: HostNetworkMode = "node"
) -> ReportData:
    """The data of the HTML report (`netpolicy report`): workloads and outside ranges grouped
    as `grouped` groups them, the connections between groups, per-namespace-pair aggregates,
    the engine's rule table for explanations, exposure, lint and coverage, all from one run
    of the engine. `netpolicy.render.report.render_report` turns it into one HTML file."""
    from netpolicy.analysis.report import build_report

    with gc_paused():
        result = compute_connectivity(cluster, host_network=host_network)
        return build_report(cluster, result, description)


def generate(
    intents: Intents | Mapping[str, Any] | str | Path,
    cluster: Cluster,
    *,
    ingress_only: bool = False,
    dns: bool = True,
    tier: Literal["admin", "baseline"] | None = None,
) -> Generated:
    """The NetworkPolicies that allow exactly `intents` in `cluster` (default deny, DNS,
    one policy per destination and per source), their YAML per namespace, and the engine's
    proof (`Generated.proof`); with `tier`, the intents and the default deny as
    ClusterNetworkPolicies of that tier (`netpolicy.generate.tiers`). `intents`: an `Intents`
    value, an intents document (a dict in the intent file's shape), or an intent file's path
    or YAML text. Problems (a bad intent
    file, a workload whose labels cannot select it alone) are located error diagnostics of
    the result, and then nothing is generated. See `netpolicy.generate.policies`."""
    from netpolicy.generate.intents import Intents, intents_from_document, load_intents
    from netpolicy.generate.policies import Generated
    from netpolicy.generate.policies import generate_policies as _generate_policies

    problems: list[Diagnostic] = []
    if isinstance(intents, Intents):
        value = intents
    elif isinstance(intents, Mapping):
        value, problems = intents_from_document(intents)
    else:
        value, problems = load_intents(intents)
    if any(d.severity == "error" for d in problems):
        return Generated(value, ingress_only, dns, diagnostics=tuple(problems))
    with gc_paused():
        found = _generate_policies(value, cluster, ingress_only=ingress_only, dns=dns, tier=tier)
    found.diagnostics = tuple(problems) + found.diagnostics
    return found


generate_policies = generate
"""`netpolicy.generate_policies`: `generate` under a name the `netpolicy.generate` package
cannot shadow."""


def intents_from_flows(
    path: str | Path, cluster: Cluster, widen: int | None = None
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The intents document (the intent file's shape, each intent with `flows`: how many
    observed flow lines support it) learned from the flows at `path`: Hubble JSON lines or a
    CSV `src,dst,port,protocol`, mapped to the workloads of `cluster`; addresses of no pod
    become CIDRs (`/32`, or `/widen` for IPv4). Unreadable lines are located errors, the rest
    is still read. See `netpolicy.generate.observed`; `netpolicy.render.intents` writes it."""
    from netpolicy.generate.observed import intents_from_flows as learn

    with gc_paused():
        return learn(path, cluster, widen)


def intents_from_cluster(
    cluster: Cluster, host_network: HostNetworkMode = "node"
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The intents document of what the policies of `cluster` allow today, for the
    namespaces that have policies: generated again, it gives today's connections back.
    See `netpolicy.generate.current`."""
    from netpolicy.generate.current import intents_from_cluster as current

    with gc_paused():
        return current(cluster, host_network)
