"""Seeded differential fuzz of ``tokenops.Encoding.from_hf_tokenizer_json`` against Hugging Face
``tokenizers`` (pinned 0.23.3) on random small byte-level BPE ``tokenizer.json`` files, shaped
like real ones (merges learnt from a random corpus, GPT-2 / Llama-3 / o200k pre-tokenizers,
added tokens numbered as HF numbers them) and like odd ones (random and duplicate merges, the
legacy "a b" merge form, shuffled or gapped vocab ids, added tokens whose contents are vocab
keys, overlap each other, repeat, or carry lstrip / rstrip / single_word / normalized flags,
file ids that collide or leave gaps, ignore_merges, refused settings...).

    pip install tokenizers==0.23.3 regex
    python scripts/hf_loader_fuzz.py [--seed 0] [--files 500] [--texts 30] [--out DIR]

Each file ends in one outcome:
  (a) both load and agree: ``enc.encode(t, allowed_special="all")`` equals
      ``tok.encode(t, add_special_tokens=False).ids`` on every text, ``count`` agrees, and
      ``enc.decode`` gives the text back (unless HF's lstrip / rstrip ate spaces into a token);
  (b) tokenops refuses with a ValueError: fine; the reasons are tallied (HF loads or not);
  (c) tokenops loads but an id differs, or decode does not round-trip: BUG, printed with a
      shrunk file and text (written under --out);
  (d) tokenops crashes, hangs (--timeout) or raises anything but ValueError: BUG;
  (e) HF refuses the file but tokenops loads it: tallied (may be fine).
``encode_ordinary`` is also compared with HF's ``encode_special_tokens = True``; differences
there are tallied, not bugs (HF skips a special match without looking inside it again).
Exit status 1 when any (c) or (d) was found. The file being tested is kept in
``--out/current.json``, so a crash of the process leaves its input behind.
"""
from __future__ import annotations

import argparse
import collections
import faulthandler
import json
import os
import random
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import regex  # the corpus for merge learning is pre-tokenized with GPT-2's regex
import tokenizers
import tokenops
from tokenops.tokenizer.load import byte_level_alphabet

os.environ["RUST_BACKTRACE"] = "0"  # HF panics on some odd files: one line, not 40


# ------------------------------------------------------------------------ byte-level alphabet
B2U = byte_level_alphabet()
GPT2_BYTE_ORDER = list(B2U)  # the alphabet's order: printable bytes first


def bl(text: str) -> str:
    """Text -> its byte-level string (the form of model.vocab keys)."""
    return "".join(B2U[b] for b in text.encode("utf-8"))


# ------------------------------------------------------------------------ pre-tokenizer regexes
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
R50K_POSSESSIVE = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"
CL100K_POSSESSIVE = (r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"
                     r"[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
O200K = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# (regex, weight): the loader accepts the first four; the others are refused
SPLIT_PATTERNS = [(GPT2, 6), (R50K_POSSESSIVE, 2), (LLAMA3, 8), (O200K, 8), (CL100K_POSSESSIVE, 1),
                  (QWEN2, 1), ("", 1), (r"\s+", 1)]

# ------------------------------------------------------------------------------ text material
WORD_CHARS = list("abcdeo") + ["\u00e9", "\u4e2d", "\u00df", "\u00ef", "\u0416", "A", "E"]
SPECIAL_LIKE = ["<|endoftext|>", "<s>", "</s>", "<mask>", "<|im_start|>", "<|im_end|>", "[CLS]",
                "<unk>", "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<|eot_id|>", "<pad>"]
PLAIN_LIKE = ["ab", "foo", " x", "a b", "\n", "  ", "\u4e2d\u6587", "\u00e9", "x", "end", "<",
              " <", "ab ", "\t", "1", "'s", "\u00e9a"]
FRAGMENTS = [" ", "  ", "   ", "\n", "\n\n", "\r\n", "\t", " \n ", "2024", "12345", "7", "'s", "'LL",
             "!", "!!", "...", "?", ",", "/", "-", "(", ")", "\u00a0", "\u3000", "\U0001f600",
             "\u0301", "\u2003", "\x0b", "\x0c", "\x85", "\u2028", "foo", "bar", "The", " the", "Hello", "\u00e9t\u00e9"]
UNICODE_RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x300, 0x36F),
                  (0x600, 0x6FF), (0x900, 0x97F), (0x3040, 0x30FF), (0x4E00, 0x4E80),
                  (0xAC00, 0xAC80), (0x1F300, 0x1F64F), (0x2000, 0x206F), (0xFF00, 0xFF60),
                  (0x10000, 0x2FFFF)]


