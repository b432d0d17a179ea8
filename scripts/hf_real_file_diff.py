"""Differential check of ``tokenops.Encoding.from_hf_tokenizer_json`` against Hugging Face
``tokenizers`` (pinned 0.23.3) on REAL vocabularies and the corpus, the complement of
``scripts/hf_loader_fuzz.py`` (tiny synthetic files).

    pip install tokenizers==0.23.3
    TOKENOPS_DATA_DIR=... python scripts/hf_real_file_diff.py [--seed 0] [--slices 200] [--out DIR]

Base files: every ``tokenizers/*/tokenizer.json`` of the data folder (GPT-2), plus Llama-3's
``tokenizers/llama3/tokenizer.model`` converted to a ``tokenizer.json`` the way transformers'
``TikTokenConverter`` writes Meta's (all-pairs merges, ``ignore_merges: true``, the Llama-3
Split regex, 256 special added tokens), unless ``--no-llama3``.
Each base is also mutated the way users' files look (RoBERTa ``<mask>`` with lstrip, ChatML
specials, tool tokens of both ``normalized`` kinds, rstrip tokens, an added token that is a vocab
key, added tokens out of order / with wrong ids / repeated, white-space tokens); the mutated files
are written under ``--out``. On every file that tokenops loads, for every corpus file (whole), for
``--slices`` random slices (cut anywhere, mid-word and mid-line) and for texts embedding the added
tokens between spaces / newlines / Unicode white space, it checks:

* ``enc.encode(t, allowed_special="all") == tok.encode(t, add_special_tokens=False).ids``;
* ``count`` == that length; ``decode`` == HF's ``decode(ids, skip_special_tokens=False)``;
* ``truncate(t, n)`` (start and end) is a prefix (suffix) of t with ``count <= n``;
* ``encode_with_unstable``: its stable ids are a prefix of ``encode`` (texts under 900 bytes).

HF's ``decode`` runs every token's text through the ByteLevel decoder, added tokens included, so
an added token holding a byte-level character (``ü<x>``: ``ü`` is byte 0xFC) decodes to
``\ufffd<x>`` in HF and to its own text in tokenops; such texts are tallied as a known HF
difference, not failures.

A tokenops refusal (ValueError) is reported, not a failure; it is a failure when HF loads the
file and tokenops' message is not a ValueError. Exit status 1 on any difference or crash.
"""
from __future__ import annotations

import argparse
import base64
import collections
import copy
import faulthandler
import json
import os
import random
import sys
from pathlib import Path
from typing import Any, Callable

import tokenizers
import tokenops
from tokenops.tokenizer.load import byte_level_alphabet

B2U = byte_level_alphabet()
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Unicode White_Space (what HF's lstrip / rstrip take) and look-alikes that are not
WHITE = [" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "\u00a0", "\u3000", "\u2028", "\x85", "\u2003 "]
NOT_WHITE = ["", "\u200b", "\x1c", "\ufeff", "x", "."]


def bl(b: bytes) -> str:
    return "".join(B2U[x] for x in b)


def llama3_tokenizer_json(model: Path) -> dict[str, Any]:
    """tokenizer.model (base64 rank file) -> Meta's tokenizer.json shape (transformers'
    TikTokenConverter: every split of a token into two vocab entries is a merge, ranked by the
    token's rank, ties by the parts' ranks)."""
    ranks: dict[bytes, int] = {}
    for line in model.read_bytes().splitlines():
        if line:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    vocab = {bl(b): r for b, r in ranks.items()}
    merges: list[tuple[int, int, int, str, str]] = []
    for b, r in ranks.items():
        for i in range(1, len(b)):
            left, right = b[:i], b[i:]
            if left in ranks and right in ranks:
                merges.append((r, ranks[left], ranks[right], bl(left), bl(right)))
    merges.sort()
    from tokenops.tokenizer.registry import _llama3_specials  # the names tokenops' llama3 uses

    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for c, i in sorted(_llama3_specials().items(),
                                                                       key=lambda kv: kv[1])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab,
                  "merges": [f"{a} {b}" for _, _, _, a, b in merges]},
    }


