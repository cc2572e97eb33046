"""Compile a cluster's policies into one nftables table (text for `nft -f`).

The table filters forwarded traffic between pods (a router or node namespace sees every
packet between pods and to the outside). A packet from S to D is accepted iff S's egress and
D's ingress both allow it, exactly as `netpolicy.semantics` decides. Each packet goes to the
rules of the policies that select its endpoints through a verdict map keyed by address (a
hash lookup), never through a walk over every policy's rules:

    forward:        ct state established,related accept
                    ip saddr vmap @egress_isolated_ip    S isolated: jump to S's egress class
                    goto ingress
    egress_cN:      jump pI_egress, one per policy selecting the class's pods for egress,
                    then goto egress_denied
    pI_egress:      one rule per (rule, port group): ip daddr @peers ... goto ingress
    ingress:        ip daddr vmap @ingress_isolated_ip   D isolated: jump to D's ingress class
                    accept
    ingress_cN:     jump pI_ingress ..., then goto ingress_denied
    pI_ingress:     one rule per (rule, port group): ip saddr @peers ... accept
    *_denied:       reject

A class is the pods (addresses) selected by the same policies in one direction; pods
isolated by policies without rules map straight to the `*_denied` chain. An egress rule that
matches goes on to the destination's ingress; `ingress` ends in an explicit `accept` because
it is also entered by `goto` from inside a jump, where falling off its end would return into
the egress class chain.

With cluster-wide policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy) each direction gets the tier chain of `netpolicy.semantics.tiers`:

    forward:        ct state established,related accept
                    ip saddr vmap @egress_admin_ip       S an Admin subject: its Admin policies
                    goto egress_after_admin
    egress_admin_cN: jump aI_egress, one per Admin policy selecting the class, by priority
    aI_egress:      the policy's rules in order: Allow/Accept goto ingress, Deny goto
                    tier_denied, Pass goto egress_after_admin (the rest of the tier skipped)
    egress_after_admin: ip saddr vmap @egress_isolated_ip    NetworkPolicy, as above
                    ip saddr vmap @egress_baseline_ip    else the Baseline policies
                    goto ingress                         else allowed
    bI_egress:      Allow/Accept and Pass goto ingress, Deny goto tier_denied
    ingress:        ip daddr vmap @ingress_admin_ip, goto ingress_after_admin (the same
                    stages, ending in accept)

A subject is in a Baseline map only where no NetworkPolicy isolates it in that direction.
Every tier rule counts and is named `<policy> <direction> rule #k (<name>) <action>`.

Peers are named sets and every policy rule is rendered once, in its policy's chain, so the
ruleset grows with the policies (plus one map element per pod and one short chain per class),
not with pods squared. Named ports are resolved per destination pod: a rule with named ports
gets one nft rule per distinct resolved port set, each with the destinations that resolve to
it (as a set of selected pods, where they are not all of them). Every rule of a policy
carries a counter and a comment naming the policy rule it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from netpolicy.model import PROTOCOLS, Cluster
from netpolicy.semantics import (
    CompiledRule,
    ConnectionSet,
    Evaluator,
    IntervalSet,
    PodInfo,
)
from netpolicy.semantics.addresses import IPV4, IPV6, format_address
from netpolicy.semantics.tiers import CompiledAdminRule

DEFAULT_TABLE = "netpolicy"
DIRECTIONS = ("egress", "ingress")


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


def _rule(*parts: str) -> str:
    """One rule line of a chain: its non-empty parts, separated by single spaces."""
    return "\t\t" + " ".join(p for p in parts if p)


class _Writer:
    def __init__(self, options: RulesetOptions) -> None:
        self.options = options
        self.counter = "counter" if options.counters else ""
        self.sets: list[str] = []
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


def _family_of(address: int) -> _Family:
    return FAMILIES[0] if address in FAMILIES[0].space else FAMILIES[1]


def _chain(name: str, body: Iterable[str], comment: str = "") -> list[str]:
    head = [f"\tchain {name} {{"]
    if comment:
        head.append(f'\t\tcomment "{comment}"')
    return [*head, *body, "\t}"]


def render_ruleset(cluster: Cluster, options: RulesetOptions | None = None) -> str:
    """The nftables table enforcing the cluster's policies (pure: no I/O)."""
    options = options or RulesetOptions()
    evaluator = Evaluator(cluster)
    pods = [p for p in cluster.pods if not p.host_network]
    infos = [evaluator.pod_info(p) for p in pods]
    w = _Writer(options)
    # per direction: the isolated addresses, each with the policy chains that apply to it
    dispatch: dict[str, dict[int, list[str]]] = {d: {} for d in DIRECTIONS}
    for info in infos:
        if info.address is None:
            continue
        for direction in DIRECTIONS:
            if evaluator.policies_selecting(info, direction):  # type: ignore[arg-type]
                dispatch[direction].setdefault(info.address, [])
    policy_chains: list[str] = []
    for index, cp in enumerate(evaluator.policies):
        selected = [i for i in infos if cp.selects(i)]
        for direction in DIRECTIONS:
            body: list[str] = []
            # a matching egress rule goes on to the destination's ingress; ingress accepts
            verdict = "goto ingress" if direction == "egress" else "accept"
            for rule in cp.rules(direction):  # type: ignore[arg-type]
                hint = f"p{index}_{direction[:2]}{rule.index}"
                body += _render_rule(w, hint, rule, selected, infos, verdict, rule.id)
            if not body:
                continue
            name = f"p{index}_{direction}"
            policy_chains += _chain(name, body, f"{cp.key} {direction}")
            for info in selected:
                if info.address is not None:
                    # a rule only exists in a direction the policy isolates
                    dispatch[direction].setdefault(info.address, []).append(name)
    tiers = _render_tiers(w, evaluator, infos, dispatch) if evaluator.tiers else None
    header = (
        f"# netpolicy: NetworkPolicy enforcement for {len(pods)} pods, "
        f"{len(cluster.policies)} policies"
    )
    if tiers is not None:
        header += f", {len(evaluator.tiers.all)} cluster-wide policies"
    lines = [header, f"table inet {options.table} {{"]
    lines += w.sets
    class_chains: list[str] = []
    maps: dict[tuple[str, str], str] = {}
    for direction in DIRECTIONS:
        classes: dict[tuple[str, ...], str] = {}
        elements: dict[str, list[str]] = {fam.name: [] for fam in FAMILIES}
        for address in sorted(dispatch[direction]):
            jumps = tuple(dict.fromkeys(dispatch[direction][address]))
            target = classes.get(jumps)
            if target is None:
                target = f"{direction}_denied"
                if jumps:
                    target = classes[jumps] = f"{direction}_c{len(classes) + 1}"
                    body = [f"\t\tjump {chain}" for chain in jumps]
                    class_chains += _chain(target, [*body, f"\t\tgoto {direction}_denied"])
            elements[_family_of(address).name].append(f"{format_address(address)} : jump {target}")
        lines += _verdict_maps(f"{direction}_isolated", elements, maps, direction)
    if tiers is not None:
        # the tiers' maps: each subject's address to a chain that jumps to the policies of
        # that tier selecting it, by precedence; falling off its end goes on to the next stage
        for stage in ("admin", "baseline"):
            for direction in DIRECTIONS:
                elements = {fam.name: [] for fam in FAMILIES}
                classes = {}
                stage_dispatch = tiers.dispatch[(stage, direction)]
                for address in sorted(stage_dispatch):
                    jumps = tuple(dict.fromkeys(stage_dispatch[address]))
                    target = classes.get(jumps)
                    if target is None:
                        target = classes[jumps] = f"{direction}_{stage}_c{len(classes) + 1}"
                        class_chains += _chain(target, [f"\t\tjump {chain}" for chain in jumps])
                    entry = f"{format_address(address)} : jump {target}"
                    elements[_family_of(address).name].append(entry)
                key = f"{direction}_{stage}"
                lines += _verdict_maps(key, elements, maps, key)
    lines += policy_chains
    if tiers is not None:
        lines += tiers.chains
    lines += class_chains
    reject_other = "reject with icmpx type admin-prohibited" if options.reject else "drop"
    reject_tcp = "reject with tcp reset" if options.reject and options.tcp_reset else reject_other
    for direction in DIRECTIONS:
        why = f'comment "{direction} isolated: no rule allows"'
        lines += _chain(
            f"{direction}_denied",
            [
                _rule("meta l4proto tcp", w.counter, reject_tcp, why),
                _rule(w.counter, reject_other, why),
            ],
        )

    def vmaps(key: str, field: str) -> list[str]:
        return [
            f"\t\t{fam.name} {field} vmap @{maps[(key, fam.name)]}"
            for fam in FAMILIES
            if (key, fam.name) in maps
        ]

    if tiers is None:
        # `accept`, not the end of the chain: egress rules enter it by goto from inside a jump
        lines += _chain("ingress", [*vmaps("ingress", "daddr"), "\t\taccept"])
        egress_entry = [*vmaps("egress", "saddr"), "\t\tgoto ingress"]
    else:
        # a Deny was counted by its rule; this only answers the packet as other denials do
        lines += _chain(
            TIER_DENIED,
            [_rule("meta l4proto tcp", reject_tcp), _rule(reject_other)],
            "denied by an Admin or Baseline rule (counted there)",
        )
        # after the Admin tier (no rule decided, or Pass): the pod's NetworkPolicies if any
        # isolate it (their class chains always end in a verdict), else its Baseline tier,
        # else the default: allowed (egress still needs the destination's ingress)
        lines += _chain(
            "egress_after_admin",
            [*vmaps("egress", "saddr"), *vmaps("egress_baseline", "saddr"), "\t\tgoto ingress"],
            "NetworkPolicy, else Baseline, else allow",
        )
        lines += _chain(
            "ingress_after_admin",
            [*vmaps("ingress", "daddr"), *vmaps("ingress_baseline", "daddr"), "\t\taccept"],
            "NetworkPolicy, else Baseline, else allow",
        )
        lines += _chain(
            "ingress", [*vmaps("ingress_admin", "daddr"), "\t\tgoto ingress_after_admin"]
        )
        egress_entry = [*vmaps("egress_admin", "saddr"), "\t\tgoto egress_after_admin"]
    lines += _chain(
        options.hook,
        [
            f"\t\ttype filter hook {options.hook} priority filter; policy accept;",
            "\t\tct state established,related accept",
            *egress_entry,
        ],
    )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _verdict_maps(
    name: str, elements: dict[str, list[str]], maps: dict[tuple[str, str], str], key: str
) -> list[str]:
    """The verdict maps of one stage and direction: IPv4 always, IPv6 when it has elements.

    Each is recorded in `maps` under (key, family) for the rules that look them up.
    """
    out = []
    for fam in FAMILIES:
        if elements[fam.name] or fam.name == "ip":
            map_name = maps[(key, fam.name)] = f"{name}_{fam.name}"
            body_text = f"\t\ttype {fam.addr_type} : verdict\n"
            if elements[fam.name]:
                body_text += "\t\telements = { " + ", ".join(elements[fam.name]) + " }\n"
            out.append(f"\tmap {map_name} {{\n{body_text}\t}}\n")
    return out


