"""The benchmarks run on demand, not in CI, so nothing used to notice when one stopped running
(benchmarks/compression.py called a cache that Baselines no longer has and died before printing a
row). Each one runs here once on a tiny input: exit status 0 and its table header printed. No
timing is read or asserted."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokenops._paths import data_dir

ROOT = Path(__file__).resolve().parents[2]

# (script and arguments, a line fragment its output must hold, modules it needs)
RUNS = [
    (["compression.py", "--sizes", "300", "--repeat", "1"], "tokenops model-free", ()),
    (["cost.py", "--rows", "200", "--litellm-rows", "50", "--tasks", "5"], "", ("litellm",)),
    (["router.py", "--n", "50", "--repeat", "1", "--no-embed"], "", ()),
    (["tokenizer.py", "--encodings", "cl100k_base", "--repeat", "1", "--sections", "encode,count,load",
      "--allow-missing-peers"], "encode_ordinary", ("tiktoken",)),
    (["tokenizer_ab.py", "--repeat", "1", "--files", "en_moby_dick.txt", "--encodings", "cl100k_base"],
     "cl100k en_moby_dick", ()),
    (["tokenizer_batch_sizes.py", "--repeat", "1"], "", ()),
    (["tokenizer_unstable.py", "--repeat", "1", "--encodings", "cl100k_base"], "", ("tiktoken",)),
    (["tokenizer_tekken.py", "--repeat", "1"], "emoji", ("mistral_common",)),
    (["tokenizer_sentencepiece.py", "--repeat", "1"], "messages", ("mistral_common", "sentencepiece")),
    (["mistral_chat.py", "--conversations", "20", "--repeat", "1"], "mistral_v7", ("mistral_common",)),
    (["embedder.py", "--quick"], "load time and peak RSS", ("torch", "sentence_transformers", "onnxruntime", "onnx")),
    # GPTCache pip-installs what it misses at run time, so all three are required up front
    (["cache.py", "--quick"], "get hit (semantic)", ("gptcache", "sqlalchemy", "faiss")),
]


@pytest.mark.parametrize(("args", "expect", "needs"), RUNS, ids=[r[0][0] for r in RUNS])
def test_benchmark_runs(args: list[str], expect: str, needs: tuple[str, ...]) -> None:
    for mod in needs:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{args[0]} compares with {mod}, which is not installed")
    data = data_dir()
    if data is None or not (data / "corpus").is_dir():
        pytest.skip("shared data folder not found")
    env = dict(os.environ, TOKENOPS_DATA_DIR=str(data))
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]], cwd=ROOT, env=env, check=False,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{args[0]} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    assert p.stdout.strip(), f"{args[0]} printed nothing"
    assert expect in p.stdout, f"{args[0]}: no '{expect}' in\n{p.stdout[-2000:]}"
