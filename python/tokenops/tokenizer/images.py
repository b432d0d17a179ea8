"""Prompt tokens of image inputs, by each provider's published sizing rule.

Images are billed as input tokens computed from their pixel size, not from their bytes:

* OpenAI, tile models (vision guide, "Calculating costs"): ``detail="low"`` costs the base tokens;
  ``"high"`` scales the image to fit a 2048 x 2048 square, then so that its shortest side is at
  most 768 px (never up), and adds one tile cost per 512 px tile covering it. Base / tile tokens:
  gpt-5, gpt-5.x (not mini / nano) 70 / 140; gpt-4o, gpt-4.1, gpt-4.5, gpt-4-turbo 85 / 170;
  gpt-4o-mini 2833 / 5667; o1, o3 75 / 150; computer-use-preview 65 / 129. The guide's worked
  examples: a 1024 x 1024 image costs 765 tokens on gpt-4o, 2048 x 4096 costs 1105, any low-detail
  image 85. Scaled sizes are rounded half to even, which reproduces measured bills at the
  edges (2049 x 513 and 2050 x 513 on gpt-4.1: eight and four tiles).
* OpenAI, patch models (gpt-4.1-mini / nano, gpt-5-mini / nano, o4-mini): one patch per 32 x 32
  px; above 1,536 patches the image is shrunk until it fits 1,536 (the guide's 1800 x 2400
  example: 1,452 patches); the patch count times a model multiplier, rounded up; ``detail`` does
  not change it. Multipliers: gpt-4.1-mini 1.62, gpt-4.1-nano 2.46, o4-mini 1.72 (the guide);
  gpt-5-mini 1.2 and gpt-5-nano 1.5 (OpenAI's pricing-page calculator; the guide says 1.62 and
  2.46, but measured bills follow the calculator: gpt-5-mini images of 64 to 1,536 patches were
  billed exactly ceil(1.2 x patches), e.g. 1024 x 1024 -> 1,229 tokens).
* Anthropic Claude: ``width * height / 750`` after scaling so the long edge is at most 1,568 px
  and the image at most 1,600 tokens (1.2 megapixels), rounded up.
* Google Gemini 2.x: 258 tokens for an image with both sides at most 384 px, else 258 per
  768 x 768 tile covering it; Gemini 1.5: 258 per image. Gemini 3 counts by ``media_resolution``
  (no rule here: KeyError, and count_messages notes the image as not counted).

Every figure is an **estimate** of a provider's internal rule (documented, not open source);
:func:`count_messages` labels it so.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import operator
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Optional, Union

__all__ = ["image_tokens", "image_size_from_data", "ImageSize"]

ImageSize = Union[tuple[int, int], Mapping[str, tuple[int, int]], Callable[[str], Optional[tuple[int, int]]], None]

DETAILS = ("low", "high", "auto")

# (prefix, rule, parameters), first match wins; model names are matched lower-cased without a
# provider prefix ("openai/gpt-4o" -> "gpt-4o") and without a dated suffix's effect on the prefix.
_OPENAI_RULES: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("gpt-4.1-mini", "patch", (1.62,)),
    ("gpt-4.1-nano", "patch", (2.46,)),
    ("gpt-5-mini", "patch", (1.2,)),
    ("gpt-5-nano", "patch", (1.5,)),
    ("o4-mini", "patch", (1.72,)),
    ("gpt-4o-mini", "tile", (2833, 5667)),
    ("computer-use-preview", "tile", (65, 129)),
    ("gpt-5", "tile", (70, 140)),
    ("gpt-4o", "tile", (85, 170)),
    ("chatgpt-4o", "tile", (85, 170)),
    ("gpt-4.1", "tile", (85, 170)),
    ("gpt-4.5", "tile", (85, 170)),
    ("gpt-4-turbo", "tile", (85, 170)),
    ("gpt-4-vision", "tile", (85, 170)),
    ("o1", "tile", (75, 150)),
    ("o3", "tile", (75, 150)),
)
# OpenAI models without image input whose names a prefix above would take.
_NO_VISION = re.compile(r"tts|audio|realtime|search|transcribe|embedding|instruct|^o1-(mini|preview)|"
                        r"^o3-mini|^gpt-4-turbo-preview")


def _rule(model: str) -> tuple[str, tuple[float, ...]]:
    if not isinstance(model, str):
        raise TypeError(f"model must be str, not {type(model).__name__}")
    low = model.lower()
    if "claude" in low:  # claude-*, anthropic/claude-*, Bedrock's us.anthropic.claude-*-v1:0
        return "claude", ()
    name = low.rsplit("/", 1)[-1]
    if name.startswith("ft:"):  # a fine-tuned OpenAI model: ft:gpt-4o-2024-08-06:org::id
        name = name[3:].split(":", 1)[0]
    if name.startswith("gemini-1.5"):
        return "gemini-1.5", ()
    if name.startswith("gemini-2"):
        return "gemini", ()
    if not _NO_VISION.search(name):
        for prefix, rule, params in _OPENAI_RULES:
            if name == prefix or name.startswith(prefix + "-"):
                if rule == "tile" and re.search(r"-(mini|nano)\b", name[len(prefix):]):
                    continue  # gpt-5-codex-mini is not gpt-5
                return rule, params
        m = re.match(r"gpt-5\.\d+(-|$)", name)  # gpt-5.1, gpt-5.2-chat...: gpt-5's tiles
        if m and not re.search(r"-(mini|nano)\b", name):
            return "tile", (70, 140)
    raise KeyError(
        f"no image-token rule is known for model {model!r}; known: OpenAI vision models "
        f"({', '.join(p for p, _, _ in _OPENAI_RULES)}), claude-*, gemini-1.5-*, gemini-2*"
    )


def _check_size(width: Any, height: Any) -> tuple[int, int]:
    out = []
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, (bool, float)):
            raise TypeError(f"image {name} must be an int number of pixels, not {type(v).__name__}")
        try:
            v = operator.index(v)
        except TypeError:
            raise TypeError(f"image {name} must be an int number of pixels, not {type(v).__name__}") from None
        if v <= 0:
            raise ValueError(f"image {name} must be positive, got {v}")
        if v > 1_000_000:
            raise ValueError(f"image {name} of {v} px is not a real image size (limit 1,000,000)")
        out.append(v)
    return out[0], out[1]


def _tiles(w: int, h: int, base: float, tile: float, detail: str) -> int:
    if detail == "low":
        return int(base)
    if w > 2048 or h > 2048:
        s = 2048 / max(w, h)
        w, h = round(w * s), round(h * s)
    if min(w, h) > 768:
        s = 768 / min(w, h)
        w, h = round(w * s), round(h * s)
    return int(base + tile * math.ceil(w / 512) * math.ceil(h / 512))


def _patches(w: int, h: int, mult: float) -> int:
    n = math.ceil(w / 32) * math.ceil(h / 32)
    if n > 1536:
        s = math.sqrt(32 * 32 * 1536 / (w * h))
        s *= min(math.floor(w * s / 32) / (w * s / 32), math.floor(h * s / 32) / (h * s / 32))
        n = math.ceil(int(w * s) / 32) * math.ceil(int(h * s) / 32)
        n = min(n, 1536)
    return math.ceil(round(n * mult, 6))


def _claude(w: int, h: int) -> int:
    s = min(1.0, 1568 / max(w, h), math.sqrt(1600 * 750 / (w * h)))
    if s < 1.0:
        w, h = max(1, int(w * s)), max(1, int(h * s))
    return math.ceil(w * h / 750)


def _gemini(w: int, h: int) -> int:
    if w <= 384 and h <= 384:
        return 258
    return 258 * math.ceil(w / 768) * math.ceil(h / 768)


def image_tokens(width: int, height: int, model: str = "gpt-4o", detail: str = "high") -> int:
    """Estimated prompt tokens of one ``width`` x ``height`` image for ``model``.

    ``detail`` is OpenAI's image detail, ``"low"``, ``"high"`` or ``"auto"`` (counted as
    ``"high"``, the larger of the two; the API picks one by itself). Unknown models raise KeyError;
    non-positive or absurd sizes raise ValueError."""
    w, h = _check_size(width, height)
    if detail not in DETAILS:
        raise ValueError(f"image detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    rule, params = _rule(model)
    if rule == "tile":
        return _tiles(w, h, params[0], params[1], detail)
    if rule == "patch":
        return _patches(w, h, params[0])
    if rule == "claude":
        return _claude(w, h)
    if rule == "gemini-1.5":
        return 258
    return _gemini(w, h)


def max_image_tokens(model: str, detail: str = "high") -> Optional[int]:
    """The most one image can cost on ``model`` whatever its size (None where the rule has no
    ceiling: Gemini tiles grow with the image)."""
    if detail not in DETAILS:
        raise ValueError(f"image detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    rule, params = _rule(model)
    if rule == "tile":
        # after the two scalings every image fits 2048 x 768: at most 4 x 2 tiles
        return _tiles(2048, 768, params[0], params[1], detail)
    if rule == "patch":
        return math.ceil(round(1536 * params[0], 6))
    if rule == "claude":
        return 1600  # the ~1.2 megapixel cap
    if rule == "gemini-1.5":
        return 258
    return None


_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(;[^;,]*)*?);base64,", re.IGNORECASE)


def image_size_from_data(data: Union[str, bytes]) -> tuple[int, int]:
    """(width, height) of an image given as a ``data:image/...;base64,`` URL, bare base64 or raw
    bytes. Reads only the header (Pillow). Raises ValueError if it is not a readable image."""
    if isinstance(data, str):
        m = _DATA_URL.match(data)
        payload = data[m.end():] if m else data
        try:
            raw = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"image data is not valid base64 ({e})") from None
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise TypeError(f"image data must be str or bytes, not {type(data).__name__}")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib and the test extra
        raise ImportError("reading an image's size needs Pillow: pip install 'tokenops[vision]' "
                          "(or pillow)") from None
    try:
        with warnings.catch_warnings():
            # only the header is read: a large size is no decompression bomb here
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:
                return _check_size(*im.size)
    except Image.DecompressionBombError as e:
        raise ValueError(f"image data declares a size beyond any provider's limit ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"image data is not a readable image ({e})") from None
