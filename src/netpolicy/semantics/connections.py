"""ConnectionSet: the ports a connection may use, as protocol -> set of port numbers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netpolicy.model import PROTOCOLS, Protocol
from netpolicy.semantics.intervals import IntervalSet

ALL_PORTS = IntervalSet.span(1, 65535)


class ConnectionSet:
    """An immutable set of (protocol, port) pairs over TCP, UDP and SCTP, ports 1..65535."""

    __slots__ = ("_by_proto",)

    _by_proto: tuple[tuple[Protocol, IntervalSet], ...]

    def __init__(self, by_protocol: Mapping[Protocol, IntervalSet] | None = None) -> None:
        items = by_protocol or {}
        object.__setattr__(
            self,
            "_by_proto",
            tuple((p, items[p] & ALL_PORTS) for p in PROTOCOLS if items.get(p)),
        )

    @classmethod
    def _within(cls, by_protocol: Mapping[Protocol, IntervalSet]) -> ConnectionSet:
        """From port sets already inside 1..65535 (made from other ConnectionSets)."""
        new = cls.__new__(cls)
        object.__setattr__(
            new, "_by_proto", tuple((p, by_protocol[p]) for p in PROTOCOLS if by_protocol.get(p))
        )
        return new

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ConnectionSet is immutable")

    @classmethod
    def all(cls) -> ConnectionSet:
        return _ALL

    @classmethod
    def none(cls) -> ConnectionSet:
        return _NONE

    @classmethod
    def of(cls, protocol: Protocol, ports: IntervalSet | None = None) -> ConnectionSet:
        """Every port of `protocol`, or just `ports`."""
        return cls({protocol: ALL_PORTS if ports is None else ports})

    @classmethod
    def port(cls, protocol: Protocol, lo: int, hi: int | None = None) -> ConnectionSet:
        return cls({protocol: IntervalSet.span(lo, lo if hi is None else hi)})

    def ports(self, protocol: Protocol) -> IntervalSet:
        for p, s in self._by_proto:
            if p == protocol:
                return s
        return IntervalSet.empty()

    def items(self) -> tuple[tuple[Protocol, IntervalSet], ...]:
        return self._by_proto

    def _combine(self, other: ConnectionSet, op: str) -> ConnectionSet:
        out: dict[Protocol, IntervalSet] = {}
        for p in PROTOCOLS:
            a, b = self.ports(p), other.ports(p)
            out[p] = a | b if op == "|" else a & b if op == "&" else a - b
        return ConnectionSet._within(out)

    def __or__(self, other: ConnectionSet) -> ConnectionSet:
        if not other._by_proto:
            return self
        if not self._by_proto:
            return other
        return self._combine(other, "|")

    def __and__(self, other: ConnectionSet) -> ConnectionSet:
        if self is _ALL:
            return other
        if other is _ALL:
            return self
        return self._combine(other, "&")

    def __sub__(self, other: ConnectionSet) -> ConnectionSet:
        return self._combine(other, "-")

    def __invert__(self) -> ConnectionSet:
        return _ALL - self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectionSet) and self._by_proto == other._by_proto

    def __hash__(self) -> int:
        return hash(self._by_proto)

    def __bool__(self) -> bool:
        return bool(self._by_proto)

    def is_empty(self) -> bool:
        return not self._by_proto

    def is_all(self) -> bool:
        return self == _ALL

    def is_subset(self, other: ConnectionSet) -> bool:
        return (self - other).is_empty()

    def allows(self, protocol: Protocol, port: int) -> bool:
        return port in self.ports(protocol)

    def __repr__(self) -> str:
        return f"ConnectionSet({self.describe()})"

    def describe(self) -> str:
        """`TCP 80-81,UDP 53`, or `All Connections` / `No Connections`."""
        if self.is_all():
            return "All Connections"
        if self.is_empty():
            return "No Connections"
        return ",".join(
            f"{p} " + ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in s)
            for p, s in self._by_proto
        )

    def to_contract(self) -> list[dict[str, object]]:
        """The `ports` list of the JSON output contract."""
        return [{"protocol": p, "from": lo, "to": hi} for p, s in self._by_proto for lo, hi in s]

    @classmethod
    def union(cls, sets: Iterable[ConnectionSet]) -> ConnectionSet:
        """Every port of any of `sets`: each protocol's ranges merged once (not pairwise)."""
        ranges: dict[Protocol, list[tuple[int, int]]] = {}
        for s in sets:
            for p, ports in s._by_proto:
                ranges.setdefault(p, []).extend(ports.ranges)
        return cls._within({p: IntervalSet(r) for p, r in ranges.items()})


_ALL = ConnectionSet(dict.fromkeys(PROTOCOLS, ALL_PORTS))
_NONE = ConnectionSet()
