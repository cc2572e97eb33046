"""`netpolicy generate INTENTS [--cluster PATH...] [-o DIR] [--ingress-only] [--no-dns]`:
NetworkPolicies for declared intents (or for intents learned from flows or from the current
policies), proved by the engine. The YAML goes to stdout (the summary to stderr), or one file
per namespace into DIR (the summary to stdout)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netpolicy import api
from netpolicy.cli._common import (
    cluster_options_given,
    err,
    fail,
    load_cluster,
    out,
    write_chunks,
)
from netpolicy.model import Cluster, Diagnostic

if TYPE_CHECKING:  # imported when the command runs: other commands need no PyYAML
    from netpolicy.generate.intents import Intents
    from netpolicy.generate.policies import Generated


def _show(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
    shown = [d for d in diagnostics if d.severity != "info"]
    if shown:
        from netpolicy.render.text import render_diagnostics

        render_diagnostics(err.console, shown)


def _stop_on_errors(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...], what: str) -> None:
    _show(diagnostics)
    errors = sum(d.severity == "error" for d in diagnostics)
    if errors:
        fail(f"{errors} error{'s' if errors != 1 else ''} in {what}: nothing generated")


def _live() -> bool:
    """Whether --kubeconfig or --context asks for a live cluster (generate's own --cluster
    takes manifests)."""
    return cluster_options_given().live


def _cluster(paths: list[str], purpose: str) -> Cluster:
    """The cluster's manifests (or the live cluster of --kubeconfig/--context); that they
    hold no NetworkPolicy is normal here (they are what generate writes), every other
    problem is shown."""
    if _live():
        if paths:
            fail(
                "give the cluster's manifests (--cluster PATH) or --kubeconfig/--context, not both"
            )
        data = load_cluster(cluster_options_given())
        paths = [data.description]
    else:
        data = api.load_input(paths, stdin=sys.stdin)
    _show([d for d in data.diagnostics if d.code != "no-policies"])
    if data.is_empty:
        fail(
            f"no readable input: nothing to {purpose} ({', '.join(paths)})"
            if data.has_errors
            else f"{', '.join(paths)}: no namespaces, pods or workloads"
        )
    return data.cluster


def _targets(directory: Path, generated: Generated) -> dict[Path, str]:
    """Each namespace's file; exit 2 before writing anything when one of them exists and was
    not written by netpolicy (never overwrite a person's file)."""
    if directory.exists() and not directory.is_dir():
        fail(f"-o {directory}: not a directory")
    files = {directory / f"{ns}.yaml": text for ns, text in sorted(generated.yaml.items())}
    theirs = [path for path in files if path.exists() and not _ours(path)]
    if theirs:
        names = ", ".join(str(p) for p in theirs)
        fail(
            f"{names} already exist{'s' if len(theirs) == 1 else ''} and "
            f"{'was' if len(theirs) == 1 else 'were'} not written by netpolicy generate: "
            "refusing to overwrite (move it away, or choose another -o DIR)"
        )
    return files


def _ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            from netpolicy.generate.policies import MARKER

            return f.readline().startswith(MARKER)
    except OSError:
        return False


def _write(files: dict[Path, str], directory: Path) -> list[str]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        done: list[str] = []
        for path, text in files.items():
            existed = path.exists()
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
            done.append(
                f"{path} ({'replaced its earlier generated version' if existed else 'new'})"
            )
    except OSError as e:
        fail(f"cannot write into {directory}: {e.strerror or e}")
    stale = sorted(p for p in directory.glob("*.yaml") if p not in files and _ours(p))
    for p in stale:
        err.print(
            f"note: {p} was generated before for a namespace these intents no longer govern; "
            "left as it is (remove it if it is stale)",
            style="yellow",
        )
    return done


def _learned(
    doc: dict[str, Any], diagnostics: list[Diagnostic], origin: str, save: str | None
) -> Intents:
    """Intents from a document another step made (flows, the current policies)."""
    _stop_on_errors(diagnostics, origin)
    if save is not None:
        from netpolicy.render.intents import render_intents

        target = Path(save)
        if target.exists():
            fail(f"--save-intents {save}: the file exists; refusing to overwrite it")
        try:
            target.write_text(render_intents(doc), encoding="utf-8")
        except OSError as e:
            fail(f"--save-intents {save}: {e.strerror or e}")
        err.print(f"wrote the intents to {save}", style="dim")
    from netpolicy.generate.intents import intents_from_document

    intents, problems = intents_from_document(doc, origin)
    _stop_on_errors(problems, f"the intents learned from {origin}")
    return intents


def generate_command(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[INTENTS]",
            help="The intent file (netpolicy/v1 Intents or Otterize ClientIntents; - for "
            "stdin). With --from-cluster: the cluster's manifests (PATH...).",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster",
            metavar="PATH",
            help="The cluster's manifests (files or directories; repeatable): the workloads "
            "the intents name, selected by their labels. Required for ns/name endpoints.",
        ),
    ] = None,
    output_dir: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output-dir",
            metavar="DIR",
            help="Write one file per namespace (DIR/NS.yaml) instead of stdout. A file "
            "netpolicy did not write is never overwritten.",
        ),
    ] = None,
    ingress_only: Annotated[
        bool,
        typer.Option(
            "--ingress-only",
            help="Only ingress: default deny ingress and the allows; no egress policy at all "
            "(egress stays open, DNS included).",
        ),
    ] = False,
    no_dns: Annotated[
        bool, typer.Option("--no-dns", help="No DNS egress (UDP/TCP 53 to kube-dns).")
    ] = False,
    tier: Annotated[
        str | None,
        typer.Option(
            "--tier",
            metavar="admin|baseline",
            help="Emit the guardrails as ClusterNetworkPolicies (v1alpha2): the intents as "
            "Admin-tier Accept rules, the default deny as Deny rules in that tier (baseline: "
            "NetworkPolicies may still open more; admin: nothing may). Ingress from outside "
            "the cluster stays a NetworkPolicy. The cluster-wide YAML goes to "
            "DIR/_cluster-wide.yaml.",
        ),
    ] = None,
    from_flows: Annotated[
        str | None,
        typer.Option(
            "--from-flows",
            metavar="FILE",
            help="Learn the intents from observed traffic: Hubble `observe -o json` lines or "
            "CSV src,dst,port,protocol (- for stdin). Needs --cluster.",
        ),
    ] = None,
    from_cluster: Annotated[
        bool,
        typer.Option(
            "--from-cluster",
            help="The intents the cluster's existing policies allow today (PATH... or --cluster).",
        ),
    ] = False,
    widen: Annotated[
        int | None,
        typer.Option(
            "--widen",
            metavar="N",
            help="With --from-flows: outside IPv4 addresses as /N networks instead of /32.",
        ),
    ] = None,
    save_intents: Annotated[
        str | None,
        typer.Option(
            "--save-intents",
            metavar="FILE",
            help="With --from-flows or --from-cluster: also write the learned intent file.",
        ),
    ] = None,
) -> None:
    """NetworkPolicies that allow exactly the intents, proved by the engine."""
    paths = list(args or [])
    cluster_paths = list(cluster or [])
    if from_flows is not None and from_cluster:
        fail("choose one of --from-flows and --from-cluster")
    if widen is not None and from_flows is None:
        fail("--widen goes with --from-flows")
    if save_intents is not None and from_flows is None and not from_cluster:
        fail("--save-intents goes with --from-flows or --from-cluster")
    if from_cluster:
        cluster_paths += paths
        if not cluster_paths and not _live():
            fail("--from-cluster needs the cluster's manifests: PATH... or --cluster PATH")
        the_cluster = _cluster(cluster_paths, "generate from")
        from netpolicy.generate.current import intents_from_cluster

        doc, found = intents_from_cluster(the_cluster)
        intents = _learned(doc, found, ", ".join(cluster_paths), save_intents)
    elif from_flows is not None:
        if paths:
            fail("--from-flows learns the intents: give no INTENTS file with it")
        if not cluster_paths and not _live():
            fail(
                "--from-flows needs the cluster snapshot (--cluster PATH) to map the flows' "
                "pods and addresses to workloads"
            )
        if from_flows == "-" and "-" in cluster_paths:
            fail("only one of --from-flows and --cluster can read stdin (-)")
        the_cluster = _cluster(cluster_paths, "generate for")
        from netpolicy.generate.observed import intents_from_flows

        doc, found = intents_from_flows(from_flows, the_cluster, widen)
        intents = _learned(doc, found, from_flows, save_intents)
    else:
        if len(paths) != 1:
            fail(
                "give one intent file (INTENTS), or --from-flows FILE, or --from-cluster"
                if not paths
                else f"one intent file expected, not {len(paths)} (the cluster goes after "
                "--cluster PATH)"
            )
        from netpolicy.generate.intents import load_intents

        source = paths[0]
        if source == "-":
            if "-" in cluster_paths:
                fail("only one of INTENTS and --cluster can read stdin (-)")
            intents, problems = load_intents(sys.stdin.read(), filename="<stdin>")
        else:
            if not Path(source).is_file():
                fail(f"{source}: no such intent file")
            intents, problems = load_intents(Path(source))
        _stop_on_errors(problems, source)
        if cluster_paths or _live():
            the_cluster = _cluster(cluster_paths, "generate for")
        else:
            named = sorted(
                {str(e) for i in intents.intents for e in (i.src, i.dst) if e.kind == "workload"}
            )
            if named:
                shown = ", ".join(named[:3]) + (
                    f" and {len(named) - 3} more" if len(named) > 3 else ""
                )
                fail(
                    f"the intents name workloads ({shown}): give the cluster's manifests with "
                    "--cluster PATH (files or directories, - for stdin) so that they are "
                    "selected by their labels"
                )
            the_cluster = Cluster()
    if tier is not None and tier not in ("admin", "baseline"):
        fail(f"--tier {tier}: one of admin, baseline")
    generated = api.generate(
        intents,
        the_cluster,
        ingress_only=ingress_only,
        dns=not no_dns,
        tier=tier,  # type: ignore[arg-type]
    )
    _stop_on_errors(list(generated.diagnostics), "generating the policies")
    from netpolicy.render.generate import render_generate_summary

    proof = generated.proof
    if proof is None or not proof.ok:
        err.print(render_generate_summary(generated), end="")
        fail("the proof failed: nothing written (please report this with the input)", 1)
    if output_dir is None:
        write_chunks([generated.text()])
        err.print(render_generate_summary(generated), end="", style="dim")
        return
    directory = Path(output_dir)
    files = _targets(directory, generated)
    written = _write(files, directory)
    out.print(render_generate_summary(generated, written), end="")


__all__ = ["generate_command"]
