"""The proof is a real check: policies that allow more or less than the intents fail it."""

from __future__ import annotations

import dataclasses

from netpolicy import api
from netpolicy.generate.policies import Generated
from netpolicy.generate.proof import prove
from netpolicy.model import NetworkPolicy, PolicyPort, Rule

from .test_intents import ISSUE_EXAMPLE

DEMO = api.load_demo().cluster


def _tampered(change: str) -> Generated:
    g = api.generate(ISSUE_EXAMPLE, DEMO)
    assert g.proof.ok and g.cluster is not None
    policies: list[NetworkPolicy] = []
    for p in g.cluster.policies:
        if p.key == "shop/backend-ingress" and change == "wider port":
            (rule,) = p.ingress
            p = dataclasses.replace(
                p, ingress=(Rule(rule.peers, (PolicyPort("TCP", 8000, 8090),)),)
            )
        if p.key == "shop/backend-ingress" and change == "no rule":
            p = dataclasses.replace(p, ingress=())
        if p.key == "shop/frontend-egress" and change == "egress to all":
            p = dataclasses.replace(p, egress=(Rule(),))
        if p.key == "payments/default-deny" and change == "no default deny":
            continue
        policies.append(p)
    g.cluster = dataclasses.replace(g.cluster, policies=tuple(policies))
    return g


def _found(change: str) -> set[tuple[str, str, str]]:
    proof = prove(_tampered(change))
    assert not proof.ok
    return {(m.check, m.src, m.dst) for m in proof.mismatches}


def test_a_wider_port_fails_the_ingress_half_and_the_connections() -> None:
    found = _found("wider port")
    pair = ("shop/frontend[Deployment]", "shop/backend[Deployment]")
    assert ("ingress half", *pair) in found
    assert ("connections", *pair) not in found  # frontend's egress still allows 8080 only
    proof = prove(_tampered("wider port"))
    (m,) = [m for m in proof.mismatches if m.check == "ingress half"]
    assert (m.expected.describe(), m.actual.describe()) == ("TCP 8080", "TCP 8000-8090")


def test_a_missing_rule_fails() -> None:
    found = _found("no rule")
    pair = ("shop/frontend[Deployment]", "shop/backend[Deployment]")
    assert ("ingress half", *pair) in found and ("connections", *pair) in found


def test_an_open_egress_fails_the_egress_half() -> None:
    found = _found("egress to all")
    assert {check for check, _, _ in found} == {"egress half", "connections"}
    assert any(dst == "default/debug" for _, _, dst in found)


def test_a_missing_default_deny_fails() -> None:
    found = _found("no default deny")
    # payments-api has no intent: without the default deny anyone may connect to it
    assert any(dst.startswith("payments/payments-api") for _, _, dst in found)


def test_blocked_intents_are_named_not_failed() -> None:
    """An end in an ungoverned namespace keeps its own policies: the intent is listed as
    blocked there, and the generated half is still proved."""
    text = ISSUE_EXAMPLE.replace("namespaces: [shop, payments]", "namespaces: [shop]")
    g = api.generate(text, DEMO)
    assert g.proof.ok
    # payments keeps its db-ingress, which admits backend on postgres: not blocked
    assert g.proof.blocked == []
    # and with the demo's db-ingress narrowed to payments-api only, the intent is blocked
    narrowed = tuple(
        dataclasses.replace(p, ingress=(Rule(p.ingress[0].peers[1:], p.ingress[0].ports),))
        if p.key == "payments/db-ingress"
        else p
        for p in DEMO.policies
    )
    g = api.generate(text, dataclasses.replace(DEMO, policies=narrowed))
    assert g.proof.ok
    (blocked,) = g.proof.blocked
    assert blocked.intent.index == 2
    assert blocked.dst == "payments/db[StatefulSet]"
    assert "payments/db[StatefulSet]: in a namespace these intents do not govern" in blocked.reason
    from netpolicy.render.generate import render_generate_summary

    assert "blocked: intent #2 shop/backend[Deployment] => payments/db[StatefulSet] : TCP 5432" in (
        render_generate_summary(g)
    )
