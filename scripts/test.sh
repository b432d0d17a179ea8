#!/usr/bin/env bash
# The whole test suite: GoogleTest (Release, then Debug with ASan+UBSan) through ctest, and pytest
# against the installed package. Reads shared data from $TOKENOPS_DATA_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
export TOKENOPS_DATA_DIR="${TOKENOPS_DATA_DIR:-$(cd .. && pwd)/shared/data}"
JOBS="${JOBS:-$(nproc)}"

TOKENOPS_EXTRAS="[test]" bash scripts/install.sh

echo "== C++ tests (Release) =="
cmake -S . -B build/cpp-release -DCMAKE_BUILD_TYPE=Release -DTOKENOPS_BUILD_TESTS=ON \
  -DTOKENOPS_BUILD_PYTHON=OFF >/dev/null
cmake --build build/cpp-release -j "$JOBS"
ctest --test-dir build/cpp-release --output-on-failure -j "$JOBS"

if [ "${TOKENOPS_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== C++ tests (Debug, AddressSanitizer + UndefinedBehaviorSanitizer) =="
  cmake -S . -B build/cpp-asan -DCMAKE_BUILD_TYPE=Debug -DTOKENOPS_BUILD_TESTS=ON \
    -DTOKENOPS_BUILD_PYTHON=OFF -DTOKENOPS_SANITIZE=ON >/dev/null
  cmake --build build/cpp-asan -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/cpp-asan --output-on-failure -j "$JOBS"
fi

echo "== Python tests =="
python3 -m pytest -q tests/python "$@"
