"""Context packing: ``pack`` chooses retrieved passages under a token budget; ``pack_chat`` fits a
conversation into a budget, keeping the system prompt, the last turns and a summary slot."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _core
from .._args import INT64_MAX, as_int
from ..tokenizer import Encoding, count_messages
from ..tokenizer.images import ImageSize
from ..tokenizer.chat import _message_dict
from ..tokenizer.chat import _resolve as _resolve_chat_model
from .api import UNIT_KINDS, Compressor, _check_text, _check_weights, _core_bytes, _resolve_model, default_compressor


def _check_budget(budget: object) -> int:
    try:
        return as_int(budget, "budget")
    except TypeError:
        raise TypeError(f"budget must be an int number of tokens, not {type(budget).__name__}") from None

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PackResult:
    """Chosen passages (indices into the input, in output order) and their joined text."""

    text: str
    selected: list[int]
    total_tokens: int
    budget: int
    relevance: np.ndarray  # per input passage (BM25 [+ extra], before MMR)
    tokens: np.ndarray  # per input passage
    duplicate_of: np.ndarray  # per input passage: index of the earlier near-duplicate, or -1
    notes: tuple[str, ...] = ()  # e.g. that the counts are an approximation (no public tokenizer)

    @property
    def passages_kept(self) -> int:
        return len(self.selected)


def pack(
    passages: Sequence[str],
    question: str,
    budget: int,
    *,
    model: str | Encoding = "gpt-4o",
    mmr_lambda: float = 0.7,
    cost_power: float = 0.5,
    reorder: bool = False,
    dedup: bool = True,
    separator: str = "\n\n",
    extra_relevance: Sequence[float] | None = None,
    bm25_weight: float = 1.0,
    extra_weight: float = 1.0,
    embedder: Any = None,
    fill_irrelevant: bool = False,
) -> PackResult:
    """Picks passages for ``question`` whose joined text fits ``budget`` tokens of ``model``.

    Passages are ranked by relevance per token (BM25, plus ``extra_relevance`` such as embedding
    cosine similarities, one per passage), de-duplicated with maximal marginal relevance
    (``mmr_lambda``: 1 = relevance only) and near-duplicate detection. ``reorder=True`` puts the
    most relevant passages at the start and the end of the prompt ("lost in the middle");
    otherwise they keep their input order. ``embedder`` (a :class:`tokenops.Embedder`) adds the
    cosine similarity between the question and each passage to ``extra_relevance``.

    Passages with no relevance to the question (relevance <= 0: no question term, no positive
    extra relevance) are left out even when budget remains, so no tokens are spent on them;
    ``fill_irrelevant=True`` fills the leftover budget with them (the former behaviour). When no
    passage relates to the question (an empty question, say) there is nothing to rank by and
    passages are taken as they fit, as before. Empty or all-white-space passages are never
    picked.
    """
    if isinstance(passages, (str, bytes)) or not isinstance(passages, Iterable):
        raise TypeError(f"passages must be a list of str, not {type(passages).__name__}")
    question = _check_text(question, "question")
    budget = _check_budget(budget)
    if budget < 0:
        raise ValueError(f"budget must be >= 0 tokens, got {budget}")
    _check_weights(bm25_weight=bm25_weight, extra_weight=extra_weight)
    _check_text(separator, "separator")
    enc, token_note = _resolve_model(model)
    passages = list(passages)
    try:
        extra = [float(x) for x in extra_relevance] if extra_relevance is not None else []
    except (TypeError, ValueError):
        raise TypeError("extra_relevance must be a sequence of numbers, one per passage") from None
    if embedder is not None:
        if not hasattr(embedder, "similarity"):
            raise TypeError("embedder must be a tokenops.Embedder")
        sims = [max(0.0, float(x)) for x in embedder.similarity(question, passages)[0]] if passages else []
        extra = [a + b for a, b in zip(extra, sims)] if extra else sims
    def run(items: list[str], extra_rel: list[float]) -> dict[str, Any]:
        return _core.compress_pack(
            enc._core, items, question, min(budget, INT64_MAX), extra_rel,
            mmr_lambda=float(mmr_lambda), cost_power=float(cost_power), bm25_weight=float(bm25_weight),
            extra_weight=float(extra_weight), reorder=bool(reorder), dedup=bool(dedup), separator=separator,
        )

    raw = run(passages, extra)
    selected, text, total = list(raw["selected"]), raw["text"], int(raw["total_tokens"])
    rel = raw["relevance"]
    duplicate_of = raw["duplicate_of"]
    if not bool(fill_irrelevant) and len(rel) and float(rel.max()) > 0 and any(rel[i] <= 0 for i in selected):
        # The core fills leftover budget with whatever fits; a passage sharing nothing with the
        # question ("Bananas are yellow." for a question about France) costs tokens for nothing.
        # Pack again over the relevant passages only (dropping the irrelevant ones after the
        # selection could leave out a relevant one that MMR had ranked below them).
        idx = [i for i in range(len(passages)) if rel[i] > 0]
        sub = run([passages[i] for i in idx], [extra[i] for i in idx] if extra else [])
        selected = [idx[j] for j in sub["selected"]]
        text, total = sub["text"], int(sub["total_tokens"])
        # among the relevant passages, what the pack that chose them saw: one that only repeats
        # an irrelevant passage is no duplicate there (and may be picked)
        duplicate_of = duplicate_of.copy()
        for j, d in enumerate(sub["duplicate_of"]):
            duplicate_of[idx[j]] = idx[d] if d >= 0 else -1
    return PackResult(
        text=text, selected=selected, total_tokens=total,
        budget=budget, relevance=rel, tokens=raw["tokens"], duplicate_of=duplicate_of,
        notes=(token_note,) if token_note else (),
    )


@dataclass(frozen=True)
class ChatPackResult:
    messages: list[dict[str, Any]]
    tokens: int  # prompt tokens of `messages` (count_messages)
    original_tokens: int
    dropped: list[int]  # indices of input messages left out (summarised when a summary was made)
    summary: str | None
    kind: str = "estimate"  # count_messages' label: "estimate" or "approximation" (no public tokenizer)
    notes: tuple[str, ...] = ()  # count_messages' notes for the packed messages


def _blocks(m: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The dict blocks of a message's content list (none for a str content)."""
    c = m.get("content")
    if isinstance(c, (str, bytes, bytearray)) or not isinstance(c, Sequence):
        return []
    return [p for p in c if isinstance(p, Mapping)]


