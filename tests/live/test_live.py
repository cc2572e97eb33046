"""The live path against a local API server: the real list paths, JSON and Status answers
over HTTPS with a bearer token; nothing of netpolicy or of the kubernetes client is mocked."""

from __future__ import annotations

import json
import re
import socket

import yaml
from typer.testing import CliRunner

from netpolicy import api
from netpolicy.cli import app
from netpolicy.cli._common import PARTIAL
from netpolicy.load.live import LiveError, LiveSource, read_snapshot
from tests.cli._helpers import env as clean_env
from tests.live.apiserver import Behaviour
from tests.live.conftest import CLUSTER


def invoke(*args: str, env: dict[str, str] | None = None):
    """The app in-process, with no kubeconfig of this machine in reach."""
    return CliRunner().invoke(
        app, list(args), env={**clean_env(), "KUBECONFIG": "/nonexistent", **(env or {})}
    )


def _connlist(*args: str) -> dict:
    result = invoke("connlist", "-o", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _pods_requests(server) -> list[dict[str, str]]:
    return [query for path, query in server.requests if path.endswith("/pods")]


def test_connlist_from_the_server_equals_connlist_of_the_file(serve):
    server = serve()
    served = _connlist("--kubeconfig", str(server.kubeconfig()))
    assert served == _connlist(str(CLUSTER))
    assert served["connections"]  # the comparison is not between two empty lists


def test_every_command_reads_the_cluster(serve):
    server = serve()
    kubeconfig = str(server.kubeconfig())
    for argv, code in (
        (["coverage"], 0),
        (["blast-radius", "web/debug"], 0),
        (["explain", "web/front-5d8f-a", "data/db-0", "--port", "5432"], 0),
        (["explain", "web/debug", "data/db-0", "--port", "5432"], 1),
        (["connlist", "--exposure"], 0),
    ):
        result = invoke(*argv, "--kubeconfig", kubeconfig)
        assert result.exit_code == code, (argv, result.output)
        from_file = invoke(*argv, str(CLUSTER)).stdout
        if argv[0] == "coverage":  # its title names the input
            result_lines, file_lines = result.stdout.splitlines(), from_file.splitlines()
            assert result_lines[0] == f'NetworkPolicy coverage of cluster "test" ({server.url})'
            assert result_lines[1:] == file_lines[1:]
        elif argv[0] == "explain":  # it names where each rule was written
            where = re.compile(r" \((?:test:/[^)]*|[^()]*cluster\.yaml:\d+)\)")
            assert where.sub("", result.stdout) == where.sub("", from_file), argv
            if code == 0:
                assert "(test:/apis/networking.k8s.io/v1/namespaces/data/networkpolicies/" in (
                    result.stdout
                )
        else:
            assert result.stdout == from_file, argv
    result = invoke("analyze", "--kubeconfig", kubeconfig)
    assert result.exit_code == 0, result.output
    assert "Allowed connections" in result.stdout


def test_lint_finds_the_same_in_the_cluster(serve):
    def findings(*args: str) -> list[dict]:
        result = invoke("lint", "-o", "json", *args)
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)["findings"]
        return sorted(
            ({k: v for k, v in f.items() if k not in ("file", "line")} for f in found),
            key=json.dumps,
        )

    served = findings("--kubeconfig", str(serve().kubeconfig()))
    assert served == findings(str(CLUSTER))
    assert served


def test_analyze_names_the_cluster(serve):
    server = serve()
    result = invoke("analyze", "--kubeconfig", str(server.kubeconfig(context="prod-eu")))
    assert result.exit_code == 0, result.output
    assert f'Analyzing cluster "prod-eu" ({server.url})' in result.stdout


def test_a_list_read_in_two_pages_with_continue(serve):
    server = serve(Behaviour(max_page=4))  # 7 pods: 4, then 3
    assert _connlist("--kubeconfig", str(server.kubeconfig())) == _connlist(str(CLUSTER))
    first, second = _pods_requests(server)
    assert "continue" not in first
    assert second["continue"]
    assert first["limit"] == second["limit"] == "500"


