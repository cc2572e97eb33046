"""The diff's library surface: sides on common outside pieces, also across address families."""

from __future__ import annotations

import pytest

from netpolicy import api
from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.diff import ConnectivityDiff
from netpolicy.model import (
    Cluster,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    Rule,
)

V4 = "0.0.0.0-255.255.255.255"
V6 = "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def test_ipv6_space_on_one_side_only_is_listed_on_both():
    """Only the old side has an IPv6 pod: x/a's traffic to and from IPv6 space is unchanged
    (open on both sides), so only the pairs of the deleted pod are listed."""
    a = Pod("x", "a", ip="10.0.0.1")
    old = Cluster((Namespace("x"),), (a, Pod("x", "v6", ip="fd00::1")), (), ())
    new = Cluster((Namespace("x"),), (a,), (), ())
    got = [(c.src, c.dst, c.change) for c in api.diff(old, new).changes()]
    assert got == [
        (V4, "x/v6", "removed"),
        (V6, "x/v6", "removed"),
        ("x/a", "x/v6", "removed"),
        ("x/v6", V4, "removed"),
        ("x/v6", V6, "removed"),
        ("x/v6", "x/a", "removed"),
    ]


def test_sides_must_share_their_outside_pieces():
    pods = (Pod("x", "a", ip="10.0.0.1"),)
    block = Peer(ip_block=IPBlock("10.0.0.0/8"))
    policy = NetworkPolicy("x", "p", LabelSelector(), (Rule((block,)),), (), ("Ingress",))
    old = Cluster((Namespace("x"),), pods, (), ())
    new = Cluster((Namespace("x"),), pods, (), (policy,))
    with pytest.raises(ValueError, match="same outside ranges"):
        ConnectivityDiff(compute_connectivity(old), compute_connectivity(new))
    # the library call cuts both by both: the one range of old splits into three
    got = [(c.src, c.dst, c.change) for c in api.diff(old, new).changes()]
    assert got == [
        ("0.0.0.0-9.255.255.255", "x/a", "removed"),
        ("11.0.0.0-255.255.255.255", "x/a", "removed"),
    ]