def random_unicode(rng: random.Random) -> str:
    lo, hi = rng.choice(UNICODE_RANGES)
    c = rng.randint(lo, hi)
    return chr(c) if not 0xD800 <= c <= 0xDFFF else "?"


def random_word(rng: random.Random) -> str:
    return "".join(rng.choice(WORD_CHARS) for _ in range(rng.randint(1, 5)))


# ------------------------------------------------------------------------------ file generator
def learn_merges(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """BPE training on a random corpus of alphabet words (GPT-2 pre-tokenized): real-looking
    merges, 'Ġ'-prefixed words and multi-byte characters included."""
    words: collections.Counter[tuple[str, ...]] = collections.Counter()
    corpus = " ".join(random_word(rng) + rng.choice(["", "", ",", "!", " 12", "\n"])
                      for _ in range(rng.randint(20, 120)))
    for piece in regex.findall(GPT2, corpus):
        words[tuple(bl(piece))] += 1
    merges: list[tuple[str, str]] = []
    for _ in range(n):
        pairs: collections.Counter[tuple[str, str]] = collections.Counter()
        for w, c in words.items():
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] += c
        if not pairs:
            break
        best = max(pairs.values())
        pair = rng.choice(sorted(p for p, c in pairs.items() if c == best))
        merges.append(pair)
        merged: collections.Counter[tuple[str, ...]] = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == pair:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += c
        words = merged
    return merges


def hf_added_ids(vocab: dict[str, int], added: list[dict[str, Any]]) -> list[int]:
    """The ids HF 0.23.3 gives added tokens (AddedVocabulary::add_tokens, measured): the vocab's
    for a vocab key, the first one's for a repeat, else len(vocab), len(vocab) + 1, ..."""
    ids: dict[str, int] = {}
    nxt = len(vocab)
    for a in added:
        c = a["content"]
        if c and c not in ids:
            if c in vocab:
                ids[c] = vocab[c]
            else:
                ids[c], nxt = nxt, nxt + 1
    return [ids.get(a["content"], 0) for a in added]


