"""Whether a larger token budget ever keeps fewer tokens: compress() on real passages at every
target 1..39 and every 7th from 40 to 193, with the default force tokens, with three random words
of the text as force_tokens, and with the item's question.

    python scripts/compression_monotone.py

30 nq-open-oracle gold passages and the first 3,000 characters of 5 MeetingBank transcripts;
prints each violation (a target whose output counts fewer tokens than a smaller target's) and
the total. Needs $TOKENOPS_DATA_DIR/compression. About a minute on 2 cores.
"""

from __future__ import annotations

import gzip
import json
import random

from tokenops.compress import Compressor
from tokenops.compress import evaluate as ev


def main() -> None:
    comp = Compressor("gpt-4o")
    rng = random.Random(0)
    root = ev._root(None)
    with gzip.open(root / "nq_open_oracle" / "nq-open-oracle.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(30), f)]
    texts = [(r["ctxs"][0]["text"], r["question"]) for r in rows]
    mb = json.loads((root / "meetingbank_llmlingua2_demo" / "examples.json").read_text("utf-8"))
    texts += [(ex["original_prompt"][:3000], "") for ex in mb[:5]]
    targets = list(range(1, 40)) + list(range(40, 200, 7))
    bad = total = 0
    for mode in ("default force tokens", "3 forced words", "question"):
        for i, (text, question) in enumerate(texts):
            kw = {"force_tokens": rng.sample([w for w in text.split() if w.isalpha()], 3)} if mode == "3 forced words" else {}
            q = question if mode == "question" else ""
            best = (0, 0)
            for t in targets:
                r = comp.compress(text, q, target_tokens=t, **kw)
                total += 1
                if r.compressed_tokens < best[1]:
                    bad += 1
                    print(f"{mode}, text {i}: target {best[0]} -> {best[1]} tokens, "
                          f"target {t} -> {r.compressed_tokens} {r.text[:60]!r}")
                best = max(best, (t, r.compressed_tokens), key=lambda x: x[1])
    print(f"violations: {bad} of {total} runs")


if __name__ == "__main__":
    main()
