"""AdminNetworkPolicy, BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1) and
ClusterNetworkPolicy (v1alpha2) manifests → `ClusterPolicy` values, validated as their CRDs do.

The CRDs' OpenAPI rules (required fields, minimum/maximum, enums, "exactly one field must be
set", MinItems) and CEL rules (the BaselineAdminNetworkPolicy is named `default`; no named
port towards networks, nodes or domain names; CIDRs) become located errors: the object is
then left out, as the API server would refuse it. Experimental peers the analysis cannot decide
(`nodes` without Node objects, `domainNames`) are kept and reported with a warning.
"""

from __future__ import annotations

from typing import Literal

from netpolicy.model import (
    AdminAction,
    AdminPeer,
    AdminPort,
    AdminRule,
    ClusterPolicy,
    ClusterPolicyKind,
    LabelSelector,
    Pod,
    Protocol,
    Tier,
    Workload,
    priorities,
)

from . import validate
from .fields import ObjectContext, Raw, Report
from .policies import read_selector
from .positions import FieldPath

ADMIN_KINDS: tuple[ClusterPolicyKind, ...] = (
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",
)
ADMIN_GROUP = "policy.networking.k8s.io"
BASELINE_NAME = "default"

_V1ALPHA1_ACTIONS = {
    "AdminNetworkPolicy": ("Allow", "Deny", "Pass"),
    "BaselineAdminNetworkPolicy": ("Allow", "Deny"),
}
_V1ALPHA2_ACTIONS = ("Accept", "Deny", "Pass")
_TIERS = ("Admin", "Baseline")
_MAX_RULES = {"AdminNetworkPolicy": 100, "BaselineAdminNetworkPolicy": 100}
_CNP_MAX = 25
_MAX_NETWORKS = 25

Direction = Literal["ingress", "egress"]


def convert_cluster_policy(
    ctx: ObjectContext, obj: Raw, kind: ClusterPolicyKind
) -> ClusterPolicy | None:
    """One cluster-wide policy; None (with located errors) when its CRD would reject it."""
    start = ctx.errors
    v2 = kind == "ClusterNetworkPolicy"
    meta = ctx.mapping(obj.get("metadata"), ("metadata",)) or {}
    name = ctx.string(meta.get("name"), ("metadata", "name")) or ""
    if not name:
        ctx.error(("metadata", "name"), validate.required("name is required"))
    else:
        for message in validate.dns1123_subdomain_errors(name):
            ctx.warning(("metadata", "name"), validate.invalid(name, message), "invalid-name")
    if "namespace" in meta:
        ctx.warning(
            ("metadata", "namespace"),
            f"{kind} is cluster-scoped: metadata.namespace is ignored",
            "cluster-scoped",
        )
    if kind == "BaselineAdminNetworkPolicy" and name and name != BASELINE_NAME:
        # CRD: XValidation self.metadata.name == 'default'
        ctx.error(
            ("metadata", "name"),
            validate.invalid(
                name,
                "only one BaselineAdminNetworkPolicy, with metadata.name=default, can be "
                "created in the cluster",
            ),
        )
    spec = ctx.mapping(obj.get("spec"), ("spec",))
    if spec is None:
        ctx.error(("spec",), validate.required())
        return None
    known = ["subject", "ingress", "egress"]
    if kind != "BaselineAdminNetworkPolicy":
        known.append("priority")
    if v2:
        known.append("tier")
    ctx.unknown_fields(spec, ("spec",), known)
    tier: Tier = "Baseline" if kind == "BaselineAdminNetworkPolicy" else "Admin"
    if v2:
        tier = _tier(ctx, spec)
    priority = 0 if kind == "BaselineAdminNetworkPolicy" else _priority(ctx, spec)
    subject = _subject(ctx, spec.get("subject"), ("spec", "subject"), v2)
    ingress = _rules(ctx, spec, kind, "ingress")
    egress = _rules(ctx, spec, kind, "egress")
    if ctx.errors > start or subject is None:
        return None
    namespaces, pods = subject
    return ClusterPolicy(
        kind,
        name,
        tier,
        priority,
        namespaces,
        pods,
        ingress,
        egress,
        ctx.ref(),
        ctx.ref(("spec", "priority")) if "priority" in spec else ctx.ref(),
    )


