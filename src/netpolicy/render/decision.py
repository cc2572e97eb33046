"""A Decision as plain data (for `explain -o json`)."""

from __future__ import annotations

from collections.abc import Iterable

from netpolicy.semantics import Decision, Side


def _side(side: Side) -> dict[str, object]:
    out = _np_side(side)
    if side.chain:
        # cluster-wide policies decided: the tier chain, in evaluation order
        out["tiers"] = [
            {
                "tier": step.tier,
                "rule": step.rule,
                "action": step.action,
                "ports": step.connections.to_contract(),
                "source": str(step.source),
            }
            for step in side.chain
        ]
    return out


def _np_side(side: Side) -> dict[str, object]:
    return {
        "direction": side.direction,
        "applies": side.applies,
        "isolated": side.isolated,
        "policies": list(side.policies),
        "allowed": side.allowed.to_contract(),
        "allowedBy": [
            {
                "rule": m.rule_id,
                "policy": m.policy,
                "ruleIndex": m.rule_index,
                "peerIndex": m.peer_index,
                "ports": m.connections.to_contract(),
                "source": str(m.source),
            }
            for m in side.matches
        ],
        "closest": [
            {
                "rule": m.rule_id,
                "policy": m.policy,
                "ruleIndex": m.rule_index,
                "peerMatched": m.peer_matched,
                "portMatched": m.port_matched,
                "why": m.why,
                "source": str(m.source),
            }
            for m in side.misses
        ],
    }


def decision_to_dict(
    src: str, dst: str, decision: Decision, notes: Iterable[str]
) -> dict[str, object]:
    return {
        "apiVersion": "netpolicy/v1",
        "kind": "Explanation",
        "src": src,
        "dst": dst,
        "protocol": decision.protocol,
        "port": decision.port,
        "portNumber": decision.port_number,
        "allowed": decision.allowed,
        "selfTraffic": decision.self_traffic,
        "connections": decision.connections.to_contract(),
        "notes": [*notes, *decision.notes],
        "egress": _side(decision.egress),
        "ingress": _side(decision.ingress),
    }
