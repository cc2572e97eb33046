"""Plain data of netpolicy: the Kubernetes objects as small frozen values.

No I/O, no YAML, no imports of other netpolicy layers. `load/` builds these values;
every other layer reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["TCP", "UDP", "SCTP"]
PROTOCOLS: tuple[Protocol, ...] = ("TCP", "UDP", "SCTP")
PolicyType = Literal["Ingress", "Egress"]
Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

WORKLOAD_KINDS: tuple[str, ...] = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
)

Labels = tuple[tuple[str, str], ...]
"""Labels as a sorted tuple of (key, value): hashable and order-free."""


def labels_of(mapping: dict[str, str] | None) -> Labels:
    """Labels from a plain mapping, sorted by key."""
    return tuple(sorted((mapping or {}).items()))


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a thing was written: file, 1-based line, document index and field path."""

    file: str = "<input>"
    line: int = 0
    doc: int = 0
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return where

    def at(self, path: str, line: int | None = None) -> SourceRef:
        """The same document, pointing at a field below it."""
        return SourceRef(self.file, line if line is not None else self.line, self.doc, path)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `matchExpressions` entry of a label selector."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A Kubernetes label selector; the empty selector selects everything."""

    match_labels: Labels = ()
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def keys(self) -> frozenset[str]:
        """Every label key this selector looks at."""
        return frozenset(k for k, _ in self.match_labels) | frozenset(
            r.key for r in self.match_expressions
        )

    def __str__(self) -> str:
        if self.is_empty:
            return "{}"
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for r in self.match_expressions:
            if r.operator in ("In", "NotIn"):
                parts.append(f"{r.key} {r.operator.lower()} ({','.join(r.values)})")
            elif r.operator == "Exists":
                parts.append(r.key)
            else:
                parts.append(f"!{r.key}")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Labels = ()
    source: SourceRef = field(default_factory=SourceRef, compare=False)
    declared: bool = True
    """False when the namespace was only referenced, never given as an object."""


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: Protocol = "TCP"
    name: str = ""


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """The controller that owns a pod (direct owner) and, where known, the top workload."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod, or the stand-in pod of a workload template (then `workload` is set)."""

    namespace: str
    name: str
    labels: Labels = ()
    ip: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    owner: OwnerRef | None = None
    """The controller owner (ownerReferences with controller: true), or the workload itself."""
    from_template: bool = False
    """True for a pod synthesized from a workload template (no live pod given)."""
    host_network: bool = False
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod controller as written in the input (Deployment, StatefulSet, ...)."""

    namespace: str
    name: str
    kind: str
    labels: Labels = ()
    """The pod template's labels."""
    ports: tuple[ContainerPort, ...] = ()
    replicas: int = 1
    owner: OwnerRef | None = None
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


@dataclass(frozen=True, slots=True)
class IPBlock:
    """`ipBlock`: the addresses in `cidr` minus every `except`."""

    cidr: str
    except_: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Peer:
    """One `from`/`to` entry: pod/namespace selectors, or an ipBlock.

    `pod_selector` None with a namespace selector means every pod of those namespaces;
    `namespace_selector` None means the policy's own namespace.
    """

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """One `ports` entry. `port` None means every port of the protocol."""

    protocol: Protocol = "TCP"
    port: int | str | None = None
    end_port: int | None = None
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """One ingress or egress rule. Empty `peers` = every peer; empty `ports` = every port."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PolicyPort, ...] = ()
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector = LabelSelector()
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    policy_types: tuple[PolicyType, ...] = ("Ingress",)
    """The effective policy types (defaults already applied by the loader)."""
    source: SourceRef = field(default_factory=SourceRef, compare=False)
    spec_sources: tuple[tuple[str, SourceRef], ...] = field(default=(), compare=False)
    """Where the written fields of `spec` are (`podSelector`, `policyTypes`, ...)."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def source_of(self, spec_field: str) -> SourceRef:
        """Where `spec.<spec_field>` was written, else the object itself."""
        for name, ref in self.spec_sources:
            if name == spec_field:
                return ref
        return self.source

    @property
    def affects_ingress(self) -> bool:
        return "Ingress" in self.policy_types

    @property
    def affects_egress(self) -> bool:
        return "Egress" in self.policy_types


AdminAction = Literal["Allow", "Accept", "Deny", "Pass"]
"""A cluster-wide rule's action as written (v1alpha1 says Allow, v1alpha2 Accept)."""
Tier = Literal["Admin", "Baseline"]
ClusterPolicyKind = Literal[
    "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"
]