def _tier(ctx: ObjectContext, spec: Raw) -> Tier:
    path: FieldPath = ("spec", "tier")
    tier = ctx.string(spec.get("tier"), path)
    if tier is None:
        ctx.error(path, validate.required())
        return "Admin"
    if tier not in _TIERS:
        ctx.error(path, validate.unsupported(tier, _TIERS))
        return "Admin"
    return tier  # type: ignore[return-value]


def _priority(ctx: ObjectContext, spec: Raw) -> int:
    path: FieldPath = ("spec", "priority")
    if "priority" not in spec:
        ctx.error(path, validate.required())
        return 0
    priority = ctx.integer(spec.get("priority"), path)
    if priority is None:
        return 0
    if not 0 <= priority <= 1000:
        # "Priority is a value from 0 to 1000" (Minimum=0, Maximum=1000)
        ctx.error(path, validate.invalid(priority, "must be between 0 and 1000, inclusive"))
    return priority


def _exactly_one(ctx: ObjectContext, raw: Raw, path: FieldPath, what: str) -> bool:
    """MinProperties=1, MaxProperties=1: exactly one field must be set."""
    if len(raw) != 1:
        ctx.error(
            path,
            f"Invalid value: exactly one field must be set in {what} "
            f"(found {len(raw)}: {', '.join(map(str, raw)) or 'none'})",
        )
        return False
    return True


def _subject(
    ctx: ObjectContext, raw: object, path: FieldPath, v2: bool
) -> tuple[LabelSelector, LabelSelector | None] | None:
    subject = ctx.mapping(raw, path)
    if subject is None:
        ctx.error(path, validate.required())
        return None
    ctx.unknown_fields(subject, path, ("namespaces", "pods"))
    if not _exactly_one(ctx, subject, path, "a subject"):
        return None
    if "namespaces" in subject:
        selector = read_selector(ctx, subject["namespaces"], (*path, "namespaces"))
        if selector is None:
            ctx.error((*path, "namespaces"), validate.required())
            return None
        return selector, None
    if "pods" not in subject:
        return None
    pods = _namespaced_pod(ctx, subject["pods"], (*path, "pods"), v2)
    return pods


def _namespaced_pod(
    ctx: ObjectContext, raw: object, path: FieldPath, v2: bool
) -> tuple[LabelSelector, LabelSelector] | None:
    pods = ctx.mapping(raw, path)
    if pods is None:
        ctx.error(path, validate.required())
        return None
    ctx.unknown_fields(pods, path, ("namespaceSelector", "podSelector"))
    namespaces = read_selector(ctx, pods.get("namespaceSelector"), (*path, "namespaceSelector"))
    selector = read_selector(ctx, pods.get("podSelector"), (*path, "podSelector"))
    missing = [
        name
        for name, value in (("namespaceSelector", namespaces), ("podSelector", selector))
        if value is None and (name == "podSelector" or not v2)
    ]
    if missing:
        # The CRD requires them (v1alpha2 makes namespaceSelector optional); manifests copied
        # from the API's own examples leave them out, and Go reads the zero value `{}`.
        ctx.warning(
            (*path, missing[0]),
            f"Required value: {' and '.join(missing)} (the CRD requires "
            f"{'them' if len(missing) > 1 else 'it'}; an API server would reject this object); "
            "analyzed as {} (every namespace / every pod), as Go's zero value reads",
            "crd-required",
        )
    return namespaces or LabelSelector(), selector or LabelSelector()