def gen_file(rng: random.Random) -> dict[str, Any]:
    r = rng.random
    # ---- merges
    merges = learn_merges(rng, rng.choice([0, 3, 10, 25, 40, 60]))
    vocab_tokens = [B2U[b] for b in (GPT2_BYTE_ORDER if r() < 0.5 else range(256))]
    known = set(vocab_tokens)
    for a, b in merges:
        if a + b not in known:
            known.add(a + b)
            vocab_tokens.append(a + b)
    if r() < 0.4:  # odd merges: random pairs of existing tokens, short ones more often
        short = sorted(known, key=len)[: 256 + 40]
        for _ in range(rng.randint(1, 12)):
            a = rng.choice(short if r() < 0.7 else sorted(known))
            b = rng.choice(short if r() < 0.7 else sorted(known))
            merges.insert(rng.randint(0, len(merges)), (a, b))
            if a + b not in known:
                known.add(a + b)
                vocab_tokens.append(a + b)
    if merges and r() < 0.25:  # duplicates, later in the list
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(merges))
            merges.insert(rng.randint(k + 1, len(merges)), merges[k])
    if r() < 0.1:  # vocab entries no merge makes
        for _ in range(rng.randint(1, 4)):
            t = bl(random_word(rng) if r() < 0.7 else " " + random_word(rng))
            if t not in known:
                known.add(t)
                vocab_tokens.append(t)
    # ---- ids
    n = len(vocab_tokens)
    mode = rng.choices(["seq", "shuffle", "gaps"], [16, 2, 1])[0]
    ids = list(range(n))
    if mode == "shuffle":
        rng.shuffle(ids)
    elif mode == "gaps":
        ids = sorted(rng.sample(range(n + 40), n))
    vocab = dict(zip(vocab_tokens, ids))
    if r() < 0.03:  # a missing byte token
        del vocab[B2U[rng.randrange(256)]]
    # ---- added tokens
    added: list[dict[str, Any]] = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        kind = rng.choices(["special", "plain", "vocab", "overlap", "dup", "empty", "unicode"],
                           [5, 4, 2, 3, 1, 0.2, 1])[0]
        if kind == "special":
            c = rng.choice(SPECIAL_LIKE)
        elif kind == "plain":
            c = rng.choice(PLAIN_LIKE) if r() < 0.6 else random_word(rng)
        elif kind == "vocab":  # mostly keys that read as their own text (ASCII)
            keys = [t for t in vocab_tokens[256:] if r() < 0.15 or all("!" <= ch <= "~" for ch in t)]
            c = rng.choice(keys or vocab_tokens)
        elif kind == "overlap" and added:
            o = rng.choice(added)["content"]
            k = rng.randint(0, len(o))
            c = rng.choice([o[:k], o[k:], o + "x", "x" + o, o[1:] + ">", "<" + o[:-1]]) or "z"
        elif kind == "dup" and added:
            if r() < 0.6:  # an exact repeat (HF ignores it)
                added.append(dict(rng.choice(added)))
                continue
            c = rng.choice(added)["content"]
        elif kind == "empty":
            c = ""
        else:
            c = "".join(random_unicode(rng) for _ in range(rng.randint(1, 3)))
        special = r() < 0.5
        added.append({"id": 0, "content": c, "single_word": r() < 0.03, "lstrip": r() < 0.15,
                      "rstrip": r() < 0.15, "normalized": (not special) if r() < 0.7 else r() < 0.5,
                      "special": special})
    if added and r() < 0.2:  # a trainer writes its special tokens into model.vocab
        a = rng.choice(added)
        if a["content"] and a["content"] not in vocab:
            vocab[a["content"]] = max(vocab.values()) + 1
    id_mode = rng.choices(["hf", "seq", "random", "gap"], [11, 3, 3, 3])[0]
    hf_ids = hf_added_ids(vocab, added)
    for i, a in enumerate(added):
        if id_mode == "hf":
            a["id"] = hf_ids[i]
        elif id_mode == "seq":
            a["id"] = len(vocab) + i
        elif id_mode == "random":
            a["id"] = rng.randrange(len(vocab) + 10)
        else:
            a["id"] = len(vocab) + 100 + 3 * i
    # ---- the rest of the file
    merge_list: list[Any] = ([f"{a} {b}" for a, b in merges] if r() < 0.3 else [[a, b] for a, b in merges])
    if merges and r() < 0.02:  # a merge using / making a token that is not in the vocab
        merge_list.append(["q\u0120", "zz"] if r() < 0.5 else f"{vocab_tokens[65]} {vocab_tokens[66]}")
    model: dict[str, Any] = {
        "type": "BPE", "dropout": rng.choice([None] * 40 + [0.0, 0] * 3 + [0.1]), "unk_token": None,
        "continuing_subword_prefix": rng.choice([None] * 30 + [""] * 3 + ["##"]),
        "end_of_word_suffix": rng.choice([None] * 30 + [""] * 3 + ["</w>"]), "fuse_unk": False,
        "byte_fallback": r() < 0.1, "ignore_merges": r() < 0.35, "vocab": vocab, "merges": merge_list}
    if r() < 0.05:
        del model["type"]
    if r() < 0.03:
        model["unk_token"] = "<unk>"
    byte_level = {"type": "ByteLevel", "add_prefix_space": r() < 0.03, "trim_offsets": True,
                  "use_regex": True}
    pre_kind = rng.choices(["bytelevel", "split", "bytelevel_noregex", "other"], [4, 6, 0.3, 0.2])[0]
    if pre_kind == "bytelevel":
        pre: Any = byte_level
    elif pre_kind == "bytelevel_noregex":
        pre = {**byte_level, "use_regex": False}
    elif pre_kind == "split":
        pat = rng.choices([p for p, _ in SPLIT_PATTERNS], [w for _, w in SPLIT_PATTERNS])[0]
        split = {"type": "Split", "pattern": {"Regex": pat},
                 "behavior": "Isolated" if r() < 0.95 else "Removed", "invert": False}
        pre = {"type": "Sequence", "pretokenizers": [split, {**byte_level, "use_regex": r() < 0.03}]}
    else:
        pre = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                                                     byte_level]}
    normalizer = rng.choice([None] * 30 + [{"type": "Sequence", "normalizers": []}] * 3 + [{"type": "NFC"}])
    post = rng.choice([None, None, {**byte_level, "use_regex": True}, {
        "type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {}}])
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
            "decoder": dict(byte_level) if r() < 0.9 else None, "model": model}


def gen_texts(rng: random.Random, d: dict[str, Any], k: int) -> list[str]:
    contents = [a["content"] for a in d["added_tokens"] if a["content"]]
    texts = ["", " "]
    for _ in range(k):
        parts = []
        for _ in range(rng.randint(1, 12)):
            x = rng.random()
            if x < 0.3:
                parts.append(random_word(rng))
            elif x < 0.5 and contents:
                c = rng.choice(contents)
                parts.append(c if rng.random() < 0.7 else c[: rng.randint(0, len(c))])
            elif x < 0.75:
                parts.append(rng.choice(FRAGMENTS))
            elif x < 0.9:
                parts.append(" " * rng.randint(1, 3))
            else:
                parts.append(random_unicode(rng))
        texts.append("".join(parts))
    # long pieces (the encoder switches BPE algorithms on long ones): a word of alphabet
    # characters with no space, a run of one character, a long digit run
    n = rng.choice([40, 130, 300, 700, 2000])
    texts.append("".join(rng.choice(WORD_CHARS[:8]) for _ in range(n)))
    texts.append(rng.choice(WORD_CHARS + [" ", "1", "!"]) * rng.choice([65, 257, 1000]))
    texts.append(" " + "".join(rng.choice("0123456789") for _ in range(n)))
    return texts


# ------------------------------------------------------------------------------ one comparison
class Crash(Exception):
    """tokenops raised something other than ValueError (outcome d)."""


def write(d: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")


def load_both(d: dict[str, Any], path: Path) -> tuple[Any, Any, str | None, str | None]:
    write(d, path)
    try:
        hf = tokenizers.Tokenizer.from_file(str(path))
        hf_err = None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 (a Rust panic is pyo3's PanicException, a BaseException)
        hf, hf_err = None, f"{type(e).__name__}: {e}"
    try:
        ours = tokenops.Encoding.from_hf_tokenizer_json(path)
        ours_err = None
    except ValueError as e:
        ours, ours_err = None, str(e)
    except Exception as e:
        raise Crash(f"load raised {type(e).__name__}: {e}") from e
    return hf, ours, hf_err, ours_err


def strips(d: dict[str, Any]) -> bool:
    return any(a.get("lstrip") or a.get("rstrip") for a in d["added_tokens"])


def check_text(hf: Any, ours: Any, d: dict[str, Any], text: str) -> str | None:
    """None when tokenops agrees with HF on `text`, else what differs."""
    want = hf.encode(text, add_special_tokens=False).ids
    try:
        got = ours.encode(text, allowed_special="all")
        n = ours.count(text, allowed_special="all")
        back = ours.decode(got) if got == want else text
    except Exception as e:
        raise Crash(f"encode/count/decode of {text!r} raised {type(e).__name__}: {e}") from e
    if got != want:
        return f"ids: tokenops {got} HF {want}"
    if n != len(want):
        return f"count: tokenops {n} HF {len(want)}"
    if back != text and not strips(d):
        return f"decode: {back!r}"
    return None


def check_ordinary(hf: Any, ours: Any, text: str) -> str | None:
    hf.encode_special_tokens = True
    try:
        want = hf.encode(text, add_special_tokens=False).ids
    finally:
        hf.encode_special_tokens = False
    got = ours.encode_ordinary(text)
    return None if got == want else f"encode_ordinary: tokenops {got} HF {want}"


# ------------------------------------------------------------------------------ shrinking
def shrink(d: dict[str, Any], text: str, fails: Callable[[dict[str, Any], str], bool]
           ) -> tuple[dict[str, Any], str]:
    """Greedy reduction of the file and the text while `fails` still holds."""
    def attempt(nd: dict[str, Any], nt: str) -> bool:
        nonlocal d, text
        try:
            ok = fails(nd, nt)
        except Crash:
            ok = False
        if ok:
            d, text = nd, nt
        return ok

    def copy() -> dict[str, Any]:
        return json.loads(json.dumps(d))

    progress = True
    while progress:
        progress = False
        for i in reversed(range(len(d["added_tokens"]))):
            nd = copy()
            del nd["added_tokens"][i]
            progress |= attempt(nd, text)
        chunk = max(1, len(d["model"]["merges"]) // 2)
        while chunk >= 1:
            i = 0
            while i < len(d["model"]["merges"]):
                nd = copy()
                del nd["model"]["merges"][i:i + chunk]
                if attempt(nd, text):
                    progress = True
                else:
                    i += chunk
            chunk //= 2
        used = {a["content"] for a in d["added_tokens"]}
        for m in d["model"]["merges"]:
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            used |= {a, b, a + b}
        extra = [k for k in d["model"]["vocab"] if k not in used and len(k) > 1]
        if extra:
            nd = copy()
            for k in extra:
                del nd["model"]["vocab"][k]
            progress |= attempt(nd, text)
        for path, value in [(("post_processor",), None), (("decoder",), None),
                            (("normalizer",), None), (("model", "ignore_merges"), False),
                            (("model", "dropout"), None), (("model", "byte_fallback"), False),
                            (("pre_tokenizer",), {"type": "ByteLevel", "add_prefix_space": False,
                                                  "trim_offsets": True, "use_regex": True})]:
            nd = copy()
            node = nd
            for p in path[:-1]:
                node = node[p]
            if node.get(path[-1], None) != value:
                node[path[-1]] = value
                progress |= attempt(nd, text)
        for i in range(len(d["added_tokens"])):
            for flag in ("lstrip", "rstrip", "single_word", "normalized", "special"):
                if d["added_tokens"][i].get(flag):
                    nd = copy()
                    nd["added_tokens"][i][flag] = False
                    progress |= attempt(nd, text)
        i = 0
        while i < len(text):  # drop characters, longest runs first
            for run in (8, 4, 2, 1):
                if attempt(d, text[:i] + text[i + run:]):
                    progress = True
                    break
            else:
                i += 1
    return d, text


def describe(d: dict[str, Any]) -> str:
    """The file in a few lines: vocab entries beyond the 256 byte tokens, merges, added
    tokens, the pieces of the pipeline that are set."""
    std = {B2U[b]: b for b in range(256)}
    gpt2 = {B2U[b]: i for i, b in enumerate(GPT2_BYTE_ORDER)}
    v = d["model"]["vocab"]
    base = "byte value" if all(v.get(k) == i for k, i in std.items()) else (
        "GPT-2 order" if all(v.get(k) == i for k, i in gpt2.items()) else None)
    if base:
        rest = {k: i for k, i in v.items() if k not in std}
        vocab = f"256 byte tokens (id = {base}) + {json.dumps(rest, ensure_ascii=False)}"
    else:
        vocab = json.dumps(v, ensure_ascii=False)
    lines = [f"  model.vocab: {vocab}",
             f"  model.merges: {json.dumps(d['model']['merges'], ensure_ascii=False)}"]
    for k in ("ignore_merges", "dropout", "byte_fallback", "continuing_subword_prefix"):
        if d["model"].get(k):
            lines.append(f"  model.{k}: {d['model'][k]!r}")
    for a in d["added_tokens"]:
        lines.append(f"  added: {json.dumps(a, ensure_ascii=False)}")
    for k in ("pre_tokenizer", "normalizer", "post_processor"):
        if d.get(k):
            lines.append(f"  {k}: {json.dumps(d[k], ensure_ascii=False)}")
    return "\n".join(lines)


def reason_key(msg: str, path: Path) -> str:
    """A refusal message with the file name, quoted text and numbers blanked, for tallying."""
    msg = msg.replace(str(path), "FILE")
    msg = re.sub(r"'(?:[^'\\]|\\.)*'", "'…'", msg)
    msg = re.sub(r"0x[0-9a-f]{2}(?: 0x[0-9a-f]{2})*(?: \.\.\.)?", "BYTES", msg)
    msg = re.sub(r"\d+", "N", msg)
    return msg[:150]


# ------------------------------------------------------------------------------ driver
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--files", type=int, default=500, help="tokenizer.json files to generate")
    ap.add_argument("--texts", type=int, default=30, help="random texts per file")
    ap.add_argument("--out", type=Path, default=None, help="folder for repro files (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per file before it counts as a hang")
    ap.add_argument("--max-repros", type=int, default=5, help="bugs shrunk and printed in full")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every refusal and HF-only refusal")
    args = ap.parse_args()
    if tokenizers.__version__ != "0.23.3":
        print(f"note: tokenizers {tokenizers.__version__}, the expectations are 0.23.3's", file=sys.stderr)
    out = args.out or Path(tempfile.mkdtemp(prefix="hf_loader_fuzz_"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "current.json"
    faulthandler.enable()
    rng = random.Random(args.seed)
    tally: collections.Counter[str] = collections.Counter()
    refusals: collections.Counter[str] = collections.Counter()
    hf_only: collections.Counter[str] = collections.Counter()
    ordinary_diffs = 0
    bugs = 0
    for k in range(args.files):
        d = gen_file(rng)
        texts = gen_texts(rng, d, args.texts)
        faulthandler.dump_traceback_later(args.timeout, exit=True)  # a hang ends the run (d)
        try:
            hf, ours, hf_err, ours_err = load_both(d, path)
            problem = None
            if ours is not None and hf is not None:
                for t in texts:
                    if (problem := check_text(hf, ours, d, t)) is not None:
                        break
                ordinary_diffs += any(check_ordinary(hf, ours, t) for t in texts)
        except Crash as e:
            bugs += 1
            tally["d"] += 1
            keep = out / f"crash_seed{args.seed}_file{k}.json"
            write(d, keep)
            print(f"BUG (d) seed {args.seed} file {k}: {e}\n  file: {keep}", flush=True)
            continue
        finally:
            faulthandler.cancel_dump_traceback_later()
        if ours is None:
            tally["b"] += 1
            both = " [HF refuses too]" if hf is None else ""
            refusals[reason_key(ours_err or "", path) + both] += 1
            if args.verbose:
                print(f"(b) file {k}: {ours_err}")
            continue
        if hf is None:
            tally["e"] += 1
            hf_only[(hf_err or "")[:150]] += 1
            if args.verbose:
                print(f"(e) file {k}: {hf_err}")
            continue
        if problem is None:
            tally["a"] += 1
            continue
        tally["c"] += 1
        bugs += 1
        if tally["c"] > args.max_repros:
            print(f"BUG (c) seed {args.seed} file {k}: {problem}", flush=True)
            continue
        kind = problem.split(":", 1)[0]

        def fails(nd: dict[str, Any], nt: str, kind: str = kind) -> bool:
            h, o, _, _ = load_both(nd, out / "shrink.json")
            if h is None or o is None:
                return False
            p = check_text(h, o, nd, nt)
            return p is not None and p.split(":", 1)[0] == kind

        bad = next(t for t in texts if check_text(hf, ours, d, t) is not None)
        small, text = shrink(d, bad, fails)
        keep = out / f"bug_seed{args.seed}_file{k}.json"
        write(small, keep)
        h, o, _, _ = load_both(small, out / "shrink.json")
        print(f"BUG (c) seed {args.seed} file {k}: text {text!r}: {check_text(h, o, small, text)}\n"
              f"{describe(small)}\n  file: {keep}", flush=True)
    print(f"refusals by tokenops (b), by reason ({sum(refusals.values())}):")
    for msg, c in refusals.most_common():
        print(f"  {c:5d}  {msg}")
    if hf_only:
        print(f"HF refuses, tokenops loads (e) ({sum(hf_only.values())}):")
        for msg, c in hf_only.most_common():
            print(f"  {c:5d}  {msg}")
    print(f"seed {args.seed}: {args.files} files: (a) agree {tally['a']}, (b) refused {tally['b']}, "
          f"(c) wrong ids {tally['c']}, (d) crash {tally['d']}, (e) HF-only refusal {tally['e']}; "
          f"encode_ordinary differs from HF encode_special_tokens on {ordinary_diffs} files")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
