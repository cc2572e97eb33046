"""netpolicy: Kubernetes NetworkPolicy, exactly.

The public functions live in `netpolicy.api`; they are imported lazily here so that
`import netpolicy.semantics` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "analyze",
    "blast_radius",
    "blast_ranking",
    "connectivity",
    "connlist",
    "coverage",
    "diff",
    "explain",
    "exposure",
    "generate_policies",
    "grouped",
    "lint",
    "load_input",
    "report",
    "suggest",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from netpolicy import api

        return getattr(api, name)
    raise AttributeError(name)
