"""SentencePiece BPE: tokenops against the sentencepiece library (Google's C++), Mistral's v1 and
v3 tokenizer.model files, on the same bytes of each corpus category as benchmarks/tokenizer.py,
after an exactness gate.

    pip install sentencepiece mistral-common
    TOKENOPS_DATA_DIR=../shared/data python benchmarks/tokenizer_sentencepiece.py [--repeat 5]

Single-thread encode, the engines interleaved round by round; MB/s and the ratio. Each category
is one text of up to 900,000 characters (sentencepiece merges over the whole text; tokenops
splits it into words where that is provably the same), then "messages": the prose cut into
2,000 pieces of 400 characters encoded one call each, as a service sees them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tokenops import SentencePieceEncoding
from tokenops._paths import data_dir
from tokenops.tokenizer.sentencepiece import MISTRAL_MODELS

from tokenizer import CATEGORIES, MAX_CHARS, best_times  # noqa: E402 (benchmarks/ is the script's folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import mistral_common
    import sentencepiece as spm

    corpus = data_dir() / "corpus"
    texts = {cat: "".join((corpus / f).read_text(encoding="utf-8") for f in files)[:MAX_CHARS]
             for cat, files in CATEGORIES.items()}
    prose = texts["prose"]
    texts["messages"] = [prose[i:i + 400] for i in range(0, 2000 * 400, 400)]
    for name in ("mistral_v1", "mistral_v3"):
        path = Path(mistral_common.__file__).parent / "data" / MISTRAL_MODELS[name][0]
        ours = SentencePieceEncoding.load(name)
        ref = spm.SentencePieceProcessor(model_file=str(path))
        print(f"\n{name} ({path.name})")
        print(f"{'category':<14}{'tokenops MB/s':>15}{'sentencepiece MB/s':>20}{'ratio':>8}")
        for cat, text in texts.items():
            parts = text if isinstance(text, list) else [text]
            if [ours.encode(t) for t in parts] != [ref.encode(t) for t in parts]:
                raise SystemExit(f"{name} {cat}: ids differ from sentencepiece; not timing")
            mb = sum(len(t.encode()) for t in parts) / 1e6
            best = best_times({"ours": lambda: [ours.encode(t) for t in parts],
                               "ref": lambda: [ref.encode(t) for t in parts]}, args.repeat)
            print(f"{cat:<14}{mb / best['ours']:>15.1f}{mb / best['ref']:>20.1f}{best['ref'] / best['ours']:>7.2f}x")


if __name__ == "__main__":
    main()
