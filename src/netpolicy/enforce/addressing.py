"""Give pods without an IP one from a range (for the lab and for enforcing the demo)."""

from __future__ import annotations

import dataclasses
import ipaddress

from netpolicy.model import Cluster

LAB_RANGE = "10.244.0.0/16"


def assign_addresses(cluster: Cluster, cidr: str = LAB_RANGE) -> tuple[Cluster, dict[str, str]]:
    """The cluster with an IP for every pod that has none, and which pod got which IP.

    Addresses already in use are skipped; the network and broadcast addresses are never used.
    """
    network = ipaddress.ip_network(cidr, strict=False)
    used = {p.ip for p in cluster.pods if p.ip}
    hosts = (str(h) for h in network.hosts() if str(h) not in used)
    assigned: dict[str, str] = {}
    pods = []
    for pod in cluster.pods:
        if pod.ip or pod.host_network:
            pods.append(pod)
            continue
        ip = next(hosts, None)
        if ip is None:
            raise ValueError(f"{cidr} has too few addresses for {len(cluster.pods)} pods")
        assigned[pod.key] = ip
        pods.append(dataclasses.replace(pod, ip=ip))
    return dataclasses.replace(cluster, pods=tuple(pods)), assigned
