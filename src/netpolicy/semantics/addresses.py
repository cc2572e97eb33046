"""IP addresses as integers in one space: IPv4 at 0..2^32-1, IPv6 shifted above it."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from netpolicy.model import IPBlock
from netpolicy.semantics.intervals import IntervalSet, cut_points

V6_OFFSET = 1 << 32
IPV4 = IntervalSet.span(0, (1 << 32) - 1)
IPV6 = IntervalSet.span(V6_OFFSET, V6_OFFSET + (1 << 128) - 1)
ALL_ADDRESSES = IPV4 | IPV6


def address_value(ip: str) -> int:
    """The integer of an IPv4 or IPv6 address in the shared space (raises ValueError)."""
    try:  # the common case, fast: a dotted-quad IPv4 address
        return int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except OSError:
        pass
    addr = ipaddress.ip_address(ip.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return int(addr.ipv4_mapped)
    return int(addr) if addr.version == 4 else V6_OFFSET + int(addr)


@lru_cache(maxsize=1 << 14)  # policies repeat the same few ranges
def network_set(cidr: str) -> IntervalSet:
    """The addresses of a CIDR; host bits may be set (as Go's net.ParseCIDR allows)."""
    net = ipaddress.ip_network(cidr.strip(), strict=False)
    base = 0 if net.version == 4 else V6_OFFSET
    return IntervalSet.span(base + int(net.network_address), base + int(net.broadcast_address))


@lru_cache(maxsize=1 << 14)
def ipblock_set(block: IPBlock) -> IntervalSet:
    """`cidr` minus every `except` (ipBlock semantics)."""
    result = network_set(block.cidr)
    for exc in block.except_:
        result = result - network_set(exc)
    return result


def format_address(value: int) -> str:
    if value < V6_OFFSET:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value - V6_OFFSET))


def format_range(lo: int, hi: int) -> str:
    """`first-last`, as the output contract names an outside range."""
    return f"{format_address(lo)}-{format_address(hi)}"


def address_atoms(sets: list[IntervalSet], ipv6: bool | None = None) -> list[IntervalSet]:
    """The pieces into which the given ipBlocks cut the address space (never across families).

    IPv6 space is included when asked, or (by default) when some given set touches it.
    """
    if ipv6 is None:
        ipv6 = any(s.overlaps(IPV6) for s in sets)
    universe = ALL_ADDRESSES if ipv6 else IPV4
    return cut_points([*sets, IPV4], universe)


def parse_range(text: str) -> IntervalSet:
    """Parse `first-last`, a CIDR or a single address back into a set (used by comparisons)."""
    text = text.strip()
    if "/" in text:
        return network_set(text)
    if "-" in text and text.count("-") == 1:
        lo, hi = text.split("-")
        return IntervalSet.span(address_value(lo), address_value(hi))
    v = address_value(text)
    return IntervalSet.span(v, v)
