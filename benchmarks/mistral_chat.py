"""Prompt tokens of Mistral chat requests: tokenops' ``count_messages`` against mistral-common's
``MistralTokenizer.encode_chat_completion`` (the reference it reproduces), after an exactness gate.

    pip install mistral-common
    TOKENOPS_DATA_DIR=../shared/data python benchmarks/mistral_chat.py [--conversations 300] [--repeat 3]

Conversations are built from real prompts: MT-Bench's 80 questions as user turns (RouteLLM's
file, both turns), passages of the shared corpus as assistant turns, a system prompt on half of
them and the get_weather tool with a call and its result on a quarter (v1 has no tools). For
each template the engines are timed interleaved, round by round (best round of each):
mistral-common from OpenAI-shaped dicts (``ChatCompletionRequest.from_openai`` then
``encode_chat_completion``: what a caller with dicts runs), mistral-common from prebuilt
requests (its encoding alone), and tokenops' ``count_messages`` from the same dicts.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings

import tokenops
from tokenops._paths import data_dir

MODELS = {"mistral_v1": "open-mixtral-8x7b", "mistral_v3": "mistral-large-2407", "tekken": "open-mistral-nemo",
          "mistral_v7": "mistral-large-2411"}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def conversations(n: int, tools_ok: bool, seed: int = 0) -> list[tuple[list[dict], list | None]]:
    root = data_dir()
    questions = [json.loads(line)["turns"] for line in
                 (root / "routing" / "routellm" / "routellm" / "evals" / "mt_bench" / "question.jsonl").read_text(
                     encoding="utf-8").splitlines() if line]
    prose = (root / "corpus" / "en_moby_dick.txt").read_text(encoding="utf-8")
    code = (root / "corpus" / "code_python.txt").read_text(encoding="utf-8")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        q = rng.choice(questions)
        msgs: list[dict] = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": "You are a helpful, careful assistant. Answer concisely."})
        msgs.append({"role": "user", "content": q[0]})
        body = rng.choice((prose, code))
        a = rng.randrange(len(body) - 3000)
        msgs.append({"role": "assistant", "content": body[a:a + rng.randint(200, 3000)].strip() or "Sure."})
        msgs.append({"role": "user", "content": q[-1]})
        tools = None
        if tools_ok and rng.random() < 0.25:
            tools = TOOLS
            msgs.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": "abcDEF123", "type": "function", "function": {"name": "get_weather",
                                                                     "arguments": "{\"city\": \"Paris\"}"}}]})
            msgs.append({"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather",
                         "content": "{\"temp_c\": 21.5, \"sky\": \"clear\"}"})
        out.append((msgs, tools))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = {"mistral_v1": MistralTokenizer.v1(), "mistral_v3": MistralTokenizer.v3(),
                "tekken": MistralTokenizer.v3(is_tekken=True), "mistral_v7": MistralTokenizer.v7()}
    print(f"{args.conversations} conversations per template, best of {args.repeat} interleaved rounds, "
          "microseconds per conversation")
    print(f"{'template':<12}{'tokens/conv':>12}{'mistral-common (dicts)':>24}{'(prebuilt requests)':>21}"
          f"{'tokenops':>10}{'ratio (dicts)':>15}{'ratio (prebuilt)':>18}")
    for vocab, model in MODELS.items():
        convs = conversations(args.conversations, vocab != "mistral_v1")
        ref = refs[vocab]
        reqs = [ChatCompletionRequest.from_openai(m, tools=t) for m, t in convs]
        want = [len(ref.encode_chat_completion(r).tokens) for r in reqs]
        got = [tokenops.count_tools(t, model, m).tokens if t else tokenops.count_messages(m, model).tokens
               for m, t in convs]
        if got != want:
            bad = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
            raise SystemExit(f"{vocab}: conversation {bad}: tokenops {got[bad]} tokens, mistral-common {want[bad]}")
        best = {"dicts": 1e300, "prebuilt": 1e300, "tokenops": 1e300}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for m, t in convs:
                ref.encode_chat_completion(ChatCompletionRequest.from_openai(m, tools=t))
            t1 = time.perf_counter()
            for r in reqs:
                ref.encode_chat_completion(r)
            t2 = time.perf_counter()
            for m, t in convs:
                if t:
                    tokenops.count_tools(t, model, m)
                else:
                    tokenops.count_messages(m, model)
            t3 = time.perf_counter()
            best = {"dicts": min(best["dicts"], t1 - t0), "prebuilt": min(best["prebuilt"], t2 - t1),
                    "tokenops": min(best["tokenops"], t3 - t2)}
        us = {k: v * 1e6 / len(convs) for k, v in best.items()}
        print(f"{vocab:<12}{sum(want) / len(want):>12.0f}{us['dicts']:>24.1f}{us['prebuilt']:>21.1f}"
              f"{us['tokenops']:>10.1f}{us['dicts'] / us['tokenops']:>14.2f}x{us['prebuilt'] / us['tokenops']:>17.2f}x")


if __name__ == "__main__":
    main()