def _rules(
    ctx: ObjectContext, spec: Raw, kind: ClusterPolicyKind, direction: Direction
) -> tuple[AdminRule, ...]:
    path: FieldPath = ("spec", direction)
    rules = ctx.sequence(spec.get(direction), path) or []
    limit = _MAX_RULES.get(kind, _CNP_MAX)
    if len(rules) > limit:
        ctx.error(path, f"Too many: {len(rules)}: must have at most {limit} items")
    out = []
    for i, raw in enumerate(rules):
        rule = _rule(ctx, raw, (*path, i), kind, direction)
        if rule is not None:
            out.append(rule)
    return tuple(out)


def _rule(
    ctx: ObjectContext, raw: object, path: FieldPath, kind: ClusterPolicyKind, direction: Direction
) -> AdminRule | None:
    v2 = kind == "ClusterNetworkPolicy"
    rule = ctx.mapping(raw, path)
    if rule is None:
        ctx.error(path, validate.required("a rule must be a mapping with action and peers"))
        return None
    peers_key = "from" if direction == "ingress" else "to"
    ports_key = "protocols" if v2 else "ports"
    ctx.unknown_fields(rule, path, ("name", "action", peers_key, ports_key))
    name = ctx.string(rule.get("name"), (*path, "name")) or ""
    if len(name) > 100:
        ctx.error((*path, "name"), f"Too long: may not be more than 100 bytes (got {len(name)})")
    action = _action(ctx, rule, path, kind)
    limit = _MAX_RULES.get(kind, _CNP_MAX)
    peers_path = (*path, peers_key)
    raw_peers = ctx.sequence(rule.get(peers_key), peers_path)
    if not raw_peers:
        # "This field must be defined and contain at least one item" (MinItems=1)
        ctx.error(
            peers_path,
            validate.required(f"{peers_key} field must be defined and contain at least one item"),
        )
        raw_peers = []
    elif len(raw_peers) > limit:
        ctx.error(peers_path, f"Too many: {len(raw_peers)}: must have at most {limit} items")
    peers = tuple(
        p
        for p in (
            _peer(ctx, item, (*peers_path, i), direction, v2) for i, item in enumerate(raw_peers)
        )
        if p is not None
    )
    ports_path = (*path, ports_key)
    ports: tuple[AdminPort, ...] = ()
    if ports_key in rule:
        raw_ports = ctx.sequence(rule.get(ports_key), ports_path)
        if raw_ports is not None and not raw_ports:
            ctx.error(ports_path, "Invalid value: must have at least 1 items (or be left out)")
        elif raw_ports is not None and len(raw_ports) > limit:
            ctx.error(ports_path, f"Too many: {len(raw_ports)}: must have at most {limit} items")
        read = _protocol_entry if v2 else _port_entry
        ports = tuple(
            p
            for p in (read(ctx, item, (*ports_path, i)) for i, item in enumerate(raw_ports or []))
            if p is not None
        )
    if any(isinstance(p.port, str) for p in ports):
        for i, peer in enumerate(peers):
            if peer.kind in ("networks", "nodes", "domainNames"):
                # CRD: "networks/nodes/domainNames peer cannot be set with namedPorts since
                # there are no namedPorts for networks/nodes/domainNames"
                ctx.error(
                    (*peers_path, i),
                    f"Invalid value: a {peer.kind} peer cannot be set with named ports: "
                    f"there are no named ports for networks/nodes/domainNames",
                )
    if action in {"Deny", "Pass"}:
        for i, peer in enumerate(peers):
            if peer.kind == "domainNames":
                # "DomainNames is only supported for Allow/Accept rules"
                ctx.error(
                    (*peers_path, i, "domainNames"),
                    f"Forbidden: domainNames peers are only supported in "
                    f"{'Accept' if v2 else 'Allow'} rules",
                )
    label = name or f"#{int(path[-1]) + 1}"
    for i, peer in enumerate(peers):
        _say_undecidable(ctx, peer, (*peers_path, i), label)
    return AdminRule(action, peers, ports, name, ctx.ref(path))