TIER_DENIED = "tier_denied"
NFT_COMMENT_MAX = 128
"""nft refuses a comment longer than 128 bytes."""


@dataclass(frozen=True, slots=True)
class _TierRendering:
    chains: list[str]
    """One chain per cluster-wide policy and direction with rules."""
    dispatch: dict[tuple[str, str], dict[int, list[str]]]
    """Per (stage, direction): each subject address with its policy chains, by precedence."""


def _render_tiers(
    w: _Writer,
    evaluator: Evaluator,
    infos: list[PodInfo],
    isolated: dict[str, dict[int, list[str]]],
) -> _TierRendering:
    """The chains of the Admin and Baseline tiers and which addresses go through them.

    A policy's chain holds its rules in written order and is jumped to in ascending
    priority, so the first rule that matches a packet decides it: Allow/Accept goes on as a
    NetworkPolicy allow does, Deny rejects, an Admin Pass goes to the NetworkPolicy stage
    (skipping the rest of the tier), a Baseline Pass to the default. A Baseline chain is only
    reached by pods no NetworkPolicy isolates in its direction.
    """
    chains: list[str] = []
    dispatch: dict[tuple[str, str], dict[int, list[str]]] = {
        (stage, d): {} for stage in ("admin", "baseline") for d in DIRECTIONS
    }
    for tier, letter in (("Admin", "a"), ("Baseline", "b")):
        stage = tier.lower()
        for index, cp in enumerate(evaluator.tiers.tier(tier)):
            selected = [i for i in infos if cp.selects(i)]
            for direction in DIRECTIONS:
                body: list[str] = []
                for rule in cp.rules(direction):  # type: ignore[arg-type]
                    hint = f"{letter}{index}_{direction[:2]}{rule.index}"
                    verdict = _tier_verdict(tier, direction, rule.action)
                    comment = _comment(f"{rule.id} {rule.action}")
                    body += _render_rule(w, hint, rule, selected, infos, verdict, comment)
                if not body:
                    continue
                name = f"{letter}{index}_{direction}"
                about = f"{cp.key} {direction}: {tier} tier, priority {cp.policy.priority}"
                chains += _chain(name, body, _comment(about))
                for info in selected:
                    if info.address is None:
                        continue
                    if tier == "Baseline" and info.address in isolated[direction]:
                        # "v1.NetworkPolicy always makes a final decision for selected pods"
                        continue
                    dispatch[(stage, direction)].setdefault(info.address, []).append(name)
    return _TierRendering(chains, dispatch)


