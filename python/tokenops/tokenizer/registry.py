"""Definitions of the built-in encodings (the same rank files, patterns and special tokens as
tiktoken's ``tiktoken_ext/openai_public.py`` and Meta's Llama-3 ``tokenizer.py``) and the
model-name -> encoding map (tiktoken ``model.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/"

# The regex each pre-tokenizer family implements by hand, as tiktoken spells it (its pat_str; the
# core has no regex engine): Encoding._pat_str, and the tiktoken reference encodings in tests.
PATTERNS: dict[str, str] = {
    "r50k": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""",
    "cl100k": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "llama3": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "o200k": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
    # Mistral's tekken files (config.pattern): o200k's without the contractions, single digits
    "tekken": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*""",
        r"""\p{N}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
}


@dataclass(frozen=True)
class EncodingDef:
    """How to build one encoding."""

    name: str
    pretokenizer: str  # r50k | cl100k | llama3 | o200k | tekken
    rank_file: str  # file name under <data>/tokenizers/
    sha256: str | tuple[str, ...] | None  # expected sha256 of the rank file (None: not verified)
    url: str | None  # public URL (tiktoken's), used for the cache key and the download
    special_tokens: dict[str, int] = field(default_factory=dict)
    explicit_n_vocab: int | None = None
    hf_json: str | None = None  # optional tokenizer.json under <data>/tokenizers/ (merge mode)
    hf_json_sha256: tuple[str, ...] = ()
    license_note: str | None = None
    fmt: str = "tiktoken"  # the file's format: "tiktoken", "tekken" (Mistral's JSON) or "sentencepiece"
    # files of a pip package that ship the vocabulary (package, folder, file names, first wins)
    package_files: tuple[str, str, tuple[str, ...]] | None = None


def _harmony_specials() -> dict[str, int]:
    sp = {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}
    sp.update(
        {
            "<|startoftext|>": 199998,
            "<|endoftext|>": 199999,
            "<|reserved_200000|>": 200000,
            "<|reserved_200001|>": 200001,
            "<|return|>": 200002,
            "<|constrain|>": 200003,
            "<|reserved_200004|>": 200004,
            "<|channel|>": 200005,
            "<|start|>": 200006,
            "<|end|>": 200007,
            "<|message|>": 200008,
            "<|reserved_200009|>": 200009,
            "<|reserved_200010|>": 200010,
            "<|reserved_200011|>": 200011,
            "<|call|>": 200012,
        }
    )
    sp.update({f"<|reserved_{i}|>": i for i in range(200013, 201088)})
    return sp


def _llama3_specials() -> dict[str, int]:
    base = 128000
    names = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>",
        "<|step_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eom_id|>",
        "<|eot_id|>",
        "<|python_tag|>",
        "<|image|>",
    ]
    names += [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(names))]
    return {n: base + i for i, n in enumerate(names)}


_R50K_SHA = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
_P50K_SHA = "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"
_CL100K_SHA = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_O200K_SHA = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"