def _say_undecidable(ctx: ObjectContext, peer: AdminPeer, path: FieldPath, rule: str) -> None:
    """Experimental peers that the input cannot decide: said, never guessed."""
    if peer.kind == "nodes":
        ctx.warning(
            (*path, "nodes"),
            f"rule {rule}: a nodes peer matches the IPs of the selected Nodes, and the input has "
            "no Node objects: the analysis takes it to match no address, so the verdicts of this "
            "rule's subjects towards outside addresses (node IPs) and host-network pods are open",
            "undecidable-peer",
        )
    elif peer.kind == "domainNames":
        ctx.warning(
            (*path, "domainNames"),
            f"rule {rule}: domainNames peers ({', '.join(peer.domain_names)}) match addresses "
            "resolved by DNS at run time: the analysis takes them to match no address, so the "
            "verdicts of this rule's subjects towards outside addresses are open",
            "undecidable-peer",
        )


def _action(ctx: ObjectContext, rule: Raw, path: FieldPath, kind: ClusterPolicyKind) -> AdminAction:
    allowed = _V1ALPHA2_ACTIONS if kind == "ClusterNetworkPolicy" else _V1ALPHA1_ACTIONS[kind]
    action = ctx.string(rule.get("action"), (*path, "action"))
    if action is None:
        ctx.error((*path, "action"), validate.required())
        return "Deny"
    if action not in allowed:
        ctx.error((*path, "action"), validate.unsupported(action, allowed))
        return "Deny"
    return action  # type: ignore[return-value]


_INGRESS_PEERS = ("namespaces", "pods")
_EGRESS_PEERS = ("namespaces", "pods", "nodes", "networks", "domainNames")


def _peer(
    ctx: ObjectContext, raw: object, path: FieldPath, direction: Direction, v2: bool
) -> AdminPeer | None:
    peer = ctx.mapping(raw, path)
    if peer is None:
        ctx.error(path, "Invalid value: exactly one field must be set in a rule peer (found none)")
        return None
    known = _INGRESS_PEERS if direction == "ingress" else _EGRESS_PEERS
    for key in peer:
        if key not in known:
            ctx.error(
                (*path, key),
                f"Invalid value: {key!r} is not a {direction} peer field "
                f"(one of {', '.join(known)})",
            )
    if not _exactly_one(ctx, peer, path, "a rule peer"):
        return None
    key = next(iter(peer))
    where = (*path, key)
    if key == "namespaces":
        selector = read_selector(ctx, peer[key], where)
        if selector is None:
            ctx.error(where, validate.required())
            return None
        return AdminPeer(selector, None, source=ctx.ref(path))
    if key == "pods":
        pods = _namespaced_pod(ctx, peer[key], where, v2)
        if pods is None:
            return None
        return AdminPeer(pods[0], pods[1], source=ctx.ref(path))
    if key == "nodes":
        selector = read_selector(ctx, peer[key], where)
        if selector is None:
            ctx.error(where, validate.required())
            return None
        return AdminPeer(nodes=selector, source=ctx.ref(path))
    if key == "networks":
        return _networks(ctx, peer[key], where, path)
    if key == "domainNames":
        names = ctx.strings(peer[key], where) or []
        if not names:
            ctx.error(where, "Invalid value: must have at least 1 items")
            return None
        return AdminPeer(domain_names=tuple(names), source=ctx.ref(path))
    return None


def _networks(
    ctx: ObjectContext, raw: object, where: FieldPath, path: FieldPath
) -> AdminPeer | None:
    cidrs = ctx.strings(raw, where) or []
    if not cidrs:
        ctx.error(where, "Invalid value: must have at least 1 items")
        return None
    if len(cidrs) > _MAX_NETWORKS:
        ctx.error(where, f"Too many: {len(cidrs)}: must have at most {_MAX_NETWORKS} items")
    if len(set(cidrs)) != len(cidrs):
        ctx.error(where, "Duplicate value: networks is a set (listType=set)")
    for i, text in enumerate(cidrs):
        if len(text) > 43 or validate.parse_cidr(text) is None:
            # CRD: isCIDR(self), MaxLength=43
            ctx.error(
                (*where, i),
                validate.invalid(text, "invalid CIDR address: " + validate.CIDR_MESSAGE),
            )
        elif ("." in text) == (":" in text):
            ctx.error(
                (*where, i),
                validate.invalid(
                    text,
                    "CIDR must be either an IPv4 or IPv6 address. IPv4 address embedded in "
                    "IPv6 addresses are not supported",
                ),
            )
    return AdminPeer(networks=tuple(cidrs), source=ctx.ref(path))


