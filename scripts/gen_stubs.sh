#!/usr/bin/env bash
# Regenerates python/tokenops/_core.pyi from the installed extension (pybind11-stubgen).
# tests/python/test_stubs.py fails when the committed stub is out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
python3 -m pybind11_stubgen tokenops._core -o "$out" >/dev/null
cp "$out/tokenops/_core.pyi" python/tokenops/_core.pyi
rm -rf "$out"
echo "wrote python/tokenops/_core.pyi"
