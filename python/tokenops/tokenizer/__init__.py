"""Exact BPE tokenization: byte-level (tiktoken encodings, Llama-3, Mistral tekken, Hugging Face BPE)
and SentencePiece BPE (Mistral v1-v7, Llama 2)."""

from .chat import TokenCount, count_messages, count_tools
from .core import (
    Encoding,
    StreamDecoder,
    UnknownEncodingError,
    encoding_for_model,
    get_encoding,
    list_encoding_names,
)
from .images import image_size_from_data, image_tokens
from .registry import encoding_name_for_model
from .sentencepiece import SentencePieceEncoding

__all__ = [
    "Encoding",
    "SentencePieceEncoding",
    "StreamDecoder",
    "TokenCount",
    "UnknownEncodingError",
    "count_messages",
    "count_tools",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "image_size_from_data",
    "image_tokens",
    "list_encoding_names",
]