ENCODINGS: dict[str, EncodingDef] = {
    d.name: d
    for d in [
        EncodingDef(
            "gpt2",
            "r50k",
            "r50k_base.tiktoken",
            _R50K_SHA,
            _BLOB + "r50k_base.tiktoken",
            {ENDOFTEXT: 50256},
            50257,
            hf_json="gpt2/tokenizer.json",
            hf_json_sha256=(
                # ../shared/data copy (truncation set to null) and the upstream original
                "f6ed3d307010c244c22aeffbde05f419cf277c23e64cf98b673cac5449cfeff5",
                "df6e222d37a6b4f350054433e95477958a0a9da2de91ffcdb62f9d87314b3210",
            ),
        ),
        EncodingDef(
            "r50k_base", "r50k", "r50k_base.tiktoken", _R50K_SHA, _BLOB + "r50k_base.tiktoken",
            {ENDOFTEXT: 50256}, 50257,
        ),
        EncodingDef(
            "p50k_base", "r50k", "p50k_base.tiktoken", _P50K_SHA, _BLOB + "p50k_base.tiktoken",
            {ENDOFTEXT: 50256}, 50281,
        ),
        EncodingDef(
            "p50k_edit", "r50k", "p50k_base.tiktoken", _P50K_SHA, _BLOB + "p50k_base.tiktoken",
            {ENDOFTEXT: 50256, FIM_PREFIX: 50281, FIM_MIDDLE: 50282, FIM_SUFFIX: 50283},
        ),
        EncodingDef(
            "cl100k_base", "cl100k", "cl100k_base.tiktoken", _CL100K_SHA,
            _BLOB + "cl100k_base.tiktoken",
            {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260,
             ENDOFPROMPT: 100276},
        ),
        EncodingDef(
            "o200k_base", "o200k", "o200k_base.tiktoken", _O200K_SHA,
            _BLOB + "o200k_base.tiktoken", {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
        ),
        EncodingDef(
            "o200k_harmony", "o200k", "o200k_base.tiktoken", _O200K_SHA,
            _BLOB + "o200k_base.tiktoken", _harmony_specials(),
        ),
        EncodingDef(
            "llama3",
            "llama3",
            "llama3/tokenizer.model",
            "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55",
            None,
            _llama3_specials(),
            128256,
            license_note=(
                "Llama-3's tokenizer.model is under the Meta Llama 3 Community License; tokenops "
                "does not download it. Get it from meta-llama/llama-models (models/llama3/"
                "tokenizer.model) and pass its path, or place it at "
                "<TOKENOPS_DATA_DIR>/tokenizers/llama3/tokenizer.model."
            ),
        ),
        EncodingDef(
            # Mistral's tekken (Mistral NeMo, Pixtral 12B, Ministral 8B, Mistral Small 24.09):
            # 130,072 ranks after 1,000 special tokens; tekken_240718.json and tekken_240911.json
            # hold the same vocabulary (the later one adds an image config)
            "tekken",
            "tekken",
            "tekken_240911.json",
            ("1948e2d48b0e7377f1bb5f1210f1ae5f984934e75713fc07e2452729b8365316",
             "eccd1665d2e477697c33cb7f0daa6f6dfefc57a0a6bceb66d4be52952f827516"),
            None,
            license_note=(
                "Mistral's tekken file ships in the mistral-common wheel (Apache-2.0): pip install "
                "mistral-common, or pass path= to a tekken_240911.json / tekken_240718.json, or place "
                "it at <TOKENOPS_DATA_DIR>/tokenizers/tekken_240911.json."
            ),
            fmt="tekken",
            package_files=("mistral_common", "data", ("tekken_240911.json", "tekken_240718.json")),
        ),
    ]
}

# tiktoken/model.py @ 0.14.0
MODEL_PREFIX_TO_ENCODING: dict[str, str] = {
    "o1-": "o200k_base",
    "o3-": "o200k_base",
    "o4-mini-": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.5-": "o200k_base",
    "gpt-4.1-": "o200k_base",
    "chatgpt-4o-": "o200k_base",
    "gpt-4o-": "o200k_base",
    "gpt-4-": "cl100k_base",
    "gpt-3.5-turbo-": "cl100k_base",
    "gpt-35-turbo-": "cl100k_base",
    "gpt-oss-": "o200k_harmony",
    "ft:gpt-4o": "o200k_base",
    # beyond tiktoken 0.14 (which reads ft:gpt-4.1-* as ft:gpt-4, cl100k_base): fine-tuned gpt-4.1
    # and o4-mini models keep their base model's o200k_base
    "ft:gpt-4.1": "o200k_base",
    "ft:o4-mini": "o200k_base",
    "ft:gpt-4": "cl100k_base",
    "ft:gpt-3.5-turbo": "cl100k_base",
    "ft:davinci-002": "cl100k_base",
    "ft:babbage-002": "cl100k_base",
    # beyond tiktoken: open models with a public tiktoken-format vocabulary
    "llama-3": "llama3",
    "llama3": "llama3",
    "meta-llama/llama-3": "llama3",
    "meta-llama/meta-llama-3": "llama3",
    # Mistral models whose tokenizer is tekken v3 (mistral_common's MODEL_NAME_TO_TOKENIZER_CLS
    # and the Hugging Face repositories' tekken.json)
    "mistralai/mistral-nemo": "tekken",
    "mistralai/pixtral-12b": "tekken",
    "mistralai/ministral-8b-instruct-2410": "tekken",
}

MODEL_TO_ENCODING: dict[str, str] = {
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-3-large": "cl100k_base",
    "text-davinci-003": "p50k_base",
    "text-davinci-002": "p50k_base",
    "text-davinci-001": "r50k_base",
    "text-curie-001": "r50k_base",
    "text-babbage-001": "r50k_base",
    "text-ada-001": "r50k_base",
    "davinci": "r50k_base",
    "curie": "r50k_base",
    "babbage": "r50k_base",
    "ada": "r50k_base",
    "code-davinci-002": "p50k_base",
    "code-davinci-001": "p50k_base",
    "code-cushman-002": "p50k_base",
    "code-cushman-001": "p50k_base",
    "davinci-codex": "p50k_base",
    "cushman-codex": "p50k_base",
    "text-davinci-edit-001": "p50k_edit",
    "code-davinci-edit-001": "p50k_edit",
    "text-similarity-davinci-001": "r50k_base",
    "text-similarity-curie-001": "r50k_base",
    "text-similarity-babbage-001": "r50k_base",
    "text-similarity-ada-001": "r50k_base",
    "text-search-davinci-doc-001": "r50k_base",
    "text-search-curie-doc-001": "r50k_base",
    "text-search-babbage-doc-001": "r50k_base",
    "text-search-ada-doc-001": "r50k_base",
    "code-search-babbage-code-001": "r50k_base",
    "code-search-ada-code-001": "r50k_base",
    "gpt2": "gpt2",
    "gpt-2": "gpt2",
    "open-mistral-nemo": "tekken",
    "open-mistral-nemo-2407": "tekken",
    "mistral-nemo": "tekken",
    "ministral-8b-2410": "tekken",
    "mistral-small-2409": "tekken",
    "pixtral-12b-2409": "tekken",
    "pixtral-12b": "tekken",
}


# Exact names match in any case ("GPT-4o"), as the prefixes below do ("GPT-4o-mini").
_MODEL_TO_ENCODING_LOWER: dict[str, str] = {k.lower(): v for k, v in MODEL_TO_ENCODING.items()}


def encoding_name_for_model(model_name: str) -> str:
    """Name of the encoding a model uses; KeyError (listing the known names) if unknown.

    Provider prefixes such as ``openai/``, ``azure/`` or ``openrouter/openai/`` are stripped.
    """
    if not isinstance(model_name, str):
        raise TypeError(f"model name must be str, not {type(model_name).__name__}")
    candidates = [model_name]
    rest = model_name
    prefixes = ("openrouter/", "openai/", "azure/", "azure_ai/", "together_ai/", "mistral/")
    while True:
        # stacked prefixes in any order ("openrouter/openai/gpt-4o", "azure/openai/gpt-4o"):
        # each is stripped from what is left (the second was cut from the original name)
        prefix = next((p for p in prefixes if rest.lower().startswith(p)), None)
        if prefix is None:
            break
        rest = rest[len(prefix):]
        candidates.append(rest)
    for name in candidates:
        if name.lower() in _MODEL_TO_ENCODING_LOWER:
            return _MODEL_TO_ENCODING_LOWER[name.lower()]
        for prefix, enc in MODEL_PREFIX_TO_ENCODING.items():
            if name.startswith(prefix) or name.lower().startswith(prefix):
                # A prefix ending in a version digit must not match a longer number:
                # "llama-3" is not "llama-30b" (LLaMA-1, another tokenizer).
                if prefix[-1].isdigit() and name[len(prefix):len(prefix) + 1].isdigit():
                    continue
                return enc
    import difflib

    close = difflib.get_close_matches(model_name, list(MODEL_TO_ENCODING), n=5)
    raise KeyError(
        f"Could not map model {model_name!r} to an encoding. "
        + (f"Close matches: {', '.join(close)}. " if close else "")
        + f"Known encodings: {', '.join(sorted(ENCODINGS))}; use tokenops.get_encoding(name) "
        "to choose one explicitly."
    )

