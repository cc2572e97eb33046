"""NetworkPolicy manifests → `NetworkPolicy` values, validated as the API server would."""

from __future__ import annotations

from typing import Literal

from netpolicy.model import (
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyPort,
    PolicyType,
    Protocol,
    Requirement,
    Rule,
    labels_of,
)

from . import validate
from .fields import ObjectContext, Raw
from .pods import read_meta
from .positions import FieldPath

_SPEC_FIELDS = ("podSelector", "ingress", "egress", "policyTypes")
_PEER_FIELDS = ("podSelector", "namespaceSelector", "ipBlock")
_PORT_FIELDS = ("protocol", "port", "endPort")
_SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
_REQUIREMENT_FIELDS = ("key", "operator", "values")
_IP_BLOCK_FIELDS = ("cidr", "except")


def _report(ctx: ObjectContext, path: FieldPath, problems: list[validate.Problem]) -> None:
    for sub, message in problems:
        ctx.error((*path, *sub), message)


def convert_policy(ctx: ObjectContext, obj: Raw) -> NetworkPolicy | None:
    """A NetworkPolicy with its effective policyTypes; None (with errors) when invalid."""
    start = ctx.errors
    meta = read_meta(ctx, obj)
    if meta is not None:
        # The name decides nothing, so a bad one is not worth losing the policy over.
        for message in validate.dns1123_subdomain_errors(meta.name):
            ctx.warning(("metadata", "name"), validate.invalid(meta.name, message), "invalid-name")
    spec = ctx.mapping(obj.get("spec"), ("spec",)) or {}
    ctx.unknown_fields(spec, ("spec",), _SPEC_FIELDS)
    pod_selector = read_selector(ctx, spec.get("podSelector"), ("spec", "podSelector"))
    ingress = _rules(ctx, spec, "ingress", "from")
    egress = _rules(ctx, spec, "egress", "to")
    policy_types = _policy_types(ctx, spec, has_egress_rules=bool(egress))
    if meta is None or ctx.errors > start:
        return None
    return NetworkPolicy(
        meta.namespace,
        meta.name,
        pod_selector or LabelSelector(),
        ingress,
        egress,
        policy_types,
        ctx.ref(),
        tuple((name, ctx.ref(("spec", name))) for name in _SPEC_FIELDS if name in spec),
    )


def _policy_types(
    ctx: ObjectContext, spec: Raw, *, has_egress_rules: bool
) -> tuple[PolicyType, ...]:
    """The effective types: as written, else Ingress plus Egress iff there are egress rules."""
    path: FieldPath = ("spec", "policyTypes")
    written = ctx.strings(spec.get("policyTypes"), path)
    if not written:
        return ("Ingress", "Egress") if has_egress_rules else ("Ingress",)
    _report(ctx, path, validate.policy_types_errors(written))
    types: list[PolicyType] = []
    for i, name in enumerate(written):
        if name in types:
            ctx.warning((*path, i), f"duplicate policyType {name!r}", "duplicate-policy-type")
        elif name in validate.POLICY_TYPES:
            types.append(name)  # type: ignore[arg-type]
    return tuple(types)


def _rules(
    ctx: ObjectContext, spec: Raw, direction: Literal["ingress", "egress"], peers_key: str
) -> tuple[Rule, ...]:
    path: FieldPath = ("spec", direction)
    rules = ctx.sequence(spec.get(direction), path) or []
    return tuple(_rule(ctx, raw, (*path, i), peers_key) for i, raw in enumerate(rules))


def _rule(ctx: ObjectContext, raw: object, path: FieldPath, peers_key: str) -> Rule:
    # A null list element decodes to the zero value, i.e. `{}`: every peer, every port.
    rule = ctx.mapping(raw, path) or {}
    ctx.unknown_fields(rule, path, (peers_key, "ports"))
    peers = ctx.sequence(rule.get(peers_key), (*path, peers_key)) or []
    ports = ctx.sequence(rule.get("ports"), (*path, "ports")) or []
    return Rule(
        tuple(_peer(ctx, p, (*path, peers_key, i)) for i, p in enumerate(peers)),
        tuple(_port(ctx, p, (*path, "ports", i)) for i, p in enumerate(ports)),
        ctx.ref(path),
    )


