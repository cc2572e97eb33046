"""Load time of a cluster through a local API server against the same objects from a file.

    python benchmarks/live_bench.py [--snapshot FILE] [--repeat 3] [--page-size 500]
                                    [--out benchmarks/results/live.json]

Without --snapshot, dense-L (150,000 pods, 7,500 ReplicaSets and Deployments, 400 namespaces,
10,000 NetworkPolicies; `dense.py`) is generated into a temporary folder. The API server of
the tests (`tests/live/apiserver.py`: HTTPS with its own CA, a bearer token, typed Lists
without per-item kind, `limit`/`continue` pages with `remainingItemCount`) serves that file
from a separate process, so its own work does not take the client's core. Then, each in a
fresh interpreter and `--repeat` times, alternating (ABBA):

    file: netpolicy.api.load_input([FILE])                          (JSON, positions)
    live: netpolicy.api.load_cluster(LiveSource(KUBECONFIG, page_size=N))

timed inside the child from the call to the loaded cluster (interpreter start-up and imports
excluded, the kubernetes client's import included in `live`). Reported: the median of each,
the ratio live/file (the target is under 2), the median of the ratios within each round (less
exposed to a shared machine's noise), and what was loaded (both sides must agree).
Writes benchmarks/results/live.json (or --out). Exit 1 when a run fails
or the two loads disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVER = REPO / "tests" / "live" / "apiserver.py"

_CHILD = """
import json, sys, time
mode, target, page_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
from netpolicy import api
from netpolicy.load.live import LiveSource
started = time.perf_counter()
if mode == "file":
    data = api.load_input([target])
else:
    data = api.load_cluster(LiveSource(target, page_size=page_size))
elapsed = time.perf_counter() - started
c = data.cluster
print(json.dumps({"seconds": elapsed, "pods": len(c.pods), "workloads": len(c.workloads),
                  "policies": len(c.policies), "namespaces": len(c.namespaces),
                  "missing": list(data.missing)}))
"""


def _measure(mode: str, target: Path, page_size: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(target), str(page_size)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},  # this tree, installed or not
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} load failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _snapshot(given: Path | None, tmp: Path) -> Path:
    if given is not None:
        return given
    subprocess.run(
        [sys.executable, str(HERE / "dense.py"), "--shape", "dense-L", "--out", str(tmp)],
        check=True,
    )
    return tmp / "dense-L" / "cluster.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "live.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        snapshot = _snapshot(args.snapshot, tmp)
        kubeconfig = tmp / "kubeconfig"
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, str(SERVER), str(snapshot), "--kubeconfig", str(kubeconfig)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            ready = server.stdout.readline().strip()
            if not ready.startswith("ready "):
                sys.stderr.write(f"the API server did not start ({ready!r})\n")
                return 1
            sys.stderr.write(
                f"serving {snapshot} at {ready[6:]} (ready in "
                f"{time.perf_counter() - started:.1f}s)\n"
            )
            runs: dict[str, list[dict[str, Any]]] = {"file": [], "live": []}
            for i in range(args.repeat):
                order = ("file", "live") if i % 2 == 0 else ("live", "file")
                for mode in order:
                    target = snapshot if mode == "file" else kubeconfig
                    try:
                        runs[mode].append(_measure(mode, target, args.page_size))
                    except RuntimeError as e:
                        sys.stderr.write(f"{e}\n")
                        return 1
                    sys.stderr.write(f"  {mode}: {runs[mode][-1]['seconds']:.2f}s\n")
        finally:
            server.terminate()
            server.wait(timeout=30)
    counts = {k: v for k, v in runs["file"][0].items() if k not in ("seconds", "missing")}
    agree = all(
        {k: v for k, v in r.items() if k not in ("seconds", "missing")} == counts
        and not r["missing"]
        for r in runs["file"] + runs["live"]
    )
    file_s = statistics.median(r["seconds"] for r in runs["file"])
    live_s = statistics.median(r["seconds"] for r in runs["live"])
    pods = counts["pods"]
    # each round ran both back to back: their ratio is less exposed to a shared machine's noise
    paired = statistics.median(
        live["seconds"] / file["seconds"]
        for file, live in zip(runs["file"], runs["live"], strict=True)
    )
    result = {
        "snapshot": str(snapshot),
        "counts": counts,
        "page_size": args.page_size,
        "file_seconds": round(file_s, 3),
        "live_seconds": round(live_s, 3),
        "ratio": round(live_s / file_s, 3),
        "paired_ratio": round(paired, 3),
        "runs": runs,
        "agree": agree,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    print(
        f"{pods:,} pods, {counts['workloads']:,} workloads, {counts['policies']:,} policies, "
        f"{counts['namespaces']} namespaces; pages of {args.page_size}\n"
        f"  from the file      {file_s:6.2f} s\n"
        f"  through the server {live_s:6.2f} s\n"
        f"  ratio live/file    {live_s / file_s:6.2f}   (target: under 2)\n"
        f"  median of the ratios within each round {paired:.2f}"
        + ("" if agree else "\n  THE TWO LOADS DISAGREE")
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
