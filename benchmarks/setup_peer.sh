#!/usr/bin/env bash
# Install the benchmark peer, network-config-analyzer (nca), into its own venv.
#
# nca pins exact versions of PyYAML, networkx, lxml and kubernetes, so it cannot share
# an environment with netpolicy. Idempotent: a second run only checks the install.
set -euo pipefail

NCA_VERSION="2.1.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${NCA_VENV:-$here/.nca-venv}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi

installed="$("$venv/bin/python" -m pip show network-config-analyzer 2>/dev/null \
    | sed -n 's/^Version: //p' || true)"
if [[ "$installed" != "$NCA_VERSION" ]]; then
    "$venv/bin/python" -m pip install --quiet "network-config-analyzer==$NCA_VERSION"
fi

"$venv/bin/nca" --help >/dev/null
echo "nca $NCA_VERSION ready: $venv/bin/nca"
