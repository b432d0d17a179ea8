"""
tokenops native core (C++). Use the `tokenops` package, not this module directly.
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['CACHE_GUARD_ENTITIES', 'CACHE_GUARD_NEGATION', 'CACHE_GUARD_NUMBERS', 'CACHE_GUARD_QUOTED', 'CoreBigramModel', 'CoreCatalog', 'CoreCompressor', 'CoreEmbedder', 'CoreEncoding', 'CoreFrequencyTable', 'CoreRouter', 'CoreRouterFeatures', 'CoreSentencePiece', 'CoreStreamDecoder', 'CoreTokenClassifier', 'ROUTER_FORMAT_VERSION', 'bert_normalize', 'bert_tables_source', 'cache_guard', 'cache_guard_batch', 'cache_signature', 'check_distribution', 'clear_bpe_memo', 'compress_pack', 'compress_terms', 'compress_word_list', 'cost_bucket_names', 'find_invalid_utf8', 'general_category', 'parse_iso_date', 'router_dense_signal_names', 'simulate_workflow', 'unicode_version']
class CoreEncoding:
    """
    Immutable native BPE encoding; thread-safe, GIL released.
    """
    @staticmethod
    def from_hf_json(name: str, data: bytes, source: str) -> CoreEncoding:
        ...
    @staticmethod
    def from_tekken(name: str, data: bytes, source: str) -> CoreEncoding:
        ...
    @staticmethod
    def from_tiktoken(name: str, pretokenizer: str, data: bytes, specials: dict, source: str) -> CoreEncoding:
        ...
    def count(self, text: typing.Any, allowed: typing.Any) -> int:
        ...
    def count_batch(self, texts: typing.Any, allowed: typing.Any, disallowed: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], typing.Any]:
        """
        Returns (int64 counts, None) or (_, the first disallowed special token found).
        """
    def decode_bytes(self, tokens: typing.Any) -> bytes:
        ...
    def decode_single_token_bytes(self, token: typing.SupportsInt | typing.SupportsIndex) -> bytes:
        ...
    def decode_tokens_bytes(self, tokens: typing.Any) -> list:
        ...
    def encode(self, text: typing.Any, allowed: typing.Any, int_cache: typing.Any = None) -> list:
        ...
    def encode_batch(self, texts: typing.Any, allowed: typing.Any, disallowed: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex, int_cache: typing.Any = None) -> tuple:
        """
        Returns (token lists, None) or (None, the first disallowed special token found).
        """
    def encode_batch_to_numpy(self, texts: typing.Any, allowed: typing.Any, disallowed: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple:
        """
        Returns (uint32 arrays, None) or (None, the first disallowed special token found).
        """
    def encode_bytes(self, data: bytes, int_cache: typing.Any = None) -> list:
        ...
    def encode_ordinary(self, text: typing.Any, int_cache: typing.Any = None) -> list:
        ...
    def encode_single_piece(self, data: bytes) -> list:
        ...
    def encode_single_piece_reference(self, data: bytes) -> list:
        """
        BPE of one piece with the plain heap merge (test oracle).
        """
    def encode_single_token(self, data: bytes) -> int:
        ...
    def encode_to_numpy(self, text: typing.Any, allowed: typing.Any) -> numpy.typing.NDArray[numpy.uint32]:
        ...
    def encode_with_unstable(self, text: typing.Any, allowed: typing.Any, int_cache: typing.Any = None) -> tuple[list, list]:
        ...
    def find_special(self, text: typing.Any, candidates: typing.Any) -> typing.Any:
        """
        The first special token (among candidates) whose text occurs in text, or None.
        """
    def token_byte_values(self) -> list:
        ...
    def truncate(self, text: typing.Any, max_tokens: typing.SupportsInt | typing.SupportsIndex, allowed: typing.Any, keep_end: bool) -> str:
        ...
    @property
    def max_token_value(self) -> int:
        ...
    @property
    def memory_bytes(self) -> int:
        ...
    @property
    def merge_mode(self) -> bool:
        ...
    @property
    def n_mergeable(self) -> int:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def pretokenizer(self) -> str:
        ...
    @property
    def specials(self) -> dict:
        ...
class CoreStreamDecoder:
    def __init__(self, encoding: CoreEncoding) -> None:
        ...
    def flush(self) -> bytes:
        ...
    def push(self, tokens: typing.Any) -> bytes:
        ...
    @property
    def pending(self) -> int:
        ...
class CoreSentencePiece:
    """
    Immutable native SentencePiece BPE model; thread-safe, GIL released.
    """
    @staticmethod
    def from_model(data: bytes, source: str) -> CoreSentencePiece:
        ...
    def count(self, text: typing.Any) -> int:
        ...
    def decode_bytes(self, ids: typing.Any, replace_invalid: bool = False) -> bytes:
        ...
    def encode(self, text: typing.Any, int_cache: typing.Any = None) -> list:
        ...
    def piece(self, id: typing.SupportsInt | typing.SupportsIndex) -> tuple[str, float, int]:
        ...
    @property
    def bos_id(self) -> int:
        ...
    @property
    def byte_fallback(self) -> bool:
        ...
    @property
    def eos_id(self) -> int:
        ...
    @property
    def size(self) -> int:
        ...
    @property
    def unk_id(self) -> int:
        ...
class CoreRouterFeatures:
    """
    Router feature extractor (hashed n-grams + dense signals).
    """
    def __init__(self, hash_bits: typing.SupportsInt | typing.SupportsIndex, word_ngram_min: typing.SupportsInt | typing.SupportsIndex, word_ngram_max: typing.SupportsInt | typing.SupportsIndex, char_ngram_min: typing.SupportsInt | typing.SupportsIndex, char_ngram_max: typing.SupportsInt | typing.SupportsIndex, dense: bool, encoding: typing.Any = None) -> None:
        ...
    def dense_raw_batch(self, texts: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float32]:
        """
        Unstandardised dense signals, shape (n, len(router_dense_signal_names())).
        """
    def sparse_batch(self, texts: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float32]]:
        """
        CSR parts (indptr, indices, values) of the hashed n-gram block; duplicates add up.
        """
    @property
    def dense_dim(self) -> int:
        ...
    @property
    def sparse_dim(self) -> int:
        ...
class CoreRouter:
    """
    Immutable native router; thread-safe, GIL released.
    """
    @staticmethod
    def from_bytes(data: bytes, source: str, encoding: typing.Any = None) -> CoreRouter:
        ...
    def outputs(self, texts: typing.Any, embeddings: typing.Any = None, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def route(self, texts: typing.Any, lam: typing.SupportsFloat | typing.SupportsIndex, costs: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], embeddings: typing.Any = None, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.int32]:
        ...
    def score(self, texts: typing.Any, embeddings: typing.Any = None, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def binary_score(self) -> str:
        ...
    @property
    def costs(self) -> list[float]:
        ...
    @property
    def description(self) -> str:
        ...
    @property
    def embed_tail_chars(self) -> int:
        ...
    @property
    def embedder(self) -> str:
        ...
    @property
    def embedding_dim(self) -> int:
        ...
    @property
    def encoding_name(self) -> str:
        ...
    @property
    def family(self) -> str:
        ...
    @property
    def models(self) -> list[str]:
        ...
    @property
    def n_outputs(self) -> int:
        ...
    @property
    def needs_embedding(self) -> bool:
        ...
    @property
    def strong(self) -> int:
        ...
    @property
    def task(self) -> str:
        ...
    @property
    def weak(self) -> int:
        ...
class CoreFrequencyTable:
    """
    Unigram word probabilities (immutable).
    """
    def __init__(self, words: typing.Any, freqs: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], floor: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
        ...
    def __len__(self) -> int:
        ...
    def bits(self, arg0: typing.Any) -> float:
        ...
class CoreBigramModel:
    """
    Word-bigram model with absolute discounting.
    """
    def __init__(self, data: bytes, source: str) -> None:
        ...
    @property
    def n_bigrams(self) -> int:
        ...
    @property
    def n_words(self) -> int:
        ...
class CoreTokenClassifier:
    """
    BERT token-classification scorer (immutable, thread-safe).
    """
    @staticmethod
    def load(path: str, keep_label: typing.SupportsInt | typing.SupportsIndex = 1) -> CoreTokenClassifier:
        ...
    def encode(self, text: typing.Any) -> list[int]:
        """
        [CLS] word pieces [SEP] of text.
        """
    def logits(self, ids: typing.Any) -> numpy.ndarray:
        """
        Logits [len(ids), n_labels] of one [CLS] ... [SEP] sequence.
        """
    @property
    def max_tokens(self) -> int:
        ...
    @property
    def n_labels(self) -> int:
        ...
class CoreCompressor:
    """
    Budgeted prompt compressor (immutable, thread-safe).
    """
    def __init__(self, encoding: CoreEncoding, freq: CoreFrequencyTable, bigram: CoreBigramModel, info_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, bm25_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, bm25_sentence: typing.SupportsFloat | typing.SupportsIndex = 0.5, bm25_paragraph: typing.SupportsFloat | typing.SupportsIndex = 0.5, bm25_neighbour: typing.SupportsFloat | typing.SupportsIndex = 0.30000001192092896, bm25_window: typing.SupportsInt | typing.SupportsIndex = 0, embedder: ... = None, embed_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, embed_threads: typing.SupportsInt | typing.SupportsIndex = 0, classifier: CoreTokenClassifier = None, classifier_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0) -> None:
        ...
    def compress(self, text: typing.Any, question: typing.Any, rate: typing.SupportsFloat | typing.SupportsIndex = 0.0, target_tokens: typing.SupportsInt | typing.SupportsIndex = -1, force_tokens: typing.Any, force_digits: bool = True, force_entities: bool = False, force_code: bool = True, drop_consecutive: bool = True, json: bool = False, protect: typing.Any, protect_spans: typing.Any, chunk_slack: typing.SupportsFloat | typing.SupportsIndex = 1.0, chunk_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, position_weight: typing.SupportsFloat | typing.SupportsIndex = 0.15000000596046448, answer_type_weight: typing.SupportsFloat | typing.SupportsIndex = 0.15000000596046448, dedup: bool = True) -> dict:
        ...
    def compress_batch(self, texts: typing.Any, questions: typing.Any, rate: typing.SupportsFloat | typing.SupportsIndex = 0.0, target_tokens: typing.SupportsInt | typing.SupportsIndex = -1, force_tokens: typing.Any, force_digits: bool = True, force_entities: bool = False, force_code: bool = True, drop_consecutive: bool = True, json: bool = False, protect: typing.Any, protect_spans: typing.Any, chunk_slack: typing.SupportsFloat | typing.SupportsIndex = 1.0, chunk_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, position_weight: typing.SupportsFloat | typing.SupportsIndex = 0.15000000596046448, answer_type_weight: typing.SupportsFloat | typing.SupportsIndex = 0.15000000596046448, dedup: bool = True, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> list:
        ...
    def count(self, arg0: typing.Any) -> int:
        ...
class CoreEmbedder:
    @staticmethod
    def load(path: str) -> CoreEmbedder:
        ...
    def embed(self, texts: typing.Any, batch_size: typing.SupportsInt | typing.SupportsIndex, num_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def id_to_token(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> str:
        ...
    def info(self) -> dict:
        ...
    def token_to_id(self, arg0: str) -> int:
        ...
    def tokenize(self, text: typing.Any) -> list:
        ...
    def tokenize_batch(self, texts: typing.Any) -> list:
        ...
    @property
    def dim(self) -> int:
        ...
    @property
    def max_tokens(self) -> int:
        ...
    @property
    def vocab_size(self) -> int:
        ...
class CoreCatalog:
    """
    Immutable native price catalogue; thread-safe.
    """
    @staticmethod
    def from_genai_json(data: bytes, source: str, checked_date: str) -> tuple:
        ...
    @staticmethod
    def from_litellm_json(data: bytes, source: str, checked_date: str) -> tuple:
        ...
    def __len__(self) -> int:
        ...
    def close_matches(self, name: str, k: typing.SupportsInt | typing.SupportsIndex = 5) -> list[str]:
        ...
    def entry(self, index: typing.SupportsInt | typing.SupportsIndex) -> dict:
        ...
    def find_key(self, key: str) -> typing.Any:
        ...
    def keys(self) -> list:
        ...
    def litellm_target(self, name: str) -> dict:
        ...
    def price_batch(self, mode: str, names: collections.abc.Sequence[str], codes: typing.Any, columns: dict, n: typing.SupportsInt | typing.SupportsIndex, tier: str, date: typing.SupportsInt | typing.SupportsIndex, num_threads: typing.SupportsInt | typing.SupportsIndex = 0, split: bool = False, contexts: typing.Any = None) -> tuple[numpy.typing.NDArray[numpy.float64], typing.Any, typing.Any, typing.Any]:
        ...
    def price_exact(self, index: typing.SupportsInt | typing.SupportsIndex, counts: typing.Any, tier: str, date: typing.SupportsInt | typing.SupportsIndex, inference_geo: str = '', speed: str = '') -> tuple[str, list, str]:
        ...
    def price_litellm(self, name: str, counts: typing.Any, tier: str, view: typing.Any = None, inference_geo: str = '', speed: str = '') -> dict:
        ...
    def resolve(self, name: str) -> tuple[int, str]:
        ...
    @property
    def checked_date(self) -> str:
        ...
    @property
    def source(self) -> str:
        ...
def bert_normalize(text: typing.Any, clean_text: bool = True, handle_chinese_chars: bool = True, strip_accents: bool = True, lowercase: bool = True) -> str:
    ...
def bert_tables_source() -> str:
    ...
def cache_guard(prompt: typing.Any, cached_prompt: typing.Any, guards: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Bits of the guards that fail between two prompts (0: a hit may stand).
    """
