"""`netpolicy lab verify` at scale: a generated cluster of N pods, verified end to end.

    sudo python benchmarks/lab_scale.py [--pods 1000] [--seed 1] [--out benchmarks/data]
                                        [--timeout 1.0] [--runs 1] [--ports declared|policy]

writes OUT/lab-<pods>/cluster.json (made by `generate.py` with a lab-sized budget: about 0.6
workloads and 0.5 policies per pod, a default-deny and a DNS allowance per namespace, then one
policy per workload; every pod declares one to three ports), runs

    python -m netpolicy lab verify OUT/lab-<pods>/cluster.json

and prints the wall time, the probe count, the phases the report names (analysis with the
engine, the expansion to expected verdicts and the cross-check; build with its namespaces,
links and pod workers; ruleset; probes; teardown), the peak RSS of the largest process of the
run (`wait4`) and how busy the machine was meanwhile (this one is shared: the CPU time of
other processes is shown beside ours). Results go to `results/lab_scale.json`. Needs root, `ip` and
`nft`; nothing here is a timed test (`tests/lab` verifies 100 pods end to end, marked slow).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _generator() -> ModuleType:
    module = sys.modules.get("netpolicy_bench_generate")
    if module is None:
        spec = importlib.util.spec_from_file_location(
            "netpolicy_bench_generate", HERE / "generate.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


def lab_size(pods: int) -> Any:
    """A `generate.Size` shaped for the lab: every pod its own probes, realistic policies."""
    generate = _generator()
    return generate.Size(
        pods=pods,
        policies=max(20, pods // 2),
        namespaces=max(4, pods // 60),
        workloads=max(8, int(pods * 0.6)),
        teams=4,
        yaml=False,
    )


def write_cluster(pods: int, seed: int, path: Path) -> dict[str, int]:
    """Write the cluster as one JSON `kind: List`; return its object counts."""
    generate = _generator()
    cluster = generate.make_cluster(lab_size(pods), seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = generate.JsonListWriter(path)
    counts: dict[str, int] = {}
    for obj in generate.iter_objects(cluster):
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
        writer.add(obj)
    writer.close()
    return counts


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


_TIME = re.compile(r"(?P<label>[a-z -]+?) (?P<seconds>[0-9.]+)s")


def parse_report(text: str) -> dict[str, Any]:
    """The probe count, verdict and phase times from `lab verify`'s text report."""
    found: dict[str, Any] = {}
    head = re.search(r"· (\d+) pods · (\d+) NetworkPolicies · (\d+) probes", text)
    if head:
        found["pods"], found["policies"], found["probes"] = (int(g) for g in head.groups())
    checked = re.search(r"Cross-checked (\d+) of the", text)
    if checked:
        found["cross_checked"] = int(checked.group(1))
    line = next((x for x in text.splitlines() if x.startswith("Time: ")), "")
    found["phases"] = {
        m.group("label").strip(" ·(,"): float(m.group("seconds")) for m in _TIME.finditer(line)
    }
    found["all_agree"] = "probes agree with the analysis." in text and "All " in text
    return found


def run(path: Path, timeout: float, ports: str) -> dict[str, Any]:
    """One `lab verify` of `path` in a child process: wall and CPU time, the report's numbers."""
    before_busy = _cpu_jiffies()[0]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "netpolicy", "lab", "verify", str(path)]
    with (
        tempfile.TemporaryFile("w+") as stdout,
        tempfile.TemporaryFile("w+") as stderr,
    ):
        child = subprocess.Popen(
            [*command, "--timeout", str(timeout), "--ports", ports],
            stdout=stdout,
            stderr=stderr,
            text=True,
            cwd=ROOT,
        )
        # wait4: the child's own peak RSS (its largest process: the lab or a pod worker)
        _, status, child_usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        done = subprocess.CompletedProcess(
            child.args, child.returncode, stdout.read(), stderr.read()
        )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_busy = _cpu_jiffies()[0]
    ours = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    tick = os.sysconf("SC_CLK_TCK")
    busy = (after_busy - before_busy) / tick
    result = {
        "returncode": done.returncode,
        "wall_s": round(wall, 2),
        "cpu_s_ours": round(ours, 1),
        "cpu_s_machine": round(busy, 1),
        "cpu_s_ours_user": round(child_usage.ru_utime, 1),
        "cpu_s_ours_system": round(child_usage.ru_stime, 1),
        "peak_rss_mb": round(child_usage.ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
        "loadavg_before": round(load, 2),
        **parse_report(done.stdout),
    }
    if done.returncode not in (0, 1):
        result["stderr"] = done.stderr[-2000:]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "data")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--ports", choices=["declared", "policy"], default="declared")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("lab_scale.py needs root (network namespaces), as `lab verify` does", file=sys.stderr)
        return 2
    path = args.out / f"lab-{args.pods}" / "cluster.json"
    counts = write_cluster(args.pods, args.seed, path)
    print(
        f"{path}: {counts.get('Pod', 0)} pods, {counts.get('NetworkPolicy', 0)} policies, "
        f"{counts.get('Namespace', 0)} namespaces"
    )
    results = []
    for number in range(args.runs):
        result = run(path, args.timeout, args.ports)
        results.append(result)
        phases = " · ".join(f"{k} {v:.1f}s" for k, v in result.get("phases", {}).items())
        print(
            f"run {number + 1}: exit {result['returncode']}, {result.get('probes', '?')} probes "
            f"({result.get('cross_checked', '?')} cross-checked) in {result['wall_s']:.1f} s "
            f"wall; {phases}"
        )
        print(
            f"  CPU: ours {result['cpu_s_ours']:.0f} s ({result['cpu_s_ours_user']:.0f} user, "
            f"{result['cpu_s_ours_system']:.0f} system), whole machine "
            f"{result['cpu_s_machine']:.0f} s of {result['cpus'] * result['wall_s']:.0f} s "
            f"available (load before {result['loadavg_before']}); peak RSS "
            f"{result['peak_rss_mb']:.0f} MB"
        )
        if "stderr" in result:
            print(result["stderr"], file=sys.stderr)
    out = HERE / "results" / "lab_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"pods": args.pods, "seed": args.seed, "runs": results}, indent=2) + "\n"
    )
    return 0 if all(r["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