def _peer(ctx: ObjectContext, raw: object, path: FieldPath) -> Peer:
    peer = ctx.mapping(raw, path) or {}
    ctx.unknown_fields(peer, path, _PEER_FIELDS)
    pod_selector = read_selector(ctx, peer.get("podSelector"), (*path, "podSelector"))
    namespace_selector = read_selector(
        ctx, peer.get("namespaceSelector"), (*path, "namespaceSelector")
    )
    ip_block = _ip_block(ctx, peer.get("ipBlock"), (*path, "ipBlock"))
    # Presence, not validity, decides which peer kinds were written.
    _report(
        ctx,
        path,
        validate.peer_errors(
            peer.get("podSelector") is not None,
            peer.get("namespaceSelector") is not None,
            peer.get("ipBlock") is not None,
        ),
    )
    return Peer(pod_selector, namespace_selector, ip_block, ctx.ref(path))


def _ip_block(ctx: ObjectContext, raw: object, path: FieldPath) -> IPBlock | None:
    block = ctx.mapping(raw, path)
    if block is None:
        return None
    ctx.unknown_fields(block, path, _IP_BLOCK_FIELDS)
    cidr = ctx.string(block.get("cidr"), (*path, "cidr")) or ""
    excepts = ctx.strings(block.get("except"), (*path, "except")) or []
    _report(ctx, path, validate.ip_block_errors(cidr, excepts))
    return IPBlock(cidr, tuple(excepts))


def _port(ctx: ObjectContext, raw: object, path: FieldPath) -> PolicyPort:
    port_spec = ctx.mapping(raw, path) or {}
    ctx.unknown_fields(port_spec, path, _PORT_FIELDS)
    protocol = ctx.string(port_spec.get("protocol"), (*path, "protocol"))
    port = port_spec.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int | str)):
        ctx.error((*path, "port"), f"must be an integer or a string, not {type(port).__name__}")
        port = None
    end_port = ctx.integer(port_spec.get("endPort"), (*path, "endPort"))
    _report(ctx, path, validate.policy_port_errors(protocol, port, end_port))
    proto: Protocol = protocol if protocol in validate.PROTOCOLS else "TCP"  # type: ignore[assignment]
    return PolicyPort(proto, port, end_port, ctx.ref(path))


def read_selector(ctx: ObjectContext, raw: object, path: FieldPath) -> LabelSelector | None:
    """A label selector; None when absent (null), which differs from `{}` (select all)."""
    selector = ctx.mapping(raw, path)
    if selector is None:
        return None
    ctx.unknown_fields(selector, path, _SELECTOR_FIELDS)
    labels_path = (*path, "matchLabels")
    labels = ctx.string_map(selector.get("matchLabels"), labels_path) or {}
    _report(ctx, labels_path, validate.labels_errors(labels))
    exprs_path = (*path, "matchExpressions")
    expressions = ctx.sequence(selector.get("matchExpressions"), exprs_path) or []
    requirements = []
    for i, raw_expr in enumerate(expressions):
        requirement = _requirement(ctx, raw_expr, (*exprs_path, i))
        if requirement is not None:
            requirements.append(requirement)
    return LabelSelector(labels_of(labels), tuple(requirements))


def _requirement(ctx: ObjectContext, raw: object, path: FieldPath) -> Requirement | None:
    expr = ctx.mapping(raw, path) or {}
    ctx.unknown_fields(expr, path, _REQUIREMENT_FIELDS)
    key = ctx.string(expr.get("key"), (*path, "key")) or ""
    operator = ctx.string(expr.get("operator"), (*path, "operator")) or ""
    values = ctx.strings(expr.get("values"), (*path, "values")) or []
    problems = validate.requirement_errors(key, operator, values)
    _report(ctx, path, problems)
    if problems:
        return None
    op: Operator = operator  # type: ignore[assignment]
    return Requirement(key, op, tuple(values))