CLUSTER_POLICY_SHORT: dict[str, str] = {
    "AdminNetworkPolicy": "ANP",
    "BaselineAdminNetworkPolicy": "BANP",
    "ClusterNetworkPolicy": "CNP",
}


@dataclass(frozen=True, slots=True)
class AdminPeer:
    """One `from`/`to` entry of a cluster-wide rule; exactly one kind is set.

    `namespaces`: every pod of the selected namespaces (`pod_selector` None); `pods`: the pods
    matching `pod_selector` in those namespaces; `networks`: CIDRs; `nodes` and `domain_names`:
    experimental peers the analysis cannot decide without Node objects or DNS.
    """

    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    networks: tuple[str, ...] = ()
    nodes: LabelSelector | None = None
    domain_names: tuple[str, ...] = ()
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    @property
    def kind(self) -> str:
        if self.networks:
            return "networks"
        if self.nodes is not None:
            return "nodes"
        if self.domain_names:
            return "domainNames"
        return "pods" if self.pod_selector is not None else "namespaces"


@dataclass(frozen=True, slots=True)
class AdminPort:
    """One port entry of a cluster-wide rule: a number, a range (`end_port`) or a name.

    A named port has no protocol: it matches the destination's container ports of that name,
    whatever their protocol.
    """

    protocol: Protocol | None = "TCP"
    port: int | str = 0
    end_port: int | None = None
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class AdminRule:
    """One ingress or egress rule of a cluster-wide policy. Empty `ports` = every port."""

    action: AdminAction
    peers: tuple[AdminPeer, ...]
    ports: tuple[AdminPort, ...] = ()
    name: str = ""
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class ClusterPolicy:
    """An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy.

    The subject is the pods matching `pod_selector` (None: every pod) in the namespaces
    matching `namespace_selector`. A BaselineAdminNetworkPolicy is in the Baseline tier with
    priority 0 (there is only one).
    """

    kind: ClusterPolicyKind
    name: str
    tier: Tier
    priority: int
    namespace_selector: LabelSelector = LabelSelector()
    pod_selector: LabelSelector | None = None
    ingress: tuple[AdminRule, ...] = ()
    egress: tuple[AdminRule, ...] = ()
    source: SourceRef = field(default_factory=SourceRef, compare=False)
    priority_source: SourceRef = field(default_factory=SourceRef, compare=False)
    """Where `spec.priority` was written (else the object itself)."""

    @property
    def key(self) -> str:
        """`ANP deny-tenants`, `BANP default`, `CNP guard`."""
        return f"{CLUSTER_POLICY_SHORT[self.kind]} {self.name}"


Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A message about the input, always with a location."""

    severity: Severity
    message: str
    source: SourceRef = field(default_factory=SourceRef)
    code: str = ""

    def __str__(self) -> str:
        loc = str(self.source)
        path = f" ({self.source.path})" if self.source.path else ""
        return f"{loc}: {self.severity}: {self.message}{path}"


@dataclass(frozen=True, slots=True)
class Duplicate:
    """One identity (kind, namespace, name) written twice: the later definition wins."""

    kind: str
    namespace: str
    name: str
    first: SourceRef
    later: SourceRef

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class Cluster:
    """Everything loaded: namespaces, pods (live and template stand-ins), workloads, policies."""

    namespaces: tuple[Namespace, ...] = ()
    pods: tuple[Pod, ...] = ()
    workloads: tuple[Workload, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    name: str = ""
    duplicates: tuple[Duplicate, ...] = ()
    """Objects given twice (the earlier definition is not in the tuples above)."""
    cluster_policies: tuple[ClusterPolicy, ...] = ()
    """AdminNetworkPolicies, BaselineAdminNetworkPolicies and ClusterNetworkPolicies."""

    def namespace(self, name: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        return None


__all__ = [
    "CLUSTER_POLICY_SHORT",
    "NAMESPACE_NAME_LABEL",
    "PROTOCOLS",
    "WORKLOAD_KINDS",
    "AdminAction",
    "AdminPeer",
    "AdminPort",
    "AdminRule",
    "Cluster",
    "ClusterPolicy",
    "ClusterPolicyKind",
    "ContainerPort",
    "Diagnostic",
    "Duplicate",
    "IPBlock",
    "LabelSelector",
    "Labels",
    "Namespace",
    "NetworkPolicy",
    "Operator",
    "OwnerRef",
    "Peer",
    "Pod",
    "PolicyPort",
    "PolicyType",
    "Protocol",
    "Requirement",
    "Rule",
    "Severity",
    "SourceRef",
    "Tier",
    "Workload",
    "labels_of",
]
