#!/usr/bin/env python3
"""Generate cpp/src/embed/bert_unicode_data.inc: the character tables of the BERT WordPiece
tokenizer (BertNormalizer + BertPreTokenizer), exactly as Hugging Face `tokenizers` applies them.

Why the tables come from the reference and not from one Unicode Character Database: the Rust crate
behind `tokenizers` mixes Unicode versions. Its control/accent/punctuation classes come from the
`unicode_categories` crate (an old Unicode: e.g. U+07FD, Mn since 11.0, is not stripped; U+1734,
Mn until 13.0, is), NFD from `unicode-normalization-alignments` (before Unicode 13: U+11938 does not
decompose), and lower-casing and White_Space from the Rust standard library (Unicode 16/17: U+1C89
lower-cases to U+1C8A). No single `unicodedata` version reproduces that, so this script asks the
pinned reference itself, one code point at a time, for each separate step:

  clean_text + handle_chinese_chars  BertNormalizer(strip_accents=False, lowercase=False)
  NFD                                normalizers.NFD()
  accent filter (non-spacing marks)  BertNormalizer(strip_accents=True) without the other steps
                                     (not normalizers.StripAccents, which also drops Mc/Me)
  lower-casing                       normalizers.Lowercase()
  whitespace / punctuation split     pre_tokenizers.BertPreTokenizer() on "a" + c + "a"

NFD's canonical reordering needs combining classes, which `tokenizers` does not expose: they come
from unicodedata2 (Unicode 16.0.0, the version scripts/gen_unicode_tables.py pins; combining classes
never change once assigned), restricted to the code points the reference's NFD knows, which is
checked by probing reorderings. tests/python/test_embed_tokenizer.py re-checks every code point
and random strings against the reference.

Usage:  pip install tokenizers==0.23.3 unicodedata2==16.0.0 && python scripts/gen_bert_tables.py
"""
from __future__ import annotations

import pathlib

import tokenizers
import unicodedata2 as ud
from tokenizers import normalizers, pre_tokenizers

TOKENIZERS_VERSION = "0.23.3"
UNICODE_VERSION = "16.0.0"
assert tokenizers.__version__ == TOKENIZERS_VERSION, tokenizers.__version__
assert ud.unidata_version == UNICODE_VERSION, ud.unidata_version

# Bit order must match enum BertCharBits in cpp/include/tokenops/embed/bert_normalizer.hpp.
CONTROL = 1 << 0  # removed by clean_text (Cc/Cf/Co/Cs of the old tables, NUL, U+FFFD)
NORM_SPACE = 1 << 1  # turned into ' ' by clean_text
CHINESE = 1 << 2  # padded with spaces by handle_chinese_chars
MARK = 1 << 3  # removed by the accent filter (Mn)
DECOMPOSES = 1 << 4  # NFD maps it to something else
LOWER = 1 << 5  # lower-casing maps it to something else
NON_STARTER = 1 << 6  # canonical combining class != 0 (for NFD reordering)
SPLIT_SPACE = 1 << 7  # BertPreTokenizer splits on it (whitespace, dropped)
SPLIT_PUNCT = 1 << 8  # BertPreTokenizer isolates it (punctuation)
BLOCK = 128
HANGUL_S, HANGUL_COUNT = 0xAC00, 11172


def hangul_nfd(cp: int) -> str:
    s = cp - HANGUL_S
    lead, vowel, trail = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return chr(lead) + chr(vowel) + (chr(trail) if trail != 0x11A7 else "")