def _tool_use_ids(m: Mapping[str, Any]) -> set[str]:
    """Ids of the Anthropic ``tool_use`` blocks of a message."""
    return {b["id"] for b in _blocks(m) if b.get("type") == "tool_use" and isinstance(b.get("id"), str)}


def _tool_result_ids(m: Mapping[str, Any]) -> set[str]:
    """``tool_use_id``s of the Anthropic ``tool_result`` blocks of a message."""
    return {b["tool_use_id"] for b in _blocks(m)
            if b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str)}


def _summary_source(m: Mapping[str, Any]) -> str:
    """What the extractive summary reads of a message: its text (a str, or the text parts of an
    OpenAI- or Anthropic-style content list, tool results included) and the tool / function calls
    it makes."""
    c = m.get("content")
    parts: list[str] = []
    if isinstance(c, str):
        parts.append(c)
    elif isinstance(c, Sequence) and not isinstance(c, (bytes, bytearray)):
        for p in c:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, Mapping):
                if p.get("type") == "tool_use" and isinstance(p.get("name"), str):
                    try:
                        args = json.dumps(p.get("input"), ensure_ascii=False)
                    except (TypeError, ValueError):
                        args = ""
                    parts.append(f"{p['name']}({args})")
                    continue
                if p.get("type") == "tool_result":
                    inner = _summary_source({"content": p.get("content")})
                    if inner:
                        parts.append(inner)
                    continue
                t = p.get("text")  # {"type": "text" / "input_text" / "output_text", "text": ...}
                if isinstance(t, Mapping):  # Assistants API: {"text": {"value": ...}}
                    t = t.get("value")
                if isinstance(t, str):
                    parts.append(t)
    calls = list(m.get("tool_calls") or [])
    if m.get("function_call"):
        calls.append({"function": m["function_call"]})
    for call in calls:
        fn = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            args = fn.get("arguments")
            parts.append(f"{fn['name']}({args if isinstance(args, str) else ''})")
    return " ".join(p for p in parts if p)


