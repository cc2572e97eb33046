"""The vectorized matchers (PodColumns) agree with the scalar ones on every pod."""

from hypothesis import given, settings

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