def _tier_verdict(tier: str, direction: str, action: str) -> str:
    """What a matching cluster-wide rule does with the packet."""
    # egress allowed goes on to the destination's ingress, as a NetworkPolicy allow does
    allow = "goto ingress" if direction == "egress" else "accept"
    if action == "Deny":
        return f"goto {TIER_DENIED}"
    if action == "Pass" and tier == "Admin":
        # "Pass: skips all further rules in the current tier" (on to NetworkPolicy)
        return f"goto {direction}_after_admin"
    # Allow/Accept, and a Baseline Pass (the next tier is the default: allow)
    return allow


def _comment(text: str) -> str:
    """`text` as the body of an nft comment: printable, no double quotes or backslashes, at
    most 128 bytes (rule names are free text of up to 100 characters)."""
    text = "".join(c if c.isprintable() else " " for c in text)
    text = text.replace('"', "'").replace("\\", "/")
    return text.encode()[:NFT_COMMENT_MAX].decode(errors="ignore")


def _render_rule(
    w: _Writer,
    hint: str,
    rule: CompiledRule | CompiledAdminRule,
    selected: list[PodInfo],
    infos: list[PodInfo],
    verdict: str,
    comment: str,
) -> list[str]:
    """The nft rules of one policy rule (NetworkPolicy or cluster-wide), grouped by the port
    set they select, each ending in `verdict`.

    They are only ever reached for packets of the pods the policy selects (the verdict maps
    dispatch by address), so they match the peer side and the ports, and the selected side
    only where named ports open different ports to different selected pods.
    """
    egress = rule.direction == "egress"
    comment = f'comment "{comment}"'
    if isinstance(rule, CompiledAdminRule):
        # a cluster-wide rule always names its peers ("from"/"to" are required, non-empty)
        peers_all = False
        peer_pods = [i for i in infos if rule.matches(i)]
    else:
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
    subject_addrs = _pod_addresses(selected)
    out: list[str] = []
    for fam in FAMILIES:
        subject = subject_addrs & fam.space
        if not subject:
            continue
        if egress:
            # towards pods: per port group, the destination pods of that group
            for g, (conns, members) in enumerate(groups.items()):
                addrs = _pod_addresses(members) & fam.space
                if not addrs:
                    continue
                peer = f"{fam.name} daddr @{w.named_set(f'{hint}_dst{g}', fam, addrs)}"
                for ports in _ports_expr(conns):
                    out.append(_rule(peer, ports, w.counter, verdict, comment))
            # towards outside addresses: named ports never match there
            ext = (outside & fam.space) - _pod_addresses(infos)
            if ext and static:
                peer = f"{fam.name} daddr @{w.named_set(f'{hint}_out', fam, ext)}"
                for ports in _ports_expr(static):
                    out.append(_rule(peer, ports, w.counter, verdict, comment))
        else:
            sources = (_pod_addresses(peer_pods) | outside) & fam.space
            if peers_all:
                sources = fam.space
            if not sources:
                continue
            peer = f"{fam.name} saddr @{w.named_set(f'{hint}_src', fam, sources)}"
            for g, (conns, members) in enumerate(groups.items()):
                dsts = _pod_addresses(members) & fam.space
                if not dsts:
                    continue
                # the dispatch already chose a selected pod: name it only when ports differ
                selected_match = (
                    ""
                    if dsts == subject
                    else f"{fam.name} daddr @{w.named_set(f'{hint}_sel{g}', fam, dsts)}"
                )
                for ports in _ports_expr(conns):
                    out.append(_rule(selected_match, peer, ports, w.counter, verdict, comment))
    return out