# ------------------------------------------------------------------------------ mutations
def tok(content: str, *, special: bool = True, lstrip: bool = False, rstrip: bool = False,
        normalized: bool = False, id: int = -1) -> dict[str, Any]:
    return {"id": id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def next_id(d: dict[str, Any]) -> int:
    return max([*d["model"]["vocab"].values(), *(a["id"] for a in d["added_tokens"])]) + 1


def add(*toks: dict[str, Any], wrong_ids: bool = False) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        for t in toks:
            t = dict(t)
            if t["id"] < 0:
                t["id"] = next_id(d) + (1000 if wrong_ids else 0)
            d["added_tokens"].append(t)
    return f


def reverse_added(d: dict[str, Any]) -> None:
    d["added_tokens"].reverse()


def shuffle_added(d: dict[str, Any]) -> None:
    random.Random(1).shuffle(d["added_tokens"])


def dup_added(d: dict[str, Any]) -> None:
    d["added_tokens"] += [dict(a) for a in d["added_tokens"][-2:]]


def seq(*fs: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        for g in fs:
            g(d)
    return f


def vocab_key_token(normalized: bool, special: bool) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        d["added_tokens"].append(tok("hello", special=special, normalized=normalized, id=1))  # wrong id
    return f


def non_special_eos(d: dict[str, Any]) -> None:
    for a in d["added_tokens"][:2]:
        a["special"] = False


def roberta_in_vocab(d: dict[str, Any]) -> None:
    """RoBERTa's shape: <s> <pad> </s> <unk> <mask> are model.vocab keys and added tokens."""
    v = d["model"]["vocab"]
    n = len(v)
    for i, t in enumerate(ROBERTA):
        v[t["content"]] = n + i
        d["added_tokens"].append(dict(t, id=n + i))


ROBERTA = [tok("<s>"), tok("<pad>"), tok("</s>"), tok("<unk>"), tok("<mask>", lstrip=True)]
CHATML = [tok("<|im_start|>"), tok("<|im_end|>")]
TOOLS_F = [tok("<tool_call>", special=False), tok("</tool_call>", special=False)]
TOOLS_T = [tok("<tools>", special=False, normalized=True), tok("</tools>", special=False, normalized=True)]
MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "base": lambda d: None,
    "roberta_mask_lstrip": add(*ROBERTA),
    "chatml": add(*CHATML),
    "chatml+tools": add(*CHATML, *TOOLS_F, *TOOLS_T),
    "tools_normalized_false": add(*TOOLS_F),
    "tools_normalized_true": add(*TOOLS_T),
    "rstrip_special": add(tok("<|sep|>", rstrip=True)),
    "rstrip_nonspecial": add(tok("<sep>", special=False, rstrip=True)),
    "lstrip_rstrip_both": add(tok("<|both|>", lstrip=True, rstrip=True),
                              tok("<nb>", special=False, lstrip=True, rstrip=True)),
    "lstrip_nonspecial_normalized": add(tok("<m>", special=False, lstrip=True, normalized=True)),
    "vocab_key_nonspecial": vocab_key_token(False, False),
    "vocab_key_nonspecial_norm": vocab_key_token(True, False),
    "vocab_key_special": vocab_key_token(False, True),
    "wrong_ids": add(*CHATML, *TOOLS_F, wrong_ids=True),
    "reversed_order": seq(add(*ROBERTA, *CHATML), reverse_added),
    "shuffled_order": seq(add(*ROBERTA, *CHATML, *TOOLS_F), shuffle_added),
    "duplicates": seq(add(*CHATML), dup_added),
    "dup_other_flags": seq(add(*CHATML), lambda d: d["added_tokens"].append(
        dict(d["added_tokens"][-1], lstrip=True))),
    "whitespace_tokens": add(tok("    ", special=False, normalized=True),
                             tok("\n\n\n", special=False, normalized=False),
                             tok("\t\t", special=False)),
    "prefix_overlap": add(tok("<|im"), tok("<|im_start|>"), tok("<tool", special=False)),
    "eos_non_special": non_special_eos,
    "token_with_space": add(tok("<|im_start|>system", special=True), tok(" <think>", special=False)),
    "unicode_tokens": add(tok("<｜User｜>"), tok("▁<extra>", special=False), tok("ü<x>", special=False)),
    "byte_char_token": add(tok("é", special=False)),
    "byte_level_key_token": add(tok(bl(b" the"), special=False)),
    "newline_token": add(tok("\n", special=False), tok(" ", special=False, normalized=True)),
    "multiword_token": add(tok("hello world", special=False, normalized=True), tok("of the", special=False)),
    "colliding_ids": add(tok("<|im_start|>", id=0), tok("<|im_end|>", id=0), tok("<tool_call>", special=False, id=5)),
    "roberta_in_vocab": roberta_in_vocab,
    "mask_lstrip_nonspecial_ws": add(tok("<mask>", lstrip=True), tok("\n\n", special=False)),
}


# ------------------------------------------------------------------------------ texts
def corpus_files(data: Path) -> list[Path]:
    c = data / "corpus"
    return sorted(p for p in [*c.glob("*.txt"), *c.glob("*.json"), *(c / "adversarial").glob("*.txt")]
                  if "results" not in p.name and "golden" not in p.name and p.name != "SOURCES.json")


def slices(rng: random.Random, texts: list[str], k: int) -> list[str]:
    out = []
    for _ in range(k):
        t = rng.choice(texts)
        n = rng.choice([1, 2, 5, 20, 100, 500, 3000])
        i = rng.randrange(max(1, len(t) - n))
        out.append(t[i:i + rng.randint(1, n)])
    return out


def embedded(rng: random.Random, pieces: list[str], specials: list[str], k: int) -> list[str]:
    if not specials:
        return []
    out = [f"{a}{s}{b}" for s in specials for a in WHITE[:4] + NOT_WHITE[:2] for b in WHITE[:4] + NOT_WHITE[:2]]
    out = rng.sample(out, min(len(out), k // 2))
    for _ in range(k):
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append(rng.choice(pieces)[: rng.randint(0, 40)])
            parts.append(rng.choice(WHITE + NOT_WHITE) * rng.randint(0, 2))
            parts.append(rng.choice(specials))
            parts.append(rng.choice(WHITE + NOT_WHITE) * rng.randint(0, 2))
        out.append("".join(parts))
    return out


# ------------------------------------------------------------------------------ checks
def strips(d: dict[str, Any]) -> bool:
    return any(a.get("lstrip") or a.get("rstrip") for a in d["added_tokens"])


QUIRKS: collections.Counter[str] = collections.Counter()
U2B = {c: b for b, c in B2U.items()}


def hf_byte_level_decode(hf: Any, ids: list[int]) -> str:
    """What HF 0.23's decode gives with a ByteLevel decoder: every token's text, added tokens'
    included, is mapped back through the byte-level alphabet (an added token holding one of its
    characters, such as 'ü' = byte 0xFC, does not decode to its own text)."""
    text = "".join(hf.id_to_token(i) for i in ids)
    out = bytearray()
    for ch in text:
        out += bytes([U2B[ch]]) if ch in U2B else ch.encode()
    return out.decode("utf-8", errors="replace")


def check(enc: Any, hf: Any, text: str, rng: random.Random, strip: bool, deep: bool) -> str | None:
    ours = enc.encode(text, allowed_special="all")
    theirs = hf.encode(text, add_special_tokens=False).ids
    if ours != theirs:
        return f"ids differ: tokenops {ours[:60]} HF {theirs[:60]}"
    if not deep:
        return None
    if enc.count(text, allowed_special="all") != len(ours):
        return f"count {enc.count(text, allowed_special='all')} != len(encode) {len(ours)}"
    dec = enc.decode(ours)
    hdec = hf.decode(theirs, skip_special_tokens=False)
    if dec != hdec:
        if hdec != hf_byte_level_decode(hf, theirs):
            return f"decode differs: tokenops {dec[:80]!r} HF {hdec[:80]!r}"
        QUIRKS["HF decode runs an added token's text through the ByteLevel decoder"] += 1
    if not strip and dec != text:
        return f"decode does not round-trip: {dec[:80]!r}"
    for n in {0, 1, len(ours) // 2, max(0, len(ours) - 1), len(ours), rng.randint(0, len(ours))}:
        for keep in ("start", "end"):
            cut = enc.truncate(text, n, keep=keep, allowed_special="all")
            ok = text.startswith(cut) if keep == "start" else text.endswith(cut)
            if not ok:
                return f"truncate(n={n}, keep={keep}) {cut[:60]!r} is not a {keep} of the text"
            c = enc.count(cut, allowed_special="all")
            if c > n:
                return f"truncate(n={n}, keep={keep}) {cut[:60]!r} has {c} tokens"
            if n >= len(ours) and cut != text:
                return f"truncate(n={n} >= count {len(ours)}, keep={keep}) cut the text to {cut[:60]!r}"
    if hasattr(enc, "encode_with_unstable") and len(text.encode()) < 900:
        try:
            stable, _ = enc.encode_with_unstable(text, allowed_special="all")
        except ValueError as e:
            return f"encode_with_unstable raised ValueError {e}"
        if ours[: len(stable)] != stable:
            return f"encode_with_unstable stable {stable[:40]} is not a prefix of encode {ours[:40]}"
    return None


def shrink_text(text: str, fails: Callable[[str], bool]) -> str:
    """Greedy: drop halves, then chunks, then single characters while the failure remains."""
    step = max(1, len(text) // 2)
    while step >= 1:
        i, changed = 0, False
        while i < len(text):
            t = text[:i] + text[i + step:]
            if t and fails(t):
                text, changed = t, True
            else:
                i += step
        if not changed:
            step //= 2
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--slices", type=int, default=200, help="random corpus slices per file")
    ap.add_argument("--embedded", type=int, default=200, help="texts with added tokens per file")
    ap.add_argument("--whole", choices=["all", "base", "none"], default="base",
                    help="encode whole corpus files on every file, on the unmutated bases only, or never")
    ap.add_argument("--no-llama3", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated mutation names")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "hf_real_file_diff"))
    args = ap.parse_args()
    faulthandler.enable()
    os.environ["RUST_BACKTRACE"] = "0"
    data = Path(os.environ.get("TOKENOPS_DATA_DIR", Path(__file__).resolve().parents[1] / "data"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"tokenizers {tokenizers.__version__}, data {data}")

    bases: dict[str, dict[str, Any]] = {}
    for p in sorted((data / "tokenizers").glob("*/tokenizer.json")):
        bases[p.parent.name] = json.loads(p.read_text(encoding="utf-8"))
    model = data / "tokenizers" / "llama3" / "tokenizer.model"
    if not args.no_llama3 and model.exists():
        bases["llama3(converted)"] = llama3_tokenizer_json(model)
    if not bases:
        sys.exit(f"no tokenizers/*/tokenizer.json under {data}: set TOKENOPS_DATA_DIR")
    files = corpus_files(data)
    corpus = [f.read_text(encoding="utf-8") for f in files]
    print(f"corpus: {len(files)} files, {sum(map(len, corpus)):,} characters")
    only = set(filter(None, args.only.split(",")))

    tally: collections.Counter[str] = collections.Counter()
    findings: list[str] = []
    for bname, base in bases.items():
        for mname, mut in MUTATIONS.items():
            if only and mname not in only:
                continue
            d = copy.deepcopy(base)
            mut(d)
            path = out / f"{bname.split('(')[0]}-{mname}.json"
            path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
            try:
                hf = tokenizers.Tokenizer.from_file(str(path))
                hf_err = None
            except Exception as e:  # noqa: BLE001  (HF raises its own Exception type)
                hf, hf_err = None, str(e).splitlines()[0][:120]
            try:
                enc = tokenops.Encoding.from_hf_tokenizer_json(path)
            except ValueError as e:
                msg = str(e).splitlines()[0][:200]
                print(f"[{bname} {mname}] tokenops refuses: {msg}" + (f" (HF refuses too: {hf_err})" if hf_err else ""))
                tally["refused"] += 1
                continue
            except Exception as e:  # noqa: BLE001
                findings.append(f"[{bname} {mname}] load raised {type(e).__name__}: {e}")
                continue
            if hf is None:
                print(f"[{bname} {mname}] tokenops loads, HF refuses: {hf_err}")
                tally["hf_refused"] += 1
                continue
            rng = random.Random(f"{args.seed}-{bname}-{mname}")
            strip = strips(d)
            # the tokens this mutation added, then a few of the base's (Llama-3 has 256)
            old = {a["content"] for a in base["added_tokens"]}
            specials = list(dict.fromkeys(a["content"] for a in d["added_tokens"] if a["content"] not in old))
            specials += [a["content"] for a in base["added_tokens"][:3] if a["content"]]
            pool = [t[i:i + 200] for t in corpus for i in (0, len(t) // 2)]
            texts = [(t, False) for t in slices(rng, corpus, args.slices)]
            texts += [(t, False) for t in embedded(rng, pool, specials, args.embedded)]
            whole = args.whole == "all" or (args.whole == "base" and mname == "base")
            if whole:
                texts = [(t, True) for t in corpus] + texts
            ok = bad = 0
            for text, is_whole in texts:
                try:
                    err = check(enc, hf, text, rng, strip, deep=not is_whole)
                except Exception as e:  # noqa: BLE001
                    err = f"raised {type(e).__name__}: {e}"
                if err is None:
                    ok += 1
                    continue
                bad += 1
                if bad > 3:
                    continue
                small = text if is_whole and len(text) > 20000 else shrink_text(
                    text, lambda t: check(enc, hf, t, random.Random(0), strip, deep=True) is not None)
                err2 = check(enc, hf, small, random.Random(0), strip, deep=True) or err
                findings.append(f"[{bname} {mname}] file {path}\n    text {small[:200]!r}\n    {err2}")
            tally["texts"] += ok + bad
            tally["agree"] += ok
            tally["differ"] += bad
            print(f"[{bname} {mname}] {ok}/{ok + bad} texts agree" + (f" ({len(corpus)} whole files)" if whole else ""))
            sys.stdout.flush()
    print(f"\n{dict(tally)}")
    for q, n in QUIRKS.items():
        print(f"known HF difference, not counted: {q} ({n} texts)")
    for f in findings:
        print("FINDING " + f)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
