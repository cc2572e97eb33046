"""Set-algebra laws of IntervalSet and ConnectionSet (hypothesis)."""

from hypothesis import given
from hypothesis import strategies as st

from netpolicy.semantics import ALL_PORTS, ConnectionSet, IntervalSet, cut_points

ranges = st.lists(
    st.tuples(st.integers(1, 200), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=6,
)
sets = ranges.map(IntervalSet)
UNIVERSE = IntervalSet.span(1, 240)


def members(s: IntervalSet) -> set[int]:
    return {v for lo, hi in s for v in range(lo, hi + 1)}


@given(sets, sets)
def test_union_intersection_difference_agree_with_python_sets(a, b):
    assert members(a | b) == members(a) | members(b)
    assert members(a & b) == members(a) & members(b)
    assert members(a - b) == members(a) - members(b)


@given(sets, sets)
def test_de_morgan(a, b):
    assert (a | b).complement(UNIVERSE) == a.complement(UNIVERSE) & b.complement(UNIVERSE)
    assert (a & b).complement(UNIVERSE) == a.complement(UNIVERSE) | b.complement(UNIVERSE)


@given(sets)
def test_identities(a):
    assert a | IntervalSet.empty() == a
    assert a & UNIVERSE == a
    assert (a - a).is_empty()
    assert a.is_subset(a | IntervalSet.span(5, 9))


@given(sets, st.integers(0, 250))
def test_membership_agrees_with_and(a, v):
    assert (v in a) == bool(a & IntervalSet.span(v, v))


@given(sets)
def test_canonical_form(a):
    rs = a.ranges
    assert all(rs[i][1] + 1 < rs[i + 1][0] for i in range(len(rs) - 1))
    assert IntervalSet(rs) == a and hash(IntervalSet(rs)) == hash(a)


@given(st.lists(sets, max_size=4))
def test_cut_points_partition_and_refine(pieces):
    atoms = cut_points(pieces, UNIVERSE)
    covered = IntervalSet.empty()
    for atom in atoms:
        assert not (covered & atom)
        covered = covered | atom
        for p in pieces:
            assert atom.is_subset(p) or not atom.overlaps(p)
    assert covered == UNIVERSE


def test_connection_set_describe():
    tcp80 = ConnectionSet.port("TCP", 80, 81)
    udp53 = ConnectionSet.port("UDP", 53)
    assert (tcp80 | udp53).describe() == "TCP 80-81,UDP 53"
    assert ConnectionSet.all().describe() == "All Connections"
    everything_but = ConnectionSet.all() - ConnectionSet.port("TCP", 80)
    assert everything_but.describe() == "TCP 1-79,81-65535,UDP 1-65535,SCTP 1-65535"
    assert (tcp80 | udp53).to_contract() == [
        {"protocol": "TCP", "from": 80, "to": 81},
        {"protocol": "UDP", "from": 53, "to": 53},
    ]
    assert ConnectionSet.of("SCTP").ports("SCTP") == ALL_PORTS
    assert not (ConnectionSet.all() & ConnectionSet.none())


PROTOCOL_NAMES = ("TCP", "UDP", "SCTP")
connection_sets = st.lists(
    st.tuples(st.sampled_from(PROTOCOL_NAMES), st.integers(1, 65535), st.integers(0, 40)),
    max_size=4,
).map(
    lambda specs: ConnectionSet.union(
        ConnectionSet.port(p, lo, min(lo + width, 65535)) for p, lo, width in specs
    )
)


@given(st.lists(connection_sets, max_size=5))
def test_connection_set_union_is_the_fold_of_or(parts):
    folded = ConnectionSet.none()
    for part in parts:
        folded = folded | part
    assert ConnectionSet.union(parts) == folded
    assert hash(ConnectionSet.union(parts)) == hash(folded)
    for p in PROTOCOL_NAMES:
        expected = set()
        for part in parts:
            expected |= members(part.ports(p))
        assert members(ConnectionSet.union(parts).ports(p)) == expected


@given(connection_sets, connection_sets)
def test_connection_set_algebra_matches_each_protocol(a, b):
    for p in PROTOCOL_NAMES:
        assert (a | b).ports(p) == a.ports(p) | b.ports(p)
        assert (a & b).ports(p) == a.ports(p) & b.ports(p)
        assert (a - b).ports(p) == a.ports(p) - b.ports(p)
        assert (~a).ports(p) == ALL_PORTS - a.ports(p)
    assert (a | b) == ConnectionSet({p: (a | b).ports(p) for p in PROTOCOL_NAMES})
