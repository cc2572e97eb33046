"""netpolicy: Kubernetes NetworkPolicy, exactly.

The public functions live in `netpolicy.api`; they are imported lazily here so that
`import netpolicy.semantics` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["analyze", "connectivity", "connlist", "coverage", "explain", "lint", "load_input"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from netpolicy import api

        return getattr(api, name)
    raise AttributeError(name)