def cache_guard_batch(prompts: typing.Any, cached_prompts: typing.Any, guards: typing.SupportsInt | typing.SupportsIndex, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint32]:
    """
    cache_guard over pairs (a uint32 array of failed-guard bits), GIL released.
    """
def cache_signature(text: typing.Any) -> dict:
    """
    What the cache guards compare in a prompt (numbers, entities, quoted spans, negation).
    """
def check_distribution(spec: dict, where: str) -> None:
    """
    ValueError naming `where` for a distribution the simulator refuses (see budget::check_dist).
    """
def clear_bpe_memo() -> None:
    """
    Empties every thread's memo of BPE results, the batch workers' included (for cold-cache benchmarks).
    """
def compress_pack(encoding: CoreEncoding, passages: typing.Any, question: typing.Any, budget: typing.SupportsInt | typing.SupportsIndex, extra_relevance: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], mmr_lambda: typing.SupportsFloat | typing.SupportsIndex = 0.699999988079071, cost_power: typing.SupportsFloat | typing.SupportsIndex = 0.5, bm25_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, extra_weight: typing.SupportsFloat | typing.SupportsIndex = 1.0, reorder: bool = False, dedup: bool = True, separator: typing.Any = '\n\n') -> dict:
    ...
def compress_terms(text: typing.Any, drop_stopwords: bool = False) -> list[str]:
    ...
def compress_word_list(text: typing.Any) -> list[str]:
    """
    Lower-cased words of text per compress' segmentation, '<s>' at sentence starts.
    """
def cost_bucket_names() -> list:
    ...
def find_invalid_utf8(data: bytes) -> typing.Any:
    """
    Offset of the first byte that is not valid UTF-8, or None.
    """
def general_category(codepoint: typing.SupportsInt | typing.SupportsIndex) -> str:
    """
    Unicode general category of a code point, from the core's tables.
    """
def parse_iso_date(date: str, field: str = 'date') -> int:
    ...
def router_dense_signal_names() -> list[str]:
    """
    Names of the router's dense length/structure signals, in order.
    """
def simulate_workflow(workflow: dict, models: list, n: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, deterministic: bool, num_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> dict:
    ...
def unicode_version() -> str:
    """
    Unicode version of the character tables compiled into the core.
    """
CACHE_GUARD_ENTITIES: int = 4
CACHE_GUARD_NEGATION: int = 2
CACHE_GUARD_NUMBERS: int = 1
CACHE_GUARD_QUOTED: int = 8
ROUTER_FORMAT_VERSION: int = 3
__version__: str = '0.1.0'
