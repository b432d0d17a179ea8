"""Router throughput: feature extraction + scoring per query in the C++ core (batch API, one
thread), side by side with the equivalent scikit-learn pipeline (HashingVectorizer + logistic
regression predict_proba) on the same real prompts, and end-to-end with the native MiniLM
embedder (a kNN head over the embedding). The default router estimates the token count in its
one pass over the bytes; a row with the exact o200k_base count shows what the tokenizer pass
costs.

    python benchmarks/router.py [--n 5000] [--repeat 3]

RouteLLM itself cannot run here: its MF router calls the OpenAI embeddings API per prompt and its
other routers need PyTorch checkpoints from the Hugging Face hub; see the README for its
published numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best_of(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-embed", action="store_true")
    args = ap.parse_args()

    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression

    from tokenops.router import FeatureConfig, Router
    from tokenops.router.data import load_routellm
    from tokenops.router.train import fit_router

    pool = []
    for name in ("mt-bench", "gsm8k", "mmlu"):
        pool += load_routellm(name).prompts
    rng = np.random.default_rng(0)
    prompts = [pool[i] for i in rng.integers(0, len(pool), args.n)]
    mean_chars = np.mean([len(p) for p in prompts])
    print(f"{len(prompts)} real prompts (MMLU/GSM8K/MT-Bench mix), mean {mean_chars:.0f} chars; "
          f"best of {args.repeat}; 1 thread")

    rows = []
    default = Router.default()
    default.score(prompts[:10])
    t_def = best_of(lambda: default.score(prompts, num_threads=1), args.repeat)
    rows.append(("default router: est. tokens + word 1-2-grams + dense, logistic", t_def))

    bench = load_routellm("gsm8k")
    q = bench.quality01
    exact = fit_router("logistic", bench.prompts, q, ["s", "w"], strong="s", weak="w",
                       features=FeatureConfig(hash_bits=16, word_ngrams=(1, 2), dense=True,
                                              encoding="o200k_base")).load()
    exact.score(prompts[:10])
    rows.append(("same, exact o200k_base token count (tokenizer pass)",
                 best_of(lambda: exact.score(prompts, num_threads=1), args.repeat)))
    lex = FeatureConfig(hash_bits=16, word_ngrams=(1, 2), dense=False)
    lin = fit_router("logistic", bench.prompts, q, ["s", "w"], strong="s", weak="w", features=lex).load()
    t_lin = best_of(lambda: lin.score(prompts, num_threads=1), args.repeat)
    rows.append(("tokenops: hashed word 1-2-grams + logistic", t_lin))
    mf = fit_router("mf", bench.prompts, q, ["s", "w"], strong="s", weak="w",
                    features=FeatureConfig(hash_bits=14, word_ngrams=(1, 2), dense=True), iters=20).load()
    rows.append(("tokenops: MF head sigma(w2^T((v_s-v_w)*W1^T x)), lexical+dense",
                 best_of(lambda: mf.score(prompts, num_threads=1), args.repeat)))

    hv = HashingVectorizer(n_features=2 ** 16, ngram_range=(1, 2), alternate_sign=True)
    clf = LogisticRegression(max_iter=200).fit(hv.transform(bench.prompts), q[:, 1] < 0.5)
    t_sk = best_of(lambda: clf.predict_proba(hv.transform(prompts)), args.repeat)
    rows.append(("scikit-learn: HashingVectorizer(1,2) + LogisticRegression", t_sk))

    if not args.no_embed:
        try:
            from tokenops.router.embedding import embed_cached, embedding_feature_config, load_embedder

            emb = load_embedder()
            sub = prompts[:200]
            emb.embed(sub[:4], num_threads=1)
            t_emb = best_of(lambda: emb.embed(sub, num_threads=1), 1) * len(prompts) / len(sub)
            E = embed_cached(bench.prompts, emb)
            cfg = embedding_feature_config(emb.dim)
            knn = fit_router("knn", bench.prompts, q, ["s", "w"], strong="s", weak="w", features=cfg,
                             embeddings=E, k=20).load()
            Es = embed_cached(prompts, emb)
            t_knn = best_of(lambda: knn.score(prompts, embeddings=Es, num_threads=1), args.repeat)
            rows.append(("native MiniLM embedding (1 thread)", t_emb))
            rows.append(("kNN head over 1,307 GSM8K embeddings (embedding given)", t_knn))
            rows.append(("end to end: MiniLM embed + kNN (1 thread)", t_emb + t_knn))
        except (ImportError, OSError, FileNotFoundError) as e:
            print("embedder unavailable:", e)

    print(f"{'pipeline':<70}{'us/query':>10}{'queries/s':>12}")
    for name, t in rows:
        print(f"{name:<70}{t / len(prompts) * 1e6:>10.2f}{len(prompts) / t:>12,.0f}")
    print(f"ratio scikit-learn / tokenops, same lexical logistic router: {t_sk / t_lin:.1f}x; "
          f"scikit-learn lexical / tokenops default router (which adds 22 dense signals): "
          f"{t_sk / t_def:.1f}x")


if __name__ == "__main__":
    main()
