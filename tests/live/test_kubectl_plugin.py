"""`kubectl netpolicy ...`: the installed `kubectl-netpolicy` script, run by the real kubectl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli._helpers import env as clean_env
from tests.live.conftest import CLUSTER

BIN = Path(sys.executable).parent
PLUGIN = BIN / "kubectl-netpolicy"


def _kubectl(*args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is part of the machine image (see MACHINE-FACTS.md)"
    assert PLUGIN.exists(), f"{PLUGIN} is missing: run pip install -e . (pyproject's scripts)"
    env = {
        **clean_env(),
        "PATH": os.pathsep.join([str(BIN), str(Path(kubectl).parent), "/usr/bin", "/bin"]),
        "KUBECONFIG": str(kubeconfig) if kubeconfig else "/nonexistent",
    }
    return subprocess.run(
        [kubectl, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_kubectl_plugin_list_sees_it():
    result = _kubectl("plugin", "list")
    assert result.returncode == 0, result.stderr
    assert str(PLUGIN) in result.stdout


def test_kubectl_netpolicy_analyze_reads_the_current_context(serve):
    server = serve()
    result = _kubectl("netpolicy", "analyze", "--cluster", kubeconfig=server.kubeconfig())
    assert result.returncode == 0, result.stderr
    assert f'Analyzing cluster "test" ({server.url})' in result.stdout
    assert "Allowed connections" in result.stdout


def test_kubectl_netpolicy_connlist_equals_the_file(serve):
    server = serve()
    served = _kubectl(
        "netpolicy", "connlist", "-o", "json", "--kubeconfig", str(server.kubeconfig())
    )
    assert served.returncode == 0, served.stderr
    from_file = _kubectl("netpolicy", "connlist", "-o", "json", str(CLUSTER))
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(served.stdout) == json.loads(from_file.stdout)


def test_kubectl_netpolicy_without_a_kubeconfig_says_so():
    result = _kubectl("netpolicy", "analyze", "--cluster")
    assert result.returncode == 2
    assert "no kubeconfig found (/nonexistent)" in result.stderr
    assert "Traceback" not in result.stderr
