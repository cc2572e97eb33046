"""Intents learned from observed traffic: Hubble flow logs or a CSV of connections.

Two formats, told apart by the first line that is not blank:

- Hubble (`hubble observe -o json`): one JSON object a line, either the response wrapper
  `{"flow": {...}, "node_name": ...}` or a bare flow. Read: `source`/`destination`
  (`namespace`, `pod_name`, `labels`, `workloads`), `IP.source`/`IP.destination`,
  `l4.TCP|UDP|SCTP.destination_port`, `verdict`, `is_reply` (and the older `reply`), `Type`.
- CSV `src,dst,port,protocol` (header optional, protocol defaults to TCP): `src`/`dst` a
  pod or workload (`ns/name`, `ns/name[Kind]`) or an IP address.

Each line is one observation. It becomes part of an intent when it is traffic that went
through (verdict FORWARDED, REDIRECTED to the proxy, or AUDIT: policy audit mode let it pass)
in the request direction (`is_reply` flows are the answers of connections already counted),
at L3/L4 (an L7 record repeats a connection its L3/L4 flows already show) with a TCP, UDP or
SCTP destination port. DROPPED and ERROR flows are counted apart and never become intents:
that traffic did not happen. DNS lookups of the cluster DNS (port 53 to kube-system pods
labelled `k8s-app=kube-dns`; a kube-system pod the snapshot lacks counts by its Hubble labels,
or without labels (CSV) when its name has `dns` in it) are covered by `dns: true` and counted
apart.

Endpoints are mapped through the cluster snapshot: a pod of the input by name (then by IP)
is named by its top workload (`workload_names`); a pod the snapshot lacks by Hubble's
`workloads` field, else by its name `<workload>-<suffix>`; an address of no pod becomes an
outside CIDR (`/32` or `/128`, or `--widen N`: IPv4 addresses widened to `/N`; IPv6 stays
`/128`). A pod that cannot be mapped leaves its flows out, with one warning per pod. One
intent per (from, to): the ports seen (adjacent ones merged into ranges) and `flows`, the
number of lines that support it. The governed namespaces are those of the workloads that
appear in the intents.
"""

from __future__ import annotations

import csv
import ipaddress
import json
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from netpolicy.generate.workload_names import WorkloadNames
from netpolicy.model import PROTOCOLS, Cluster, Diagnostic, Pod, Protocol, SourceRef

DNS_NAMESPACE = "kube-system"
DNS_LABEL = ("k8s-app", "kube-dns")

PASSED = frozenset({"FORWARDED", "REDIRECTED", "AUDIT"})
"""Verdicts of traffic that went through (AUDIT: audit mode let through what it would drop)."""
BLOCKED = frozenset({"DROPPED", "ERROR"})
_VERDICT_NUMBERS = {
    0: "VERDICT_UNKNOWN",
    1: "FORWARDED",
    2: "DROPPED",
    3: "ERROR",
    4: "AUDIT",
    5: "REDIRECTED",
    6: "TRACED",
    7: "TRANSLATED",
}

Doc = dict[str, Any]


class FlowLineError(ValueError):
    """One line that cannot be read as a flow."""


@dataclass(slots=True)
class _Tally:
    lines: int = 0
    used: int = 0
    replies: int = 0
    blocked: int = 0
    dns: int = 0
    not_l4: int = 0
    """L7 and socket records, ICMP, flows without a port."""
    other: int = 0
    """Verdicts that are no decision (TRACED, TRANSLATED, unknown) and non-flow events."""
    own: int = 0
    """A pod's traffic to itself (always allowed)."""
    unmapped: int = 0
    outside: int = 0
    """Between two outside addresses (node traffic): no NetworkPolicy governs it."""


@dataclass(frozen=True, slots=True)
class _End:
    """One side of a flow, mapped: an intent endpoint, or why it could not be."""

    name: str | None
    pod: Pod | None = None
    dns: bool = False
    """A cluster DNS pod (kube-system, k8s-app=kube-dns)."""
    unknown: str = ""
    """The pod (`ns/name`) the snapshot lacks, when `name` is None."""
    outside: bool = False
    """`name` is a CIDR."""


