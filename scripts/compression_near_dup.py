"""Near-duplicate detection of tokenops.compress.pack (duplicate_of) on real passages: recall on
edited copies and false positives between distinct passages.

    python scripts/compression_near_dup.py                  # 500 edited NQ passages, all pairs
    python scripts/compression_near_dup.py --n-edit 50 --seed 1

Recall: `pack([p, edited_p], q, 10**6).duplicate_of[1] == 0` for nq-open-oracle gold passages
(~100 words) edited by changing 1, 2, 3, 5 or 10 random words (each replaced by a word drawn from
other passages), cutting the last 5 words, or prefixing "Source: Wikipedia. ".
False positives: every passage of a pool of distinct real passages (nq-open-oracle gold passages
of different questions, LEval multidoc_qa paragraphs, MeetingBank 100-word segments) packed at
once (exact copies removed first). The pools hold some real near copies (the same Wikipedia
passage with other punctuation), so each flagged pair is checked independently with the word
3-shingle Jaccard computed here in Python (lower-cased \\w+ words): a flag on a pair below 0.3 is
a false positive, 0.3-0.5 grey, 0.5 and up a near copy. A brute-force search lists the pairs at
J >= 0.5 whose later passage is not flagged (missed: by the MinHash candidates, or on purpose
when one passage has over 1.25x the other's shingles, the size rule), and the highest J of the
rest.

Needs $TOKENOPS_DATA_DIR/compression. About 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections import defaultdict
from itertools import combinations

from tokenops.compress import evaluate as ev
from tokenops.compress import pack

_WORD = re.compile(r"\w+")


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = _WORD.findall(text.lower())
    return {tuple(w[i:i + 3]) for i in range(len(w) - 2)} or {tuple(w)}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / max(len(a | b), 1)


def _nq_passages() -> list[str]:
    with gzip.open(ev._root(None) / "nq_open_oracle" / "nq-open-oracle.jsonl.gz", "rt", encoding="utf-8") as f:
        out = [json.loads(line)["ctxs"][0]["text"] for line in f]
    return list(dict.fromkeys(out))  # the same gold passage serves several questions


def _multidoc_paragraphs(min_words: int = 30) -> list[str]:
    out = []
    with open(ev._root(None) / "leval" / "multidoc_qa.jsonl", encoding="utf-8") as f:
        for line in f:
            for para in re.split(r"\n\s*\n", json.loads(line)["input"]):
                if len(para.split()) >= min_words:
                    out.append(para.strip())
    return list(dict.fromkeys(out))


def _meetingbank_segments(words: int = 100) -> list[str]:
    data = json.loads((ev._root(None) / "meetingbank_llmlingua2_demo" / "examples.json").read_text("utf-8"))
    out = []
    for ex in data:
        w = ex["original_prompt"].split()
        out.extend(" ".join(w[i:i + words]) for i in range(0, len(w) - words // 2, words))
    return list(dict.fromkeys(out))


def _edit(p: str, k: int, vocab: list[str], rng: random.Random) -> str:
    w = p.split()
    for i in rng.sample(range(len(w)), min(k, len(w))):
        new = w[i]
        while new.lower() == w[i].lower():
            new = rng.choice(vocab)
        w[i] = new
    return " ".join(w)


def recall(passages: list[str], n: int, seed: int) -> None:
    rng = random.Random(seed)
    chosen = rng.sample([p for p in passages if len(p.split()) >= 60], n)
    vocab = sorted({w for p in passages[:2000] for w in p.split() if w.isalpha()})
    edits = {f"{k} word{'s' if k > 1 else ''} changed": (lambda p, k=k: _edit(p, k, vocab, rng)) for k in (1, 2, 3, 5, 10)}
    edits["last 5 words cut"] = lambda p: " ".join(p.split()[:-5])
    edits['"Source: Wikipedia. " prefix'] = lambda p: "Source: Wikipedia. " + p
    print(f"Recall on {n} edited nq-open-oracle passages (seed {seed}): flagged / n, mean shingle Jaccard")
    for name, f in edits.items():
        hit, js = 0, []
        for p in chosen:
            q = f(p)
            js.append(_jaccard(_shingles(p), _shingles(q)))
            hit += int(pack([p, q], "what is it", 10**6).duplicate_of[1] == 0)
        print(f"  {name:32s} {hit:4d} / {n}  ({hit / n:6.1%})   J = {sum(js) / n:.2f}")


def false_positives(name: str, pool: list[str]) -> None:
    res = pack(pool, "what is it", 10**9)
    flagged = [(i, int(d)) for i, d in enumerate(res.duplicate_of) if d >= 0]
    sh = [_shingles(p) for p in pool]
    # brute force over the pairs sharing a shingle (inverted index; a shingle in 200+ passages is
    # too common to make a pair similar on its own)
    index = defaultdict(list)
    for i, s in enumerate(sh):
        for g in s:
            index[g].append(i)
    cand = set()
    for ids in index.values():
        if len(ids) < 200:
            cand.update(combinations(ids, 2))
    near = {(a, b): x for a, b in cand if (x := _jaccard(sh[a], sh[b])) >= 0.3}
    n = len(pool)
    pairs = n * (n - 1) // 2
    fj = [_jaccard(sh[i], sh[d]) for i, d in flagged]
    fp = sum(x < 0.3 for x in fj)
    grey = sum(0.3 <= x < 0.5 for x in fj)
    copies = [(a, b) for (a, b), x in near.items() if x >= 0.5]
    missed = [(a, b) for a, b in copies if res.duplicate_of[b] < 0]
    print(f"{name}: {n:,} distinct passages, {pairs:,} pairs")
    print(f"    flagged {len(flagged)}: {fp} false positives (J < 0.3, {fp / max(pairs, 1):.1e} of pairs), "
          f"{grey} at 0.3 <= J < 0.5, {len(flagged) - fp - grey} near copies (J >= 0.5)")
    print(f"    brute force: {len(copies)} pairs at J >= 0.5 (the later one unflagged in {len(missed)}), "
          f"{len(near) - len(copies)} at 0.3 <= J < 0.5; highest J below 0.3: "
          f"{max((x for a, b in cand if (x := _jaccard(sh[a], sh[b])) < 0.3), default=0):.2f}")
    for i, d in flagged:
        if _jaccard(sh[i], sh[d]) < 0.5:
            print(f"    flagged {i} as dup of {d}: J = {_jaccard(sh[i], sh[d]):.2f}  {pool[i][:60]!r} / {pool[d][:60]!r}")
    for a, b in missed[:5]:
        print(f"    missed {b} ~ {a}: J = {near[(a, b)]:.2f}  {pool[b][:60]!r} / {pool[a][:60]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-edit", type=int, default=500, help="edited passages per edit kind")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.n_edit < 1:
        ap.error("--n-edit must be >= 1")
    nq = _nq_passages()
    recall(nq, a.n_edit, a.seed)
    print("False positives among distinct real passages (all packed at once):")
    false_positives("nq-open-oracle gold passages", nq)
    false_positives("LEval multidoc_qa paragraphs", _multidoc_paragraphs())
    false_positives("MeetingBank 100-word segments", _meetingbank_segments())


if __name__ == "__main__":
    main()