def _port_number(ctx: ObjectContext, value: object, path: FieldPath) -> int | None:
    if value is None:
        ctx.error(path, validate.required())
        return None
    number = ctx.integer(value, path)
    if number is not None:
        for message in validate.port_number_errors(number):
            ctx.error(path, validate.invalid(number, message))
    return number


def _protocol(ctx: ObjectContext, raw: Raw, path: FieldPath) -> Protocol:
    # "If not specified, this field defaults to TCP"
    protocol = ctx.string(raw.get("protocol"), (*path, "protocol")) or "TCP"
    if protocol not in validate.PROTOCOLS:
        ctx.error((*path, "protocol"), validate.unsupported(protocol, validate.PROTOCOLS))
        return "TCP"
    return protocol  # type: ignore[return-value]


def _port_entry(ctx: ObjectContext, raw: object, path: FieldPath) -> AdminPort | None:
    """v1alpha1 AdminNetworkPolicyPort: exactly one of portNumber, namedPort, portRange."""
    entry = ctx.mapping(raw, path)
    if entry is None:
        ctx.error(path, "Invalid value: exactly one field must be set in an AdminNetworkPolicyPort")
        return None
    ctx.unknown_fields(entry, path, ("portNumber", "namedPort", "portRange"))
    if not _exactly_one(ctx, entry, path, "an AdminNetworkPolicyPort"):
        return None
    if "portNumber" in entry:
        where = (*path, "portNumber")
        number = ctx.mapping(entry["portNumber"], where) or {}
        ctx.unknown_fields(number, where, ("protocol", "port"))
        protocol = _protocol(ctx, number, where)
        port = _port_number(ctx, number.get("port"), (*where, "port"))
        return AdminPort(protocol, port or 0, None, ctx.ref(where))
    if "namedPort" in entry:
        return _named(ctx, entry["namedPort"], (*path, "namedPort"))
    if "portRange" in entry:
        where = (*path, "portRange")
        span = ctx.mapping(entry["portRange"], where) or {}
        ctx.unknown_fields(span, where, ("protocol", "start", "end"))
        protocol = _protocol(ctx, span, where)
        return _range(ctx, span, where, protocol, strict=False)
    return None


def _range(
    ctx: ObjectContext, span: Raw, where: FieldPath, protocol: Protocol, *, strict: bool
) -> AdminPort | None:
    start = _port_number(ctx, span.get("start"), (*where, "start"))
    end = _port_number(ctx, span.get("end"), (*where, "end"))
    if start is None or end is None:
        return None
    if end < start or (strict and end == start):
        # "the Start value must be less than End" (v1alpha2: CEL self.start < self.end)
        ctx.error(
            where,
            f"Invalid value: port range {start}-{end}: start must be less than "
            f"{'' if strict else 'or equal to '}end",
        )
        return None
    return AdminPort(protocol, start, end, ctx.ref(where))


def _named(ctx: ObjectContext, raw: object, where: FieldPath) -> AdminPort | None:
    name = ctx.string(raw, where)
    if not name:
        ctx.error(where, validate.required("a port name"))
        return None
    return AdminPort(None, name, None, ctx.ref(where))