def main() -> None:
    clean = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    nfd, lower = normalizers.NFD(), normalizers.Lowercase()
    strip = normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False
    )
    pre = pre_tokenizers.BertPreTokenizer()
    flags = [0] * 0x110000
    decomp: dict[int, str] = {}
    lowers: dict[int, str] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # no UTF-8 form: never reaches the tokenizer
        c = chr(cp)
        f = 0
        r = clean.normalize_str(c)
        if r == "":
            f |= CONTROL
        elif r == " " and c != " ":
            f |= NORM_SPACE
        elif r == " " + c + " ":
            f |= CHINESE
        else:
            assert r == c, (hex(cp), r)
        d = nfd.normalize_str(c)
        if d != c:
            f |= DECOMPOSES
            if HANGUL_S <= cp < HANGUL_S + HANGUL_COUNT:
                assert d == hangul_nfd(cp), hex(cp)
            else:
                decomp[cp] = d
        if d == c:  # marks that decompose are checked through their parts below
            s = strip.normalize_str(c)
            if s == "":
                f |= MARK
            else:
                assert s == c, hex(cp)
        lo = lower.normalize_str(c)
        if lo != c:
            f |= LOWER
            lowers[cp] = lo
        parts = pre.pre_tokenize_str("a" + c + "a")
        if len(parts) == 2:
            f |= SPLIT_SPACE
        elif len(parts) == 3:
            f |= SPLIT_PUNCT
        else:
            assert len(parts) == 1, (hex(cp), parts)
        flags[cp] = f

    for cp, d in decomp.items():  # NFD + filter of a decomposing char = filter of its parts
        kept = "".join(ch for ch in d if not flags[ord(ch)] & MARK)
        assert strip.normalize_str(chr(cp)) == kept, hex(cp)

    # Combining classes: unicodedata2's, kept only where the reference's NFD reorders by them.
    ccc: dict[int, int] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or ud.combining(chr(cp)) == 0:
            continue
        k = ud.combining(chr(cp))
        c = chr(cp)
        # A second mark whose class is known to every Unicode version, on the other side of k.
        probe = "a" + c + "\u0334" if k > 1 else "a" + "\u0301" + c  # U+0334 ccc 1, U+0301 ccc 230
        got = nfd.normalize_str(probe)
        dc = nfd.normalize_str(c)
        reordered = ("a" + "\u0334" + dc) if k > 1 else ("a" + dc + "\u0301")
        kept = ("a" + dc + "\u0334") if k > 1 else ("a" + "\u0301" + dc)
        if dc != c and ud.combining(dc[0]) != k:
            continue  # decomposes into other marks: their own classes decide
        if got == reordered:
            ccc[cp] = k
        else:
            assert got == kept, (hex(cp), got)
    for cp in ccc:
        flags[cp] |= NON_STARTER
    for cp, d in decomp.items():  # decomposition results may themselves be non-starters
        for ch in d:
            if ord(ch) in ccc:
                flags[ord(ch)] |= NON_STARTER

    blocks: dict[tuple, int] = {}
    stage1: list[int] = []
    stage2: list[tuple] = []
    for start in range(0, 0x110000, BLOCK):
        blk = tuple(flags[start:start + BLOCK])
        if blk not in blocks:
            blocks[blk] = len(stage2)
            stage2.append(blk)
        stage1.append(blocks[blk])

    def pool_table(name: str, mapping: dict[int, str]) -> list[str]:
        pool: list[int] = []
        rows = []
        for cp in sorted(mapping):
            seq = [ord(ch) for ch in mapping[cp]]
            assert len(seq) < 16
            rows.append((cp, len(pool), len(seq)))
            pool.extend(seq)
        out = [f"constexpr BertMapping k{name}[{len(rows)}] = {{"]
        for i in range(0, len(rows), 6):
            out.append("  " + " ".join(f"{{0x{a:X},{b},{c}}}," for a, b, c in rows[i:i + 6]))
        out.append("};")
        out.append(f"constexpr char32_t k{name}Pool[{len(pool)}] = {{")
        for i in range(0, len(pool), 12):
            out.append("  " + ",".join(f"0x{v:X}" for v in pool[i:i + 12]) + ",")
        out.append("};")
        return out

    out = [
        "// Generated by scripts/gen_bert_tables.py from Hugging Face tokenizers "
        f"{TOKENIZERS_VERSION} (and unicodedata2 {UNICODE_VERSION} combining classes). Do not edit.",
        f"// {len(stage1)} stage-1 entries, {len(stage2)} unique blocks of {BLOCK} code points; "
        f"{len(decomp)} decompositions (+ Hangul), {len(lowers)} lower-case mappings, {len(ccc)} non-starters.",
        f'#define TOKENOPS_BERT_TABLES_SOURCE "tokenizers {TOKENIZERS_VERSION}"',
        f"constexpr unsigned kBertBlockShift = {BLOCK.bit_length() - 1};",
        f"constexpr std::uint16_t kBertStage1[{len(stage1)}] = {{",
    ]
    for i in range(0, len(stage1), 24):
        out.append("  " + ",".join(str(v) for v in stage1[i:i + 24]) + ",")
    out.append("};")
    out.append(f"constexpr std::uint16_t kBertStage2[{len(stage2) * BLOCK}] = {{")
    for blk in stage2:
        for i in range(0, BLOCK, 32):
            out.append("  " + ",".join(str(v) for v in blk[i:i + 32]) + ",")
    out.append("};")
    out += pool_table("Decomp", decomp)
    out += pool_table("Lower", lowers)
    out.append(f"constexpr BertCcc kCcc[{len(ccc)}] = {{")
    items = sorted(ccc.items())
    for i in range(0, len(items), 8):
        out.append("  " + " ".join(f"{{0x{a:X},{b}}}," for a, b in items[i:i + 8]))
    out.append("};")
    path = pathlib.Path(__file__).resolve().parent.parent / "cpp/src/embed/bert_unicode_data.inc"
    path.write_text("\n".join(out) + "\n")
    print(f"wrote {path}: {len(stage2)} blocks, {len(decomp)} decompositions, {len(lowers)} lower, "
          f"{len(ccc)} ccc")


if __name__ == "__main__":
    main()