def test_the_library_reports_remaining_items_as_progress(serve):
    server = serve(Behaviour(max_page=3))
    seen: list[tuple[str, int, int | None, bool]] = []
    snapshot = read_snapshot(
        LiveSource(str(server.kubeconfig())), lambda r, n, t, d: seen.append((r.kind, n, t, d))
    )
    assert [s for s in seen if s[0] == "Pod"] == [
        ("Pod", 3, 7, False),
        ("Pod", 6, 7, False),
        ("Pod", 7, 7, True),
    ]
    pods = dict(snapshot.lists)  # type: ignore[arg-type]
    assert not snapshot.missing
    assert all(
        item["kind"] == "Pod" and item["apiVersion"] == "v1"
        for r, items in snapshot.lists
        if r.kind == "Pod"
        for item in items
    )
    assert len(pods) == 10


def test_a_forbidden_kind_is_a_partial_result(serve, objects, tmp_path):
    server = serve(Behaviour(forbidden={"cronjobs"}))
    result = invoke("connlist", "-o", "json", "--kubeconfig", str(server.kubeconfig()))
    assert result.exit_code == PARTIAL, result.output
    assert "forbidden: cannot list cronjobs in all namespaces" in result.stderr
    assert 'grant the verb "list" on the resource "cronjobs" of API group batch' in result.stderr
    assert 'cannot list resource "cronjobs" in API group "batch"' in result.stderr  # the server's
    assert "left out of this analysis: workloads without live pods" in result.stderr
    without = tmp_path / "without-cronjobs.json"
    rest = [o for o in objects if o["kind"] != "CronJob"]
    without.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": rest}))
    assert json.loads(result.stdout) == _connlist(str(without))
    assert "data/backup[CronJob]" not in result.stdout


def test_forbidden_policies_say_the_result_means_nothing(serve):
    server = serve(Behaviour(forbidden={"networkpolicies"}))
    result = invoke("analyze", "--kubeconfig", str(server.kubeconfig()))
    assert result.exit_code == PARTIAL, result.output
    assert "no NetworkPolicy is known: every pod looks open" in result.stderr


def test_a_command_that_fails_keeps_its_own_exit_code_when_partial(serve):
    server = serve(Behaviour(forbidden={"jobs"}))
    result = invoke(
        "explain",
        "web/debug",
        "data/db-0",
        "--port",
        "5432",
        "--kubeconfig",
        str(server.kubeconfig()),
    )
    assert result.exit_code == 1, result.output
    assert "forbidden: cannot list jobs" in result.stderr


def test_everything_forbidden_is_no_input(serve):
    every = {
        "namespaces",
        "pods",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "replicationcontrollers",
        "jobs",
        "cronjobs",
        "networkpolicies",
    }
    server = serve(Behaviour(forbidden=every))
    result = invoke("analyze", "--kubeconfig", str(server.kubeconfig()))
    assert result.exit_code == 2
    assert "every list was forbidden" in result.stderr
    assert "Traceback" not in result.output


def test_an_expired_continue_token_restarts_the_list(serve):
    server = serve(Behaviour(max_page=3, expire_once={"pods"}))
    result = invoke("connlist", "-o", "json", "--kubeconfig", str(server.kubeconfig()))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == _connlist(str(CLUSTER))
    assert "duplicate" not in result.stderr  # the pages before the 410 were dropped
    asked = ["continue" in q for q in _pods_requests(server)]
    # page 1, page 2 → 410 Gone; then the list again from its start: 3 pages
    assert asked == [False, True, False, True, True]


def test_a_list_that_keeps_expiring_is_left_out(serve):
    server = serve(Behaviour(max_page=3, expire_always={"pods"}))
    result = invoke("connlist", "-o", "json", "--kubeconfig", str(server.kubeconfig()))
    assert result.exit_code == PARTIAL, result.output
    assert "the list of pods kept expiring (410 Gone on its continue token 4 times)" in (
        result.stderr
    )
    assert [("continue" in q) for q in _pods_requests(server)] == [False, True] * 4
    assert "data/db[StatefulSet]" in result.stdout  # workloads stand for the pods


