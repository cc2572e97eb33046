"""The vectorized matchers (PodColumns) agree with the scalar ones on every pod."""

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy.model import Cluster
from netpolicy.semantics import Evaluator
from netpolicy.semantics.columns import PodColumns
from tests.strategies import clusters


@settings(max_examples=200, deadline=None)
@given(clusters())
def test_columns_agree_with_scalar_matchers(cluster: Cluster):
    ev = Evaluator(cluster)
    infos = [ev.pod_info(p) for p in cluster.pods]
    cols = PodColumns(infos)
    for cp in ev.policies:
        assert list(cols.selected_by(cp)) == [cp.selects(i) for i in infos]
        for rule in (*cp.ingress, *cp.egress):
            for peer in rule.peers:
                assert list(cols.matched_by(peer)) == [peer.matches_pod(i) for i in infos]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(0, 2**32 - 1), st.integers(0, 2**160)), max_size=8),
    st.lists(st.tuples(st.integers(0, 2**34), st.integers(0, 2**34)), max_size=4),
    st.booleans(),
)
def test_address_mask_agrees_with_membership(addresses, spans, wide):
    """By binary search (every address fits int64) or one by one (IPv6): the same answer."""
    from netpolicy.semantics import IntervalSet, PodInfo

    if not wide:
        addresses = [a if a is None or a < 2**63 else a % 2**40 for a in addresses]
    ranges = IntervalSet.empty()
    for lo, hi in spans:
        ranges = ranges | IntervalSet.span(min(lo, hi), max(lo, hi))
    if wide:
        ranges = ranges | IntervalSet.span(2**100, 2**130)
    pods = [PodInfo("x", f"p{i}", {}, {}, (), a) for i, a in enumerate(addresses)]
    got = list(PodColumns(pods).address_mask(ranges))
    assert got == [a is not None and a in ranges for a in addresses]