def _anthropic_shaped(msgs: Sequence[Mapping[str, Any]], model: str) -> bool:
    """Whether a history is in the shape of Anthropic's Messages API: no system message in the list
    (it is a separate parameter there), and a Claude model or Anthropic content blocks."""
    if any(m.get("role") in ("system", "developer") for m in msgs):
        return False
    low = model.lower()
    if low.startswith(("claude", "anthropic/", "bedrock/anthropic")) or "/claude" in low:
        return True
    for m in msgs:
        for b in _blocks(m):
            t = b.get("type")
            if t in ("tool_use", "tool_result", "document") or (t == "image" and "source" in b):
                return True
    return False


_SUMMARY_PREFIX = "Summary of the earlier conversation:\n"


def _extractive_summary(compressor: Compressor, lines: list[tuple[str, str]], question: str | None,
                        room: int) -> str:
    """The ``(role, text)`` messages compressed into about ``room`` tokens as "role: text" lines.

    Question-aware when the conversation goes on with a user message (``question``): whole
    relevant sentences are kept before single words, where a word-level pick of a long history
    at 20x is word salad. Numbers are not forced: a history of worked answers holds more digits
    than the room, and the forced digits alone came back over it, cut to a prefix of bare
    numbers. Every message that keeps some text starts its line with its ``role:`` label, put
    back when the compression dropped it."""
    labelled = [f"{role}: {text}" for role, text in lines]
    history = "\n".join(labelled)
    owner: list[int] = []  # input line -> message
    for i, line in enumerate(labelled):
        owner += [i] * (1 + line.count("\n"))
    target = min(room, compressor.count(history))
    data, newline = _core_bytes(history), UNIT_KINDS.index("newline")  # (unit offsets index the bytes)
    out = ""
    for _ in range(3):  # the labels put back cost tokens: aim lower in proportion
        r = compressor.compress(history, question, target_tokens=max(1, target), force_digits=False)
        kept_lines: list[int] = []  # input lines holding a kept unit, in order
        line = 0
        raw = r._raw
        for kind, kept, a, b in zip(raw["unit_kind"].tolist(), raw["kept"].tolist(),
                                    raw["unit_start"].tolist(), raw["unit_end"].tolist()):
            if kind != newline and kept:
                # a unit may span lines (a fenced code block): each non-blank line of it is an
                # output line
                for k, part in enumerate(data[a:b].split(b"\n")):
                    if (k == 0 or part.strip()) and (not kept_lines or kept_lines[-1] != line + k):
                        kept_lines.append(line + k)
            line += data.count(b"\n", a, b)  # every unit's newlines, dropped ones too
        text_lines = [x for x in r.text.split("\n") if x.strip()]
        if len(text_lines) != len(kept_lines):  # (not expected: one output line per such line)
            return r.text
        fixed: list[str] = []
        prev = -1
        for x, li in zip(text_lines, kept_lines):
            m = owner[min(li, len(owner) - 1)]
            if m != prev:
                role = lines[m][0]
                if not x.startswith(f"{role}:"):
                    x = f"{role}: {x[len(role):].lstrip()}" if x.startswith(f"{role} ") else f"{role}: {x}"
            prev = m
            fixed.append(x)
        if not fixed:  # nothing kept at this target: the longer summary before it (trimmed by the caller)
            break
        out = "\n".join(fixed)
        n = compressor.count(out)
        if n <= room or target <= 1:
            break
        # A label costs about as much per line as the line's kept words, so aiming lower by the
        # excess alone fell to a target of 1 that keeps nothing: an empty summary for any room
        # below about twice the labels of the lines it keeps.
        target = max(1, min(target - 1, target * room // n))
    return out


_SUMMARY_ROLES = ("auto", "system", "developer", "user", "assistant")


def pack_chat(
    messages: Sequence[Mapping[str, Any]],
    budget: int,
    *,
    model: str = "gpt-4o",
    keep_last: int = 2,
    summary: str | Callable[[list[Mapping[str, Any]]], str] | None = "extractive",
    summary_tokens: int | None = None,
    summary_role: str = "auto",
    image_size: ImageSize = None,
) -> ChatPackResult:
    """Fits a chat history into ``budget`` prompt tokens (OpenAI's per-message accounting).

    Tokens are counted as :func:`tokenops.count_messages` counts them for ``model``: the same
    encoding (o200k_base for models without a public tokenizer, such as Claude or Gemini) and the
    same ``kind`` ("estimate" or "approximation") and ``notes`` on the result.

    Keeps every system message, then as many of the most recent turns as fit (at least the last
    ``keep_last`` messages), and fills a summary slot, placed after the leading system messages, for the
    dropped middle: ``"extractive"`` compresses the dropped turns with :func:`compress` into the
    room left (or ``summary_tokens``; by default up to max(32, budget / 8) tokens are set aside
    for it, but never more than half of what must be dropped anyway), a callable receives the dropped messages and returns a
    summary, a str is used as is, None (or "") leaves no summary. Kept messages keep their input
    order. An assistant message with
    ``tool_calls`` and the ``tool`` replies after it are kept or dropped together, and so are an
    assistant message with Anthropic ``tool_use`` blocks and the user messages after it whose
    ``tool_result`` blocks answer them (a ``keep_last`` that reaches into such a pair keeps the
    whole pair, or raises when it does not fit). Raises
    ValueError when the system messages and the last ``keep_last`` messages alone exceed the budget.
    Image parts count as in :func:`tokenops.count_messages`, with its ``image_size``.

    The summary is a message of role ``summary_role``; ``"auto"`` makes it ``"system"``, or
    ``"user"`` for a history in Anthropic's shape (no system message in the list, and a Claude
    ``model`` or Anthropic ``tool_use``/``tool_result``/``image`` source blocks): Anthropic's
    Messages API takes the system prompt as a separate parameter and rejects a ``system`` role in
    the list (and wants a user message first, which the summary then is; with no summary, kept
    turns before the first kept user message are left out too, unless ``keep_last`` forces them). The extractive summary
    keeps the ``role:`` label of each summarised message; numbers are not forced there (the
    digits of a long history alone can exceed the summary's room).
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} dicts")
    budget = _check_budget(budget)
    if budget <= 0:
        raise ValueError(f"budget must be a positive number of tokens, got {budget}")
    keep_last = as_int(keep_last, "keep_last")
    if keep_last < 0:
        raise ValueError(f"keep_last must be >= 0, got {keep_last}")
    if summary_tokens is not None:
        summary_tokens = as_int(summary_tokens, "summary_tokens")
        if summary_tokens < 0:
            raise ValueError(f"summary_tokens must be >= 0, got {summary_tokens}")
    if summary is not None and not isinstance(summary, str) and not callable(summary):
        raise TypeError(f"summary must be 'extractive', a str, a callable or None, not {type(summary).__name__}")
    _check_text(summary_role, "summary_role")
    if summary_role not in _SUMMARY_ROLES:
        raise ValueError(f"summary_role must be one of {', '.join(map(repr, _SUMMARY_ROLES))}, not {summary_role!r}")
    messages = [_message_dict(m) for m in messages]  # SDK message objects (openai) as dicts
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise TypeError(f"messages[{i}] must be a dict with 'role' and 'content', not {type(m).__name__}")
    msgs = [dict(m) for m in messages]
    for i, m in enumerate(msgs):
        if "role" not in m or "content" not in m:
            raise ValueError(f"messages[{i}] needs 'role' and 'content'")
    # The model -> encoding resolution of count_messages (a claude-/gemini- name is an
    # approximation over o200k_base), also for the summary's compression and trimming.
    enc, kind, _ = _resolve_chat_model(model)
    anthropic = _anthropic_shaped(msgs, model)
    if summary_role == "auto":
        summary_role = "user" if anthropic else "system"
    # no messages: count_messages' reply priming alone (3 tokens), as the request would be counted
    counted = count_messages(msgs, model, image_size=image_size)
    original = counted.tokens
    if original <= budget or not msgs:
        return ChatPackResult(msgs, original, original, [], None, kind, counted.notes)

    system = [i for i, m in enumerate(msgs) if m["role"] in ("system", "developer")]
    system_set = set(system)
    others = [i for i in range(len(msgs)) if i not in system_set]
    # An assistant message that calls tools and the tool replies after it are kept or dropped
    # together: a tool reply without its call (or a call without its replies) is rejected by
    # the chat APIs. OpenAI: "tool_calls" / "function_call", then role "tool" / "function"
    # messages; Anthropic: "tool_use" content blocks, then user messages with "tool_result"
    # blocks whose tool_use_id names one of the calls.
    unit_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    current = None
    call_ids: set[str] = set()
    for i in others:
        m = msgs[i]
        reply = m["role"] in ("tool", "function") or (
            m["role"] == "user" and bool(call_ids) and bool(_tool_result_ids(m) & call_ids))
        if reply and current is not None:
            unit_of[i] = current
        else:
            call_ids = _tool_use_ids(m) if m["role"] == "assistant" else set()
            calls = m["role"] == "assistant" and (m.get("tool_calls") or m.get("function_call") or call_ids)
            current = i if calls else None
            unit_of[i] = i
        members.setdefault(unit_of[i], []).append(i)

    def whole(idx: Iterable[int]) -> set[int]:
        return {j for i in idx for j in members[unit_of[i]]}

    forced_tail = sorted(whole(others[-keep_last:])) if keep_last else []
    keep = system_set | set(forced_tail)

    # The chat count is a sum of per-message counts plus the reply priming, so a subset's count
    # is a sum of the per-message counts measured once (counting the whole kept list for every
    # candidate message was quadratic: 43 s for 8,000 messages).
    assert counted is not None
    per = counted.per_message
    priming = counted.tokens - sum(per)

    if budget < priming:
        # even an empty request costs the reply priming
        raise ValueError(f"budget must be at least {priming} tokens (the reply priming every chat request pays), "
                         f"got {budget}")

    def tokens_of(idx: set[int], extra: list[dict[str, Any]] | None = None) -> int:
        n = sum(per[i] for i in idx) + priming
        if extra:
            n += sum(count_messages(extra, model, image_size=image_size).per_message)
        return n

    if tokens_of(keep) > budget:
        raise ValueError(
            f"the system messages and the last {keep_last} messages"
            f"{' (with the tool calls they answer)' if len(forced_tail) > keep_last else ''} need {tokens_of(keep)} tokens, "
            f"over the budget of {budget}; raise the budget or lower keep_last"
        )

    def fill(reserve: int) -> set[int]:
        # most recent turns first, while they fit beside the summary reserve
        kept, kept_tokens = set(keep), tokens_of(keep)
        for i in reversed(others):
            if i in kept:
                continue
            unit = whole([i]) - kept
            add = sum(per[j] for j in unit)
            if kept_tokens + add + reserve <= budget:
                kept |= unit
                kept_tokens += add
            else:
                break
        return kept

    def trim_summary(text: str, over: int) -> tuple[str, list[dict[str, Any]]]:
        """The summary cut by ``over`` tokens, and the head message holding it (none if empty)."""
        n = enc.count(text, disallowed_special=())
        cut = enc.truncate(text, max(0, n - over), disallowed_special=())
        return cut, [{"role": summary_role, "content": cut}] if cut else []

    reserve = 0
    if summary is not None and summary != "":  # "" is no summary: no room is set aside for one
        if summary_tokens is not None:
            reserve = summary_tokens
        else:
            # max(32, budget / 8), but never more than half of what has to go anyway: a chat just
            # over its budget loses a turn or two, not six turns to make room for their summary
            kept0 = fill(0)
            must_drop = sum(per[i] for i in range(len(msgs)) if i not in kept0)
            reserve = min(max(32, budget // 8), must_drop // 2)
    keep = fill(reserve)
    dropped = [i for i in range(len(msgs)) if i not in keep]
    summary_text: str | None = None
    head: list[dict[str, Any]] = []
    if summary is not None and dropped:
        if isinstance(summary, str) and summary != "extractive":
            summary_text = summary or None  # "" is no summary, not an empty system message
        elif callable(summary):
            made = summary([msgs[i] for i in dropped])
            if not isinstance(made, str):
                raise TypeError(f"the summary callable must return str, not {type(made).__name__}")
            summary_text = made or None
        else:
            lines = [(str(msgs[i]["role"]), _summary_source(msgs[i])) for i in dropped]
            lines = [(role, text) for role, text in lines if text]
            prefix = _SUMMARY_PREFIX
            room = budget - tokens_of(keep, [{"role": summary_role, "content": prefix}])
            if room > 8 and lines:
                # what the kept conversation goes on with: its last user message
                last = max((i for i in keep if i not in system_set and msgs[i]["role"] == "user"), default=None)
                source = _summary_source(msgs[last]) if last is not None else ""
                question = source if source.strip() else None
                body = _extractive_summary(default_compressor(enc), lines, question, room)
                summary_text = prefix + body if body.strip() else None  # no header without a summary
        if summary_text is not None:
            head = [{"role": summary_role, "content": summary_text}]
            while tokens_of(keep, head) > budget and summary_text:
                # trim the summary by the excess (exact counts; usually one step)
                summary_text, head = trim_summary(summary_text, tokens_of(keep, head) - budget)
    if summary == "extractive" and not (head and head[0]["content"][len(_SUMMARY_PREFIX):].strip()):
        # no summary after all (nothing extracted, or trimmed down to its header): no header-only
        # message, and the room set aside for it goes back to the turns
        head, summary_text = [], None
        if reserve:
            keep = fill(0)
            dropped = [i for i in range(len(msgs)) if i not in keep]
    if anthropic and not head:
        # Anthropic's Messages API wants a user message first. Filling backwards from the end can
        # stop mid-turn and leave an assistant reply (or a tool call) in front; with no user-role
        # summary before it, such leading units go too (not the forced last ones), so the
        # request stays one the API accepts. (A history that starts that way in the input is the
        # caller's own shape, and a forced tail that does is left as asked.)
        first_user = next((i for i in others if msgs[i]["role"] == "user"), None)
        for i in sorted(keep - system_set):
            if i not in keep:  # a reply of a unit already left out
                continue
            if msgs[i]["role"] == "user" or i in forced_tail or first_user is None or i < first_user:
                break
            keep -= whole([i])
        dropped = [i for i in range(len(msgs)) if i not in keep]
    # Kept messages stay in their input order (a system message in mid-conversation is not moved
    # before the turns it followed); the summary goes after the leading system messages.
    lead = 0
    while lead < len(msgs) and lead in system_set:
        lead += 1

    def assemble(keep: set[int]) -> list[dict[str, Any]]:
        ordered = sorted(keep)
        return [msgs[i] for i in ordered if i < lead] + head + [msgs[i] for i in ordered if i >= lead]

    out = assemble(keep)
    final = count_messages(out, model, image_size=image_size)
    # A chat template that merges turns (Mistral's: consecutive user messages become one turn,
    # the system prompt moves to the last user turn) makes the per-message shares add up only
    # approximately: while the exact count of the kept list is over, the summary is trimmed by the
    # excess, then the oldest droppable turn goes.
    while final.tokens > budget:
        if head and summary_text:
            cut, head = trim_summary(summary_text, final.tokens - budget)
            summary_text = cut or None
        else:
            droppable = sorted(i for i in keep - system_set if i not in forced_tail)
            if not droppable:
                raise ValueError(f"the system messages and the last {keep_last} messages need {final.tokens} "
                                 f"tokens for {model}, over the budget of {budget}; raise the budget or lower "
                                 "keep_last")
            # the oldest turns whose shares cover the excess go at once (one recount per round,
            # not one per turn: a long history stays linear)
            excess, freed = final.tokens - budget, 0
            for i in droppable:
                if i not in keep:
                    continue
                unit = whole([i]) & keep
                keep -= unit
                freed += sum(per[j] for j in unit)
                if freed >= excess:
                    break
        out = assemble(keep)
        final = count_messages(out, model, image_size=image_size)
    dropped = [i for i in range(len(msgs)) if i not in keep]
    return ChatPackResult(out, final.tokens, original, dropped, summary_text, final.kind, final.notes)
