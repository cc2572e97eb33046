"""What the lab needs from the machine before it touches anything: root, `ip` and `nft`."""

from __future__ import annotations

import os
import shutil
import sys

from netpolicy.lab.errors import LabError

INSTALL_HINT = "apt-get install -y iproute2 nftables"


def check_prerequisites() -> list[str]:
    """Every problem that stops a lab from being built here, each a sentence with its fix."""
    problems: list[str] = []
    if not sys.platform.startswith("linux"):
        problems.append(f"the lab needs Linux network namespaces (this is {sys.platform})")
        return problems
    if os.geteuid() != 0:
        problems.append(
            "the lab must run as root: network namespaces need CAP_SYS_ADMIN and "
            "CAP_NET_ADMIN (try sudo)"
        )
    if shutil.which("ip") is None:
        problems.append(f"`ip` (iproute2) is not installed: {INSTALL_HINT}")
    if shutil.which("nft") is None:
        problems.append(f"`nft` (nftables) is not installed: {INSTALL_HINT}")
    return problems


def require_prerequisites() -> None:
    """Raise one `LabError` listing every problem `check_prerequisites` finds."""
    problems = check_prerequisites()
    if problems:
        raise LabError("cannot build the packet lab:\n" + "\n".join(f"  - {p}" for p in problems))
