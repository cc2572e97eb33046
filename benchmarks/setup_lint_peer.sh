#!/usr/bin/env bash
# Install the lint benchmark's peer, kube-netpol (a textual NetworkPolicy linter), into its
# own venv, so that its dependencies never meet netpolicy's.
#
# Idempotent: a second run only checks the install.
set -euo pipefail

KUBE_NETPOL_VERSION="1.0.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${KUBE_NETPOL_VENV:-$here/.kube-netpol-venv}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi

installed="$("$venv/bin/python" -m pip show kube-netpol 2>/dev/null \
    | sed -n 's/^Version: //p' || true)"
if [[ "$installed" != "$KUBE_NETPOL_VERSION" ]]; then
    "$venv/bin/python" -m pip install --quiet "kube-netpol==$KUBE_NETPOL_VERSION"
fi

"$venv/bin/kube-netpol" --help >/dev/null
echo "kube-netpol $KUBE_NETPOL_VERSION ready: $venv/bin/kube-netpol"
