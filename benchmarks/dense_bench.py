"""Dense clusters end to end: `connlist -o json` and `connlist --grouped -o json` to a pipe.

    python benchmarks/dense_bench.py [--shapes dense-M,dense-L,ownerless] [--seed 1]
                                     [--data benchmarks/data] [--out benchmarks/results/dense.json]

Generates what is missing with `dense.py`, then runs each command once as its own process,
with stdout a pipe read here (bytes and lines counted, the document's last bytes checked, so
a cut output shows), and records wall time (process start to exit) and peak RSS (the child's
own `ru_maxrss`, from `os.wait4`). `ownerless` is listed with `--pods`, the others by
workload (the default above 1,000 pods). Nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dense  # noqa: E402

READ = 1 << 20
NEWLINE = ord("\n")


def measure(command: list[str]) -> dict[str, Any]:
    """Run `command` with stdout to a pipe; wall time, peak RSS, bytes, lines, the tail."""
    started, reader = time.perf_counter(), os.times()
    # stderr to a file: a pipe the parent does not read while it drains stdout would fill up
    # (hundreds of warnings) and stop the child
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, bufsize=0)
        assert process.stdout is not None
        size = lines = 0
        tail = b""
        # a reader as light as `wc -lc`: one buffer read into again and again, newlines
        # counted by NumPy (bytes.count would take a core of its own at 3 GB/s, and on two
        # cores the measurement would be of the reader)
        buffer = bytearray(READ)
        view, octets = memoryview(buffer), np.frombuffer(buffer, dtype=np.uint8)
        while got := process.stdout.readinto(view):
            size += got
            lines += int(np.count_nonzero(octets[:got] == NEWLINE))
            tail = (tail + bytes(view[max(0, got - 64) : got]))[-64:]
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read()
    return {
        "command": " ".join(command[2:]),
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "reader_cpu_s": round(sum(os.times()[:2]) - sum(reader[:2]), 1),
        "bytes": size,
        "lines": lines,
        "complete": tail.endswith(b"]}\n"),
        "warnings": stderr.count(b"warning:"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="dense-M,dense-L,ownerless")
    parser.add_argument("--views", default="list,grouped")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dense.json")
    args = parser.parse_args()
    results = []
    for shape in args.shapes.split(","):
        path = args.data / shape / "cluster.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w") as out:
                dense.write(dense.SHAPES[shape], args.seed, out)
        base = [sys.executable, "-m", "netpolicy", "connlist", str(path), "-o", "json"]
        extra = ["--pods"] if shape == "ownerless" else []
        views = {"list": [], "grouped": ["--grouped"]}
        for view in (views[v] for v in args.views.split(",")):
            result = measure(base + extra + view)
            result["shape"] = shape
            result["view"] = "grouped" if view else "list"
            results.append(result)
            print(json.dumps(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = Table(
        "shape",
        "view",
        "wall s",
        "CPU s (user+sys)",
        "peak RSS MB",
        "lines",
        "GB",
        "complete",
        "warnings",
    )
    for r in results:
        table.add_row(
            r["shape"],
            r["view"],
            f"{r['wall_s']:.1f}",
            f"{r['user_s']:.1f}+{r['sys_s']:.1f}",
            f"{r['peak_rss_mb']:,}",
            f"{r['lines']:,}",
            f"{r['bytes'] / 1e9:.2f}",
            "yes" if r["complete"] and r["exit"] == 0 else f"NO (exit {r['exit']})",
            str(r["warnings"]),
        )
    Console().print(table)
    return 0 if all(r["complete"] and r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
