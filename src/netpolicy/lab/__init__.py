"""The packet lab: pods as network namespaces behind a router that enforces an nftables ruleset.

with build_lab(LabSpec(pods)) as lab:
    apply_ruleset(lab, text)
    results = probe_all(lab, probes)
"""

from netpolicy.lab.errors import LabError
from netpolicy.lab.preflight import check_prerequisites, require_prerequisites
from netpolicy.lab.probe import Probe, ProbeResult, probe_all
from netpolicy.lab.ruleset import (
    apply_ruleset,
    clear_ruleset,
    flush_router_conntrack,
    ruleset_counters,
)
from netpolicy.lab.topology import (
    Lab,
    LabPod,
    LabProtocol,
    LabSpec,
    Progress,
    build_lab,
    lab_down,
    lab_namespaces,
    new_prefix,
)

__all__ = [
    "Lab",
    "LabError",
    "LabPod",
    "LabProtocol",
    "LabSpec",
    "Probe",
    "ProbeResult",
    "Progress",
    "apply_ruleset",
    "build_lab",
    "check_prerequisites",
    "clear_ruleset",
    "flush_router_conntrack",
    "lab_down",
    "lab_namespaces",
    "new_prefix",
    "probe_all",
    "require_prerequisites",
    "ruleset_counters",
]