@dataclass(slots=True)
class _Mapper:
    cluster: Cluster
    widen: int | None
    names: WorkloadNames = field(init=False)
    by_ip: dict[str, Pod] = field(init=False)
    wide: dict[str, str] = field(default_factory=dict)
    """Widened CIDR -> the first address widened into it."""
    _ends: dict[str, _End] = field(default_factory=dict)
    seen: dict[object, _End] = field(default_factory=dict)
    """Endpoints already mapped, by what the line wrote (flows repeat a few endpoints)."""

    def __post_init__(self) -> None:
        self.names = WorkloadNames(self.cluster)
        self.by_ip = {}
        for pod in self.cluster.pods:
            if pod.ip and not pod.host_network and not pod.from_template:
                self.by_ip.setdefault(_normal_ip(pod.ip), pod)

    def pod_end(self, pod: Pod) -> _End:
        labels = pod.label_dict()
        dns = pod.namespace == DNS_NAMESPACE and labels.get(DNS_LABEL[0]) == DNS_LABEL[1]
        return _End(self.names.of(pod), pod, dns)

    def address(self, ip: str) -> _End:
        """A pod's address names the pod; any other becomes an outside CIDR."""
        text = _normal_ip(ip)
        pod = self.by_ip.get(text)
        if pod is not None:
            return self.pod_end(pod)
        addr = ipaddress.ip_address(text)
        if self.widen is not None and addr.version == 4:
            net = ipaddress.ip_network(f"{addr}/{self.widen}", strict=False)
            self.wide.setdefault(str(net), text)
            return _End(str(net), outside=True)
        return _End(f"{addr}/{addr.max_prefixlen}", outside=True)

    def named(
        self,
        namespace: str,
        name: str,
        *,
        kind: str | None = None,
        workloads: Sequence[tuple[str, str]] = (),
        ip: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> _End:
        """A pod or workload by name; a pod the snapshot lacks by its workload."""
        pod = self.names.pods.get((namespace, name))
        if pod is not None and kind in (None, "Pod"):
            if pod.host_network:
                # a host-network pod's traffic is the node's: no policy selects it
                return self.address(ip) if ip else _End(None, unknown=f"{namespace}/{name}")
            return self.pod_end(pod)
        if self.names.has_workload(namespace, name):
            return self._workload(namespace, f"{namespace}/{name}", labels)
        for w_name, _ in workloads:
            if self.names.has_workload(namespace, w_name):
                return self._workload(namespace, f"{namespace}/{w_name}", labels)
        by_prefix = self.names.workload_by_pod_name(namespace, name)
        if by_prefix is not None:
            return self._workload(namespace, by_prefix, labels)
        if ip:
            pod = self.by_ip.get(_normal_ip(ip))
            if pod is not None and pod.namespace == namespace:
                return self.pod_end(pod)
        dns = (
            namespace == DNS_NAMESPACE
            and (labels is None or labels.get(DNS_LABEL[0]) == DNS_LABEL[1])
            and (labels is not None or "dns" in name)
        )
        return _End(None, dns=dns, unknown=f"{namespace}/{name}")

    def _workload(self, namespace: str, name: str, labels: dict[str, str] | None) -> _End:
        found = self._ends.get(name)
        if found is None:
            pods = [p for p in self.cluster.pods if p.namespace == namespace]
            pods = [p for p in pods if self.names.of(p) == name]
            found = self._ends[name] = _End(
                name, pods[0] if pods else None, any(self.pod_end(p).dns for p in pods)
            )
        if not found.dns and namespace == DNS_NAMESPACE and labels is not None:
            return _End(name, found.pod, labels.get(DNS_LABEL[0]) == DNS_LABEL[1])
        return found


def _normal_ip(text: str) -> str:
    addr = ipaddress.ip_address(text.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


# --- Hubble ---------------------------------------------------------------------------------


def _hubble_labels(raw: object) -> dict[str, str] | None:
    """`k8s:app=web` labels as {app: web} (the source prefix dropped); None when absent."""
    if not isinstance(raw, list):
        return None
    out: dict[str, str] = {}
    for item in raw:
        if isinstance(item, str):
            key, _, value = item.partition("=")
            out[key.split(":", 1)[1] if ":" in key else key] = value
    return out


def _hubble_end(mapper: _Mapper, ep: object, ip: object) -> _End:
    key = ("hubble", json.dumps(ep, sort_keys=True), ip)
    found = mapper.seen.get(key)
    if found is None:
        found = mapper.seen[key] = _map_hubble_end(mapper, ep, ip)
    return found


def _map_hubble_end(mapper: _Mapper, ep: object, ip: object) -> _End:
    ep = ep if isinstance(ep, dict) else {}
    address = ip if isinstance(ip, str) and ip else None
    if address is not None:
        try:
            _normal_ip(address)
        except ValueError:
            raise FlowLineError(f"{address!r} is not an IP address") from None
    namespace, pod_name = ep.get("namespace") or "", ep.get("pod_name") or ""
    if not isinstance(namespace, str) or not isinstance(pod_name, str):
        raise FlowLineError("namespace and pod_name must be strings")
    if namespace and pod_name:
        raw_workloads = ep.get("workloads")
        workloads = [
            (str(w.get("name", "")), str(w.get("kind", "")))
            for w in (raw_workloads if isinstance(raw_workloads, list) else [])
            if isinstance(w, dict) and w.get("name")
        ]
        return mapper.named(
            namespace,
            pod_name,
            kind="Pod",
            workloads=workloads,
            ip=address,
            labels=_hubble_labels(ep.get("labels")),
        )
    if address is None:
        raise FlowLineError("an endpoint with neither pod_name nor IP address")
    return mapper.address(address)


def _hubble_flow(line: str) -> dict[str, Any] | None:
    """The flow of one line; None for other events (node status, lost events)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise FlowLineError(f"not JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict):
        raise FlowLineError("not a JSON object")
    inner = obj.get("flow")
    if isinstance(inner, dict):
        return inner
    if any(k in obj for k in ("source", "destination", "IP", "l4", "verdict")):
        return obj
    return None


def _verdict(flow: dict[str, Any]) -> str:
    raw = flow.get("verdict", "VERDICT_UNKNOWN")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return _VERDICT_NUMBERS.get(raw, "VERDICT_UNKNOWN")
    if not isinstance(raw, str):
        raise FlowLineError("verdict must be a string")
    return raw.upper()


def _port(flow: dict[str, Any]) -> tuple[Protocol, int] | None:
    """(protocol, destination port) of TCP, UDP and SCTP flows; None for ICMP or no port."""
    l4 = flow.get("l4")
    if not isinstance(l4, dict):
        return None
    for proto in PROTOCOLS:
        body = l4.get(proto)
        if isinstance(body, dict):
            port = body.get("destination_port", 0)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
                raise FlowLineError(f"l4.{proto}.destination_port: {port!r} is not a port")
            return (proto, port) if port else None
    return None


def _read_hubble(
    mapper: _Mapper, line: str, tally: _Tally
) -> tuple[_End, _End, Protocol, int] | None:
    flow = _hubble_flow(line)
    if flow is None:
        tally.other += 1
        return None
    kind = flow.get("Type", "L3_L4")
    if kind not in ("L3_L4", 1):
        tally.not_l4 += 1
        return None
    reply = flow.get("is_reply")
    if reply is True or flow.get("reply") is True:
        tally.replies += 1
        return None
    verdict = _verdict(flow)
    if verdict in BLOCKED:
        tally.blocked += 1
        return None
    if verdict not in PASSED:
        tally.other += 1
        return None
    port = _port(flow)
    if port is None:
        tally.not_l4 += 1
        return None
    raw_ips = flow.get("IP")
    ips: dict[str, Any] = raw_ips if isinstance(raw_ips, dict) else {}
    src = _hubble_end(mapper, flow.get("source"), ips.get("source"))
    dst = _hubble_end(mapper, flow.get("destination"), ips.get("destination"))
    if _pod_of(flow.get("source"), ips.get("source")) == _pod_of(
        flow.get("destination"), ips.get("destination")
    ):
        tally.own += 1
        return None
    return src, dst, port[0], port[1]


def _pod_of(ep: object, ip: object) -> object:
    """What tells a pod apart in a flow: (namespace, pod_name), else its address."""
    if isinstance(ep, dict) and ep.get("pod_name"):
        return (ep.get("namespace"), ep.get("pod_name"))
    return ("", ip) if ip else object()


# --- CSV ------------------------------------------------------------------------------------


def _csv_end(mapper: _Mapper, text: str) -> _End:
    found = mapper.seen.get(text)
    if found is None:
        found = mapper.seen[text] = _map_csv_end(mapper, text)
    return found


def _map_csv_end(mapper: _Mapper, text: str) -> _End:
    text = text.strip()
    if not text:
        raise FlowLineError("an empty endpoint")
    try:
        return mapper.address(text)
    except ValueError:
        pass
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    else:
        return _End(str(net), outside=True)
    if "/" not in text:
        raise FlowLineError(f"{text!r} is neither a pod or workload (ns/name) nor an IP address")
    namespace, name = text.split("/", 1)
    kind = None
    if name.endswith("]") and "[" in name:
        name, kind = name[:-1].split("[", 1)
    if not namespace or not name or "/" in name:
        raise FlowLineError(f"{text!r} is neither a pod or workload (ns/name) nor an IP address")
    return mapper.named(namespace, name, kind=kind)


def _names_one_pod(mapper: _Mapper, text: str) -> bool:
    """`text` is one pod (an address, or `ns/name` of a pod), not a workload of several."""
    if "/" not in text or is_cidr(text):
        return True
    namespace, name = text.split("/", 1)
    return (namespace, name) in mapper.names.pods or not mapper.names.has_workload(namespace, name)


def _is_header(fields: list[str]) -> bool:
    return [f.strip().lower() for f in fields[:2]] in (["src", "dst"], ["source", "destination"])


def _read_csv(mapper: _Mapper, line: str, tally: _Tally) -> tuple[_End, _End, Protocol, int] | None:
    fields = next(csv.reader([line]))
    if len(fields) not in (3, 4):
        raise FlowLineError(f"expected src,dst,port,protocol: {len(fields)} fields")
    port_text = fields[2].strip()
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise FlowLineError(f"port {port_text!r} is not a number in 1-65535")
    proto_text = fields[3].strip().upper() if len(fields) == 4 else ""
    proto_text = proto_text or "TCP"
    if proto_text not in PROTOCOLS:
        raise FlowLineError(f"protocol {fields[3].strip()!r} is not one of TCP, UDP, SCTP")
    protocol: Protocol = proto_text  # type: ignore[assignment]
    src, dst = _csv_end(mapper, fields[0]), _csv_end(mapper, fields[1])
    if fields[0].strip() == fields[1].strip() and _names_one_pod(mapper, fields[0].strip()):
        tally.own += 1
        return None
    return src, dst, protocol, int(port_text)


# --- the intents ----------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def is_cidr(endpoint: str) -> bool:
    try:
        ipaddress.ip_network(endpoint)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def endpoint_order(endpoint: str) -> tuple[int, int, int, int, str]:
    """Workloads by name, then CIDRs by family and address."""
    if is_cidr(endpoint):
        net = ipaddress.ip_network(endpoint)
        return (1, net.version, int(net.network_address), net.prefixlen, "")
    return (0, 0, 0, 0, endpoint)


def port_specs(ports: set[tuple[Protocol, int]] | list[tuple[Protocol, int, int]]) -> list[str]:
    """`N/PROTO` and `N-M/PROTO`, TCP then UDP then SCTP, adjacent ports merged."""
    spans = sorted(
        (PROTOCOLS.index(p[0]), p[1], p[-1])  # (proto, port) or (proto, lo, hi)
        for p in ports
    )
    merged: list[tuple[int, int, int]] = []
    for proto, lo, hi in spans:
        if merged and merged[-1][0] == proto and lo <= merged[-1][2] + 1:
            last = merged[-1]
            merged[-1] = (proto, last[1], max(last[2], hi))
        else:
            merged.append((proto, lo, hi))
    return [
        f"{lo}/{PROTOCOLS[p]}" if lo == hi else f"{lo}-{hi}/{PROTOCOLS[p]}" for p, lo, hi in merged
    ]


def intents_from_flows(
    path: str | Path, cluster: Cluster, widen: int | None = None
) -> tuple[Doc, list[Diagnostic]]:
    """The intents document that observed traffic at `path` supports, and the diagnostics:
    unreadable lines as located errors (`file:line`, the other lines still read), pods the
    snapshot lacks as warnings, and one info line counting what was used and left out."""
    name = str(path)
    diagnostics: list[Diagnostic] = []
    doc: Doc = {"apiVersion": "netpolicy/v1", "kind": "Intents", "namespaces": [], "dns": True}
    doc["intents"] = []
    if widen is not None and not 0 <= widen <= 32:
        diagnostics.append(
            Diagnostic("error", f"--widen {widen}: an IPv4 prefix length 0-32", SourceRef(name))
        )
        return doc, diagnostics
    try:
        text = Path(path).read_text(encoding="utf-8") if name != "-" else _stdin()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        diagnostics.append(Diagnostic("error", f"cannot read flows: {reason}", SourceRef(name)))
        return doc, diagnostics
    mapper = _Mapper(cluster, widen)
    tally = _Tally()
    counts: dict[tuple[str, str], Counter[tuple[Protocol, int]]] = {}
    unknown: dict[str, tuple[int, int]] = {}  # pod -> (first line, flows)
    read = None
    first = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if read is None:
            read = _read_hubble if line.startswith("{") else _read_csv
        if first and read is _read_csv and _is_header(next(csv.reader([line]))):
            first = False
            continue
        first = False
        tally.lines += 1
        try:
            found = read(mapper, line, tally)
        except FlowLineError as e:
            diagnostics.append(Diagnostic("error", str(e), SourceRef(name, number), "bad-flow"))
            continue
        if found is None:
            continue
        src, dst, protocol, port = found
        if dst.dns and protocol in ("UDP", "TCP") and port == 53:
            tally.dns += 1
            continue
        if (
            src.name is not None
            and dst.name is not None
            and is_cidr(src.name)
            and is_cidr(dst.name)
        ):
            tally.outside += 1
            continue
        if src.name is None or dst.name is None:
            tally.unmapped += 1
            for end in (src, dst):
                if end.name is None:
                    line_no, n = unknown.get(end.unknown, (number, 0))
                    unknown[end.unknown] = (line_no, n + 1)
            continue
        tally.used += 1
        counts.setdefault((src.name, dst.name), Counter())[protocol, port] += 1
    for pod, (line_no, n) in sorted(unknown.items()):
        diagnostics.append(
            Diagnostic(
                "warning",
                f"pod {pod} is not in the cluster snapshot and belongs to none of its "
                f"workloads: {n} flow(s) left out",
                SourceRef(name, line_no),
                "unknown-pod",
            )
        )
    diagnostics += _widen_warnings(mapper, name)
    intents = []
    for (src_name, dst_name), ports in sorted(
        counts.items(), key=lambda kv: (endpoint_order(kv[0][0]), endpoint_order(kv[0][1]))
    ):
        intents.append(
            {
                "from": src_name,
                "to": dst_name,
                "ports": port_specs(set(ports)),
                "flows": sum(ports.values()),
            }
        )
    doc["namespaces"] = sorted(
        {e.split("/", 1)[0] for pair in counts for e in pair if not is_cidr(e)}
    )
    doc["intents"] = intents
    diagnostics.append(Diagnostic("info", _summary(tally, len(intents)), SourceRef(name), "flows"))
    return doc, diagnostics


def _stdin() -> str:
    import sys

    return sys.stdin.read()


def _widen_warnings(mapper: _Mapper, name: str) -> list[Diagnostic]:
    """A widened CIDR that holds pod IPs admits those pods too (ipBlock matches pod IPs)."""
    out = []
    v4 = sorted(
        (int(addr), pod)
        for ip, pod in mapper.by_ip.items()
        if (addr := ipaddress.ip_address(ip)).version == 4
    )
    keys = [value for value, _ in v4]
    for cidr in sorted(mapper.wide, key=endpoint_order):
        net = ipaddress.ip_network(cidr)
        lo = bisect_left(keys, int(net.network_address))
        hi = bisect_right(keys, int(net.broadcast_address))
        inside = [mapper.names.of(pod) for _, pod in v4[lo:hi]]
        if inside:
            shown = ", ".join(sorted(set(inside))[:5])
            out.append(
                Diagnostic(
                    "warning",
                    f"{cidr} (widened from {mapper.wide[cidr]}) holds pod IPs of {shown}: "
                    "an ipBlock matches pods by their IP, so it would admit them too",
                    SourceRef(name),
                    "widened-over-pods",
                )
            )
    return out


def _summary(t: _Tally, intents: int) -> str:
    parts = [f"{t.lines} flow line(s): {t.used} used for {intents} intent(s)"]
    left = [
        (t.replies, "reply flow(s) (is_reply)"),
        (t.blocked, "DROPPED/ERROR flow(s) (blocked traffic: never an intent)"),
        (t.dns, "DNS lookup(s) (covered by dns: true)"),
        (t.not_l4, "without a TCP/UDP/SCTP port or not L3/L4 (ICMP, L7 records)"),
        (t.other, "other events and verdicts (TRACED, TRANSLATED, unknown)"),
        (t.own, "a pod's traffic to itself"),
        (t.unmapped, "with a pod the cluster lacks"),
        (t.outside, "between outside addresses"),
    ]
    shown = [f"{n} {what}" for n, what in left if n]
    if shown:
        parts.append("left out: " + ", ".join(shown))
    return "; ".join(parts)
