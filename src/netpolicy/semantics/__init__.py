"""The one place where NetworkPolicy verdicts are decided."""

from netpolicy.semantics.addresses import (
    ALL_ADDRESSES,
    address_atoms,
    address_value,
    format_range,
    ipblock_set,
    network_set,
    parse_range,
)
from netpolicy.semantics.compile import (
    CompiledPeer,
    CompiledPolicy,
    CompiledPort,
    CompiledRule,
    Direction,
    Endpoint,
    External,
    PodInfo,
    compile_policy,
)
from netpolicy.semantics.connections import ALL_PORTS, ConnectionSet
from netpolicy.semantics.evaluate import (
    Decision,
    Evaluator,
    HostNetworkMode,
    RuleMatch,
    RuleMiss,
    Side,
    external,
)
from netpolicy.semantics.intervals import IntervalSet, cut_points
from netpolicy.semantics.selectors import requirement_matches, selector_matches
from netpolicy.semantics.tiers import (
    CompiledAdminRule,
    CompiledClusterPolicy,
    TierOutcome,
    Tiers,
    TierStep,
    compile_cluster_policy,
    describe_chain,
)

__all__ = [
    "ALL_ADDRESSES",
    "ALL_PORTS",
    "CompiledAdminRule",
    "CompiledClusterPolicy",
    "CompiledPeer",
    "CompiledPolicy",
    "CompiledPort",
    "CompiledRule",
    "ConnectionSet",
    "Decision",
    "Direction",
    "Endpoint",
    "Evaluator",
    "External",
    "HostNetworkMode",
    "IntervalSet",
    "PodInfo",
    "RuleMatch",
    "RuleMiss",
    "Side",
    "TierOutcome",
    "TierStep",
    "Tiers",
    "address_atoms",
    "address_value",
    "compile_cluster_policy",
    "compile_policy",
    "cut_points",
    "describe_chain",
    "external",
    "format_range",
    "ipblock_set",
    "network_set",
    "parse_range",
    "requirement_matches",
    "selector_matches",
]
