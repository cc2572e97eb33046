"""The side-effecting half of enforcement: load, remove and read our table with `nft`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from netpolicy.enforce.nftables import DEFAULT_TABLE


class EnforceError(RuntimeError):
    """`nft` is missing, we lack privileges, or nft rejected the ruleset."""


def _nft(args: Sequence[str], stdin: str | None = None, netns: str | None = None) -> str:
    nft = shutil.which("nft")
    if nft is None:
        raise EnforceError("nft is not installed (apt-get install -y nftables)")
    argv = [nft, *args]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    run = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise EnforceError(f"nft {' '.join(args)}: {run.stderr.strip() or 'failed'}")
    return run.stdout


def apply_ruleset(text: str, table: str = DEFAULT_TABLE, netns: str | None = None) -> None:
    """Replace our table atomically: declaring then deleting it first makes `-f` one transaction."""
    _nft(["-f", "-"], f"table inet {table}\ndelete table inet {table}\n{text}", netns)


def delete_table(table: str = DEFAULT_TABLE, netns: str | None = None) -> bool:
    """Remove only our table; False when it was not there."""
    try:
        _nft(["list", "table", "inet", table], netns=netns)
    except EnforceError:
        return False
    _nft(["delete", "table", "inet", table], netns=netns)
    return True


@dataclass(frozen=True, slots=True)
class RuleStat:
    chain: str
    comment: str
    packets: int
    bytes: int


def rule_stats(table: str = DEFAULT_TABLE, netns: str | None = None) -> list[RuleStat]:
    """Counter values of every rule of our table that counts, with the policy rule each comes
    from (the dispatch rules, `jump` and `vmap`, have no counter and are left out)."""
    doc = json.loads(_nft(["-j", "list", "table", "inet", table], netns=netns))
    stats = []
    for item in doc.get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        counters = [expr["counter"] for expr in rule.get("expr", []) if "counter" in expr]
        if not counters:
            continue
        packets = counters[-1].get("packets", 0)
        byte_count = counters[-1].get("bytes", 0)
        stats.append(RuleStat(rule["chain"], rule.get("comment", ""), packets, byte_count))
    return stats
