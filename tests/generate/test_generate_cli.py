"""`netpolicy generate` as people run it: stdout, -o DIR, refusals, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpolicy.generate.policies import MARKER
from netpolicy.load import load_manifests

from ..cli._helpers import DEMO, run, run_many
from .test_intents import ISSUE_EXAMPLE, OTTERIZE
from .test_policies import WEAK


@pytest.fixture
def intents(tmp_path: Path) -> Path:
    path = tmp_path / "intents.yaml"
    path.write_text(ISSUE_EXAMPLE)
    return path


def test_stdout_gets_the_yaml_and_stderr_the_proof(intents: Path) -> None:
    done = run("generate", str(intents), "--cluster", str(DEMO))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{MARKER} from {intents} for namespace payments.")
    assert done.stdout.count("kind: NetworkPolicy") == 9
    assert f"# intent #2 ({intents}:9): shop/backend -> payments/db : postgres" in done.stdout
    err = done.stderr
    assert "Generated 9 NetworkPolicies (7 rules) for 3 intents in 2 namespaces" in err
    assert "ingress half" in err and "egress half" in err and "connections" in err
    assert "Proved: the generated policies allow exactly the intents plus DNS" in err
    assert "Traceback" not in err


def test_output_dir_one_file_per_namespace_and_reruns(intents: Path, tmp_path: Path) -> None:
    out = tmp_path / "policies"
    first = run("generate", str(intents), "--cluster", str(DEMO), "-o", str(out))
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.iterdir()) == ["payments.yaml", "shop.yaml"]
    assert f"wrote {out / 'shop.yaml'} (new)" in first.stdout
    assert "Proved:" in first.stdout
    loaded = load_manifests([out])
    assert len(loaded.cluster.policies) == 9
    assert not [d for d in loaded.diagnostics if d.severity == "error"]
    again = run("generate", str(intents), "--cluster", str(DEMO), "-o", str(out), "--no-dns")
    assert again.returncode == 0, again.stderr
    assert "replaced its earlier generated version" in again.stdout
    assert "allow-dns" not in (out / "shop.yaml").read_text()


def test_never_overwrites_a_file_netpolicy_did_not_write(intents: Path, tmp_path: Path) -> None:
    out = tmp_path / "policies"
    out.mkdir()
    mine = out / "shop.yaml"
    mine.write_text("# my hand-written policies\n")
    done = run("generate", str(intents), "--cluster", str(DEMO), "-o", str(out))
    assert done.returncode == 2
    assert f"{mine} already exists and was not written by netpolicy generate" in done.stderr
    assert "refusing to overwrite" in done.stderr
    assert mine.read_text() == "# my hand-written policies\n"
    assert not (out / "payments.yaml").exists()  # nothing written when one file is refused


def test_a_stale_generated_file_is_kept_and_named(intents: Path, tmp_path: Path) -> None:
    out = tmp_path / "policies"
    out.mkdir()
    (out / "old.yaml").write_text(f"{MARKER} from x for namespace old.\n")
    done = run("generate", str(intents), "--cluster", str(DEMO), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "old.yaml").exists()
    assert "old.yaml was generated before for a namespace these intents no longer govern" in (
        done.stderr.replace("\n", " ")
    )


def test_ingress_only_and_stdin(intents: Path) -> None:
    done = run("generate", "-", "--cluster", str(DEMO), "--ingress-only", stdin=ISSUE_EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert "Egress" not in done.stdout and "egress:" not in done.stdout
    assert "(<stdin>:6)" in done.stdout
    assert "(the ingress half)" in done.stderr


def test_otterize_client_intents(tmp_path: Path) -> None:
    path = tmp_path / "clientintents.yaml"
    path.write_text(OTTERIZE)
    done = run("generate", str(path), "--cluster", str(DEMO))
    assert done.returncode == 0, done.stderr
    assert "# intent #3" in done.stdout and "203.0.113.0/24" in done.stdout
    assert "Proved:" in done.stderr


def test_errors_exit_2_with_located_messages(intents: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ISSUE_EXAMPLE.replace("ports: [8080/TCP]", "ports: [8080/TPC]"))
    weak_cluster = tmp_path / "weak.yaml"
    weak_cluster.write_text(WEAK)
    weak = tmp_path / "weak-intents.yaml"
    weak.write_text(
        "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [web]\nintents:\n"
        "  - {from: web/shop-canary, to: web/shop}\n"
    )
    runs = run_many(
        [
            ["generate", str(bad), "--cluster", str(DEMO)],
            ["generate", str(intents)],
            ["generate", str(weak), "--cluster", str(weak_cluster)],
            ["generate", str(tmp_path / "missing.yaml"), "--cluster", str(DEMO)],
            ["generate"],
            ["generate", str(intents), str(intents)],
            ["generate", "--from-flows", str(intents)],
            ["generate", str(intents), "--widen", "24", "--cluster", str(DEMO)],
            ["generate", "--from-flows", "x", "--from-cluster"],
            ["generate", str(intents), "--cluster", str(tmp_path / "nothing.yaml")],
        ]
    )
    messages = [
        f"{bad}:8: error: '8080/TPC': protocol must be TCP, UDP or SCTP, not 'TPC' "
        "(intents[0].ports[0])",
        "the intents name workloads (payments/db, shop/backend, shop/frontend): give the "
        "cluster's manifests with --cluster PATH",
        f"{weak}:5: error: intent #1: the labels of web/shop[Deployment] (app=web) also select "
        "web/shop-canary[Deployment]: no policy can select it alone. Add a label only it "
        "carries to its pod template, e.g. netpolicy.io/name: shop",
        "missing.yaml: no such intent file",
        "give one intent file (INTENTS), or --from-flows FILE, or --from-cluster",
        "one intent file expected, not 2",
        "--from-flows needs the cluster snapshot (--cluster PATH)",
        "--widen goes with --from-flows",
        "choose one of --from-flows and --from-cluster",
        "nothing.yaml",
    ]
    for done, message in zip(runs, messages, strict=True):
        flat = " ".join(done.stderr.split())
        assert done.returncode == 2, (message, done.stdout, done.stderr)
        assert " ".join(message.split()) in flat, (message, done.stderr)
        assert "Traceback" not in done.stderr
        assert "kind: NetworkPolicy" not in done.stdout


def test_tier_writes_cluster_network_policies_beside_the_namespaces(
    intents: Path, tmp_path: Path
) -> None:
    """--tier baseline: the cluster-wide YAML in DIR/_cluster-wide.yaml, proved; read back
    with the demo it gives the same connections as the NetworkPolicies alone."""
    plain, tiered = tmp_path / "plain", tmp_path / "tiered"
    assert run("generate", str(intents), "--cluster", str(DEMO), "-o", str(plain)).returncode == 0
    done = run(
        "generate", str(intents), "--cluster", str(DEMO), "-o", str(tiered), "--tier", "baseline"
    )
    assert done.returncode == 0, done.stderr
    assert "Proved" in done.stdout + done.stderr
    text = (tiered / "_cluster-wide.yaml").read_text()
    assert text.startswith(f"{MARKER} from {intents}: cluster-wide guardrails (--tier baseline).")
    assert "kind: ClusterNetworkPolicy" in text and "tier: Baseline" in text
    assert "kind: NetworkPolicy" not in text
    listed = [
        [
            line
            for line in run("connlist", str(d), str(DEMO), "-o", "json").stdout.splitlines()
            # the Deny towards ::/0 cuts IPv6 space into other pieces: compare the rest
            if '"::' not in line
        ]
        for d in (plain, tiered)
    ]
    assert listed[0] == listed[1] and len(listed[0]) > 10
    bad = run("generate", str(intents), "--cluster", str(DEMO), "--tier", "both")
    assert bad.returncode == 2 and "--tier both: one of admin, baseline" in bad.stderr
