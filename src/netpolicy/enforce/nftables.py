"""Compile a cluster's NetworkPolicies into one nftables table (text for `nft -f`).

The table filters forwarded traffic between pods (a router or node namespace sees every
packet between pods and to the outside). A packet from S to D is accepted iff S's egress and
D's ingress both allow it, exactly as `netpolicy.semantics` decides:

    forward:  ct state established,related accept
              ip saddr @egress_isolated jump egress    (returns when some egress rule matches)
              ip daddr @ingress_isolated jump ingress  (accepts when some ingress rule matches)
    egress:   one rule per (policy, rule, port group): ip saddr @selected ip daddr @peers ... return
              then reject
    ingress:  one rule per (policy, rule, port group): ip daddr @selected ip saddr @peers ... accept
              then reject

Selected pods and peers are named sets, so the ruleset grows with the policies, not with
pods squared. Named ports are resolved per destination pod: a rule with named ports gets one
nft rule per distinct resolved port set, each with the destinations that resolve to it.
Every rule carries a counter and a comment naming the policy and rule it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from netpolicy.model import PROTOCOLS, Cluster
from netpolicy.semantics import (
    CompiledPolicy,
    CompiledRule,
    ConnectionSet,
    Evaluator,
    IntervalSet,
    PodInfo,
)
from netpolicy.semantics.addresses import IPV4, IPV6, format_address

DEFAULT_TABLE = "netpolicy"


@dataclass(frozen=True, slots=True)
class RulesetOptions:
    table: str = DEFAULT_TABLE
    hook: str = "forward"
    """`forward` for a router/node namespace that routes between pods."""
    reject: bool = True
    """Reject (TCP reset / ICMP) instead of drop, so denied connections fail at once."""
    tcp_reset: bool = True
    """Reject TCP with a reset, as a closed port answers; False: with ICMP admin-prohibited
    like every other protocol, so that a prober can tell "filtered" (ICMP from the filter)
    from "refused" (a reset from the destination itself). The lab renders with False."""
    counters: bool = True


@dataclass(frozen=True, slots=True)
class _Family:
    name: str  # ip / ip6
    addr_type: str  # ipv4_addr / ipv6_addr
    space: IntervalSet


FAMILIES = (_Family("ip", "ipv4_addr", IPV4), _Family("ip6", "ipv6_addr", IPV6))


def _set_name(*parts: object) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(str(p) for p in parts))


def _elements(addresses: IntervalSet) -> list[str]:
    out = []
    for lo, hi in addresses:
        a, b = format_address(lo), format_address(hi)
        out.append(a if lo == hi else f"{a}-{b}")
    return out


def _ports_expr(conns: ConnectionSet) -> list[str]:
    """One match expression per protocol (`meta l4proto tcp th dport { 80, 1000-2000 }`)."""
    if conns.is_all():
        return [""]
    exprs = []
    for proto in PROTOCOLS:
        ports = conns.ports(proto)
        if not ports:
            continue
        l4 = proto.lower()
        if ports == IntervalSet.span(1, 65535):
            exprs.append(f"meta l4proto {l4}")
            continue
        items = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)
        exprs.append(f"meta l4proto {l4} th dport {{ {items} }}")
    return exprs


class _Writer:
    def __init__(self, options: RulesetOptions) -> None:
        self.options = options
        self.sets: list[str] = []
        self.egress: list[str] = []
        self.ingress: list[str] = []
        self._set_names: dict[tuple[str, tuple[tuple[int, int], ...]], str] = {}

    def named_set(
        self, hint: str, family: _Family, addresses: IntervalSet, shared: bool = True
    ) -> str:
        """A set of addresses (shared by content unless asked not to); returns its name."""
        # unshared sets are keyed by hint *and* family: one name per family, never one for both
        key = (family.name, addresses.ranges) if shared else (f"{hint}/{family.name}", ())
        found = self._set_names.get(key)
        if found is not None:
            return found
        name = _set_name(hint, family.name)
        taken = set(self._set_names.values())
        base, i = name, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        self._set_names[key] = name
        elements = _elements(addresses)
        body = f"\t\ttype {family.addr_type}\n\t\tflags interval\n"
        if elements:
            body += "\t\telements = { " + ", ".join(elements) + " }\n"
        self.sets.append(f"\tset {name} {{\n{body}\t}}\n")
        return name


def _pod_addresses(infos: Iterable[PodInfo]) -> IntervalSet:
    return IntervalSet((i.address, i.address) for i in infos if i.address is not None)


def render_ruleset(cluster: Cluster, options: RulesetOptions | None = None) -> str:
    """The nftables table enforcing the cluster's policies (pure: no I/O)."""
    options = options or RulesetOptions()
    evaluator = Evaluator(cluster)
    pods = [p for p in cluster.pods if not p.host_network]
    infos = [evaluator.pod_info(p) for p in pods]
    w = _Writer(options)
    counter = " counter" if options.counters else ""
    isolated: dict[str, list[PodInfo]] = {"ingress": [], "egress": []}
    for info in infos:
        for direction in ("ingress", "egress"):
            if evaluator.policies_selecting(info, direction):  # type: ignore[arg-type]
                isolated[direction].append(info)
    for index, cp in enumerate(evaluator.policies):
        selected = [i for i in infos if cp.selects(i)]
        for rule in (*cp.egress, *cp.ingress):
            _render_rule(w, index, cp, rule, selected, infos, counter)
    lines = [
        f"# netpolicy: NetworkPolicy enforcement for {len(pods)} pods, "
        f"{len(cluster.policies)} policies",
        f"table inet {options.table} {{",
    ]
    iso_sets = {}
    for direction, members in isolated.items():
        for fam in FAMILIES:
            addrs = _pod_addresses(members) & fam.space
            if addrs or fam.name == "ip":
                iso_sets[(direction, fam.name)] = w.named_set(
                    f"{direction}_isolated", fam, addrs, shared=False
                )
    lines += w.sets
    reject_other = "reject with icmpx type admin-prohibited" if options.reject else "drop"
    reject_tcp = "reject with tcp reset" if options.reject and options.tcp_reset else reject_other
    for direction, rules in (("egress", w.egress), ("ingress", w.ingress)):
        lines.append(f"\tchain {direction} {{")
        lines += rules
        why = f'comment "{direction} isolated: no rule allows"'
        lines.append(f"\t\tmeta l4proto tcp{counter} {reject_tcp} {why}")
        lines.append(f"\t\t{counter.strip()} {reject_other} {why}".replace("\t ", "\t"))
        lines.append("\t}")
    lines.append(f"\tchain {options.hook} {{")
    lines.append(f"\t\ttype filter hook {options.hook} priority filter; policy accept;")
    lines.append("\t\tct state established,related accept")
    for fam in FAMILIES:
        key = ("egress", fam.name)
        if key in iso_sets:
            lines.append(f"\t\t{fam.name} saddr @{iso_sets[key]} jump egress")
    for fam in FAMILIES:
        key = ("ingress", fam.name)
        if key in iso_sets:
            lines.append(f"\t\t{fam.name} daddr @{iso_sets[key]} jump ingress")
    lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render_rule(
    w: _Writer,
    index: int,
    cp: CompiledPolicy,
    rule: CompiledRule,
    selected: list[PodInfo],
    infos: list[PodInfo],
    counter: str,
) -> None:
    """The nft rules of one NetworkPolicy rule, grouped by the port set they open."""
    egress = rule.direction == "egress"
    comment = f'comment "{rule.id}"'
    peers_all = all(p.peer is None for p in rule.peers)
    peer_pods = [i for i in infos if rule.matching_peers(i)]
    outside = rule.peer_addresses()
    # group destinations by the ports the rule opens to them (named ports differ per pod)
    groups: dict[ConnectionSet, list[PodInfo]] = {}
    for dst in peer_pods if egress else selected:
        conns = rule.connections_for(dst)
        if conns:
            groups.setdefault(conns, []).append(dst)
    static = rule.static_connections()
    target = "return" if egress else "accept"
    out = w.egress if egress else w.ingress
    hint = f"p{index}_{rule.direction[:2]}{rule.index}"
    subject_addrs = _pod_addresses(selected)
    for fam in FAMILIES:
        subject = subject_addrs & fam.space
        if not subject:
            continue
        subject_set = w.named_set(f"{hint}_sel", fam, subject)
        subject_match = f"{fam.name} {'saddr' if egress else 'daddr'} @{subject_set}"
        peer_dir = "daddr" if egress else "saddr"
        if egress:
            # towards pods: per port group, the destination pods of that group
            for g, (conns, members) in enumerate(groups.items()):
                addrs = _pod_addresses(members) & fam.space
                if not addrs:
                    continue
                peer_set = w.named_set(f"{hint}_dst{g}", fam, addrs)
                for ports in _ports_expr(conns):
                    out.append(
                        f"\t\t{subject_match} {fam.name} {peer_dir} @{peer_set} {ports}{counter} "
                        f"{target} {comment}".replace("  ", " ")
                    )
            # towards outside addresses: named ports never match there
            ext = (outside & fam.space) - _pod_addresses(infos)
            if ext and static:
                ext_set = w.named_set(f"{hint}_out", fam, ext)
                for ports in _ports_expr(static):
                    out.append(
                        f"\t\t{subject_match} {fam.name} {peer_dir} @{ext_set} {ports}{counter} "
                        f"{target} {comment}".replace("  ", " ")
                    )
        else:
            sources = (_pod_addresses(peer_pods) | outside) & fam.space
            if peers_all:
                sources = fam.space
            if not sources:
                continue
            src_set = w.named_set(f"{hint}_src", fam, sources)
            for g, (conns, members) in enumerate(groups.items()):
                dsts = _pod_addresses(members) & fam.space
                if not dsts:
                    continue
                dst_set = (
                    subject_set if dsts == subject else w.named_set(f"{hint}_sel{g}", fam, dsts)
                )
                match = f"{fam.name} daddr @{dst_set}"
                for ports in _ports_expr(conns):
                    out.append(
                        f"\t\t{match} {fam.name} {peer_dir} @{src_set} {ports}{counter} "
                        f"{target} {comment}".replace("  ", " ")
                    )
