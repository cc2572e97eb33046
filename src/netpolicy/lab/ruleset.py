"""The router's nftables ruleset: load one (as text), read it back with its counters."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

from netpolicy.lab._netns import flush_conntrack_here, run_in_netns
from netpolicy.lab.errors import LabError

if TYPE_CHECKING:
    from netpolicy.lab.topology import Lab


def _nft(lab: Lab, args: list[str], stdin: str | None = None) -> str:
    lab._require_up()
    done = subprocess.run(
        ["ip", "netns", "exec", lab.router_netns, "nft", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LabError(f"nft {' '.join(args)} failed in the lab router:\n{done.stderr.rstrip()}")
    return done.stdout


def apply_ruleset(lab: Lab, text: str, *, flush_conntrack: bool = True) -> None:
    """Load `text` with `nft -f -` in the router; forget old connections unless told not to.

    Flushing conntrack matters: a connection the previous ruleset let through would still
    be "established" and pass the new ruleset's `ct state established accept`.
    """
    _nft(lab, ["-f", "-"], text)
    if flush_conntrack:
        flush_router_conntrack(lab)


def clear_ruleset(lab: Lab) -> None:
    """Remove every table from the router (everything is forwarded again)."""
    _nft(lab, ["flush", "ruleset"])
    flush_router_conntrack(lab)


def flush_router_conntrack(lab: Lab) -> None:
    """Delete every connection-tracking entry in the router namespace."""
    lab._require_up()
    run_in_netns(lab.router_netns, flush_conntrack_here)


def ruleset_counters(lab: Lab) -> dict[str, Any]:
    """`nft -j list ruleset` in the router, parsed (rules carry their counters, if any)."""
    out = _nft(lab, ["-j", "list", "ruleset"])
    try:
        parsed: dict[str, Any] = json.loads(out) if out.strip() else {"nftables": []}
    except json.JSONDecodeError as exc:
        raise LabError(f"nft -j printed something that is not JSON: {exc}") from exc
    return parsed