def test_namespace_got_alone_when_namespaces_cannot_be_listed(serve):
    server = serve(Behaviour(forbidden_lists={"namespaces"}))
    result = invoke("analyze", "--kubeconfig", str(server.kubeconfig()), "-n", "web")
    assert result.exit_code == 0, result.output
    assert ("/api/v1/namespaces/web", {}) in server.requests


def test_an_invalid_token_is_a_clear_401(serve, tmp_path):
    server = serve()
    kubeconfig = server.kubeconfig(tmp_path / "stale", token="expired")
    result = invoke("analyze", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 2
    assert "refused the credentials (401 Unauthorized)" in result.stderr
    assert "token is expired or invalid" in result.stderr
    assert "Traceback" not in result.output


def test_an_unreachable_server_is_a_clear_message(serve, tmp_path):
    server = serve()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = server.kubeconfig(tmp_path / "gone").read_text().replace(f":{server.port}", f":{port}")
    (tmp_path / "gone").write_text(text)
    result = invoke("connlist", "--kubeconfig", str(tmp_path / "gone"))
    assert result.exit_code == 2
    assert f'cannot reach the API server of cluster "test" (https://127.0.0.1:{port})' in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_a_certificate_the_kubeconfig_does_not_trust(serve, tmp_path):
    first, second = serve(), serve()  # two servers, two CAs
    text = json.loads(first.kubeconfig(tmp_path / "mixed").read_text())
    text["clusters"][0]["cluster"]["server"] = second.url
    (tmp_path / "mixed").write_text(json.dumps(text))
    result = invoke("analyze", "--kubeconfig", str(tmp_path / "mixed"))
    assert result.exit_code == 2
    assert "cannot reach the API server" in result.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_kubeconfig_mistakes(serve, tmp_path):
    kubeconfig = str(serve().kubeconfig())
    result = invoke("analyze", "--kubeconfig", kubeconfig, "--context", "nope")
    assert result.exit_code == 2
    assert "no context 'nope' (known: test)" in result.stderr
    result = invoke("analyze", "--kubeconfig", str(tmp_path / "absent"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    (tmp_path / "broken").write_text("clusters: [")
    result = invoke("analyze", "--kubeconfig", str(tmp_path / "broken"))
    assert result.exit_code == 2
    assert "cannot use kubeconfig" in result.stderr
    assert "Traceback" not in result.output
    result = invoke("analyze", str(CLUSTER), "--kubeconfig", kubeconfig)
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_current_context_from_kubeconfig_env(serve):
    server = serve()
    result = invoke(
        "connlist", "-o", "json", "--cluster", env={"KUBECONFIG": str(server.kubeconfig())}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == _connlist(str(CLUSTER))


def test_namespace_reads_only_that_namespace(serve):
    server = serve()
    result = invoke("connlist", "-o", "json", "--kubeconfig", str(server.kubeconfig()), "-n", "web")
    assert result.exit_code == 0, result.output
    paths = {path for path, _ in server.requests}
    assert "/api/v1/namespaces/web/pods" in paths
    assert "/api/v1/namespaces" in paths  # every Namespace: their labels decide selectors
    assert "/api/v1/pods" not in paths
    assert "only namespace web was read (-n)" in result.stderr
    connections = json.loads(result.stdout)["connections"]
    assert connections
    for c in connections:
        assert c["src"].startswith("web/") or c["dst"].startswith("web/")
        for end in (c["src"], c["dst"]):  # no pod of another namespace was read
            assert "/" not in end or end.startswith("web/"), end


def test_namespace_without_a_cluster_is_bad_usage():
    result = invoke("analyze", "-n", "web")
    assert result.exit_code == 2
    assert "add --cluster" in result.stderr
    result = invoke("analyze", "--cluster", "-n", "web", "--all-namespaces")
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr


def test_namespace_alone_when_namespaces_cannot_be_listed(serve):
    server = serve(Behaviour(forbidden=set()))
    server.behaviour.forbidden.add("namespaces")  # list and get alike
    result = invoke("analyze", "--kubeconfig", str(server.kubeconfig()), "-n", "web")
    assert result.exit_code == PARTIAL, result.output
    assert "cannot list namespaces (cluster-scoped)" in result.stderr


def test_dump_saves_a_list_that_reads_as_the_cluster(serve, tmp_path):
    kubeconfig = str(serve(Behaviour(max_page=2)).kubeconfig())
    target = tmp_path / "snapshot.json"
    result = invoke("dump", "--kubeconfig", kubeconfig, "-o", str(target))
    assert result.exit_code == 0, result.output
    doc = json.loads(target.read_text())
    assert doc["kind"] == "List"
    assert all("kind" in item and "apiVersion" in item for item in doc["items"])
    assert _connlist(str(target)) == _connlist(str(CLUSTER))
    # never overwritten silently
    again = invoke("dump", "--kubeconfig", kubeconfig, "-o", str(target))
    assert again.exit_code == 2
    assert "exists" in again.stderr
    assert invoke("dump", "--kubeconfig", kubeconfig, "-o", str(target), "--force").exit_code == 0
    # YAML by extension; stdout by default
    as_yaml = tmp_path / "snapshot.yaml"
    assert invoke("dump", "--kubeconfig", kubeconfig, "-o", str(as_yaml)).exit_code == 0
    assert yaml.safe_load(as_yaml.read_text())["kind"] == "List"
    assert _connlist(str(as_yaml)) == _connlist(str(CLUSTER))
    out = invoke("dump", "--kubeconfig", kubeconfig)
    assert out.exit_code == 0
    assert json.loads(out.stdout)["items"] == doc["items"]


def test_dump_of_a_partial_cluster_exits_partial(serve, tmp_path):
    kubeconfig = str(serve(Behaviour(forbidden={"pods"})).kubeconfig())
    result = invoke("dump", "--kubeconfig", kubeconfig, "-o", str(tmp_path / "s.json"))
    assert result.exit_code == PARTIAL
    assert "forbidden: cannot list pods" in result.stderr
    kinds = {item["kind"] for item in json.loads((tmp_path / "s.json").read_text())["items"]}
    assert "Pod" not in kinds
    assert "NetworkPolicy" in kinds


def test_diff_of_the_cluster_against_a_file(serve, objects, tmp_path):
    kubeconfig = str(serve().kubeconfig())
    same = invoke("diff", "--kubeconfig", kubeconfig, str(CLUSTER), "-o", "json")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["changes"] == []
    changed = tmp_path / "changed.json"
    rest = [o for o in objects if o["metadata"]["name"] != "front-egress"]
    changed.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": rest}))
    result = invoke("diff", "--kubeconfig", kubeconfig, str(changed), "-o", "json")
    assert result.exit_code == 0
    assert any(c["change"] == "added" for c in json.loads(result.stdout)["changes"])


def test_the_library_raises_live_error(tmp_path):
    try:
        api.load_cluster(LiveSource(str(tmp_path / "none")))
    except LiveError as e:
        assert "does not exist" in str(e)
    else:
        raise AssertionError("expected LiveError")


def test_objects_are_located_by_their_api_path(serve, objects):
    broken = [
        *objects,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "bad", "namespace": "web"},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 70}]}]},
        },
    ]
    server = serve(served=broken)
    result = invoke("lint", "--kubeconfig", str(server.kubeconfig()))
    assert "test:/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/bad: error:" in (
        result.stderr
    )


def test_generate_reads_the_cluster_through_the_kubeconfig(serve, tmp_path):
    # generate's own --cluster takes manifests; --kubeconfig reads the same objects live,
    # and the policies written (and proved) are the same
    intents = tmp_path / "intents.yaml"
    intents.write_text(
        "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [web]\nintents:\n"
        "  - {from: web/debug, to: web/front, ports: [8080/TCP]}\n"
    )
    served = invoke("generate", str(intents), "--kubeconfig", str(serve().kubeconfig()))
    assert served.exit_code == 0, served.output
    from_file = invoke("generate", str(intents), "--cluster", str(CLUSTER))
    assert from_file.exit_code == 0, from_file.output
    assert served.stdout == from_file.stdout
    assert "kind: NetworkPolicy" in served.stdout