def _protocol_entry(ctx: ObjectContext, raw: object, path: FieldPath) -> AdminPort | None:
    """v1alpha2 ClusterNetworkPolicyProtocol: exactly one of tcp, udp, sctp,
    destinationNamedPort; a transport has a destinationPort with a number or a range."""
    entry = ctx.mapping(raw, path)
    if entry is None:
        ctx.error(path, "Invalid value: exactly one field must be set in a protocol")
        return None
    ctx.unknown_fields(entry, path, ("tcp", "udp", "sctp", "destinationNamedPort"))
    if not _exactly_one(ctx, entry, path, "a protocol"):
        return None
    if "destinationNamedPort" in entry:
        return _named(ctx, entry["destinationNamedPort"], (*path, "destinationNamedPort"))
    key = next(iter(entry))
    if key not in ("tcp", "udp", "sctp"):
        return None
    protocol: Protocol = key.upper()  # type: ignore[assignment]
    where = (*path, key)
    transport = ctx.mapping(entry[key], where) or {}
    ctx.unknown_fields(transport, where, ("destinationPort",))
    port_path = (*where, "destinationPort")
    port = ctx.mapping(transport.get("destinationPort"), port_path)
    if port is None:
        # MinProperties=1 on the transport: destinationPort must be given
        ctx.error(port_path, validate.required())
        return None
    ctx.unknown_fields(port, port_path, ("number", "range"))
    if not _exactly_one(ctx, port, port_path, "a destinationPort"):
        return None
    if "number" in port:
        number = _port_number(ctx, port["number"], (*port_path, "number"))
        return None if number is None else AdminPort(protocol, number, None, ctx.ref(port_path))
    span_path = (*port_path, "range")
    span = ctx.mapping(port.get("range"), span_path) or {}
    ctx.unknown_fields(span, span_path, ("start", "end"))
    return _range(ctx, span, span_path, protocol, strict=True)


def warn_same_priority(policies: list[ClusterPolicy], report: Report) -> None:
    """Warn, with both locations, about two policies of one tier with one priority that can
    select the same pods in a direction both have rules for: "the implementation can apply any
    of the matching policies to the connection" (the API leaves the order undefined). The
    decision is `priorities.same_priority_overlaps`, which lint's `same-priority-overlap`
    shares."""
    for pair in priorities.same_priority_overlaps(policies):
        first, later = pair.first, pair.later
        report.add(
            "warning",
            f"{later.key} and {first.key} (at {first.source}) have the same priority "
            f"{later.priority} in the {later.tier} tier and can select the same pods for "
            f"{' and '.join(pair.directions)}: which applies first is undefined by the API",
            later.priority_source,
            "same-priority-overlap",
        )


def warn_what_the_input_leaves_open(
    policies: list[ClusterPolicy],
    pods: tuple[Pod, ...],
    workloads: list[Workload],
    report: Report,
) -> None:
    """Warn where the input cannot decide what a cluster-wide rule matches: a named port that
    no container of the input declares, and `networks` peers while some pods have no IP (the
    rule matches pod IPs too, "so if you Deny traffic to 0.0.0.0/0, that will deny all IPv4
    pod-to-pod traffic as well", and a pod without a known IP is taken to be in no network)."""
    if not policies:
        return
    names = {p.name for pod in pods for p in pod.ports if p.name}
    names |= {p.name for w in workloads for p in w.ports if p.name}
    without_ip = sum(1 for pod in pods if not pod.ip)
    for policy in policies:
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(getattr(policy, direction)):
                label = f"{policy.key} {direction} rule #{i + 1}"
                for port in rule.ports:
                    if isinstance(port.port, str) and port.port not in names:
                        report.add(
                            "warning",
                            f"{label}: named port {port.port!r} is declared by no container port "
                            "of the input's pods and workloads: the rule matches no port",
                            port.source,
                            "named-port-unmatched",
                        )
                for peer in rule.peers:
                    if peer.networks and without_ip:
                        report.add(
                            "warning",
                            f"{label}: networks {', '.join(peer.networks)} match pod IPs too, "
                            f"and {without_ip} pod(s) of the input have no IP: "
                            "the analysis takes them to be in no network, so whether this rule "
                            "matches them is open (give pod IPs to decide it)",
                            peer.source,
                            "networks-pods-without-ip",
                        )
