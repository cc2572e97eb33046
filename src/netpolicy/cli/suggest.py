"""`explain --suggest`: the suggestion beside the explanation (text or JSON)."""

from __future__ import annotations

from netpolicy import api
from netpolicy.generate import Suggestion
from netpolicy.model import Cluster, Protocol
from netpolicy.semantics import HostNetworkMode


def suggestion_for(
    cluster: Cluster,
    explanation: api.Explanation,
    src: str,
    dst: str,
    protocol: Protocol,
    port: int | str,
    host_network: HostNetworkMode,
) -> Suggestion:
    """Nothing to change when explain found the connection allowed; else the smallest change.
    Names are resolved as explain resolved them (raises EndpointError like it)."""
    if explanation.decision.allowed:
        return Suggestion(
            explanation.src, explanation.dst, protocol, port, "allowed", "explain allows it"
        )
    return api.suggest(cluster, src, dst, protocol, port, host_network=host_network)


def suggestion_doc(suggestion: Suggestion) -> dict[str, object]:
    from netpolicy.render.suggest import suggestion_to_dict

    return suggestion_to_dict(suggestion)


def suggestion_text(suggestion: Suggestion) -> str:
    from netpolicy.render.suggest import render_suggestion_text

    return render_suggestion_text(suggestion)
