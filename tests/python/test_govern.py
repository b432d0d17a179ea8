"""tokenops.govern: the priced ledger, its KPIs, budgets / quotas and anomaly alerts."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import multiprocessing
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Context, Decimal
from types import SimpleNamespace

import numpy as np
import pytest

import tokenops
from tokenops.govern import (BudgetExceeded, BudgetWarning, Governor, Ledger, Quota, SpendRate, TaskAnomaly,
                             external_cost, percentile, robust_z)
from tokenops.pricing.usage import BUCKETS

T0 = 1_800_000_000.0  # a fixed epoch second for the fake clocks


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def usage(i: int = 0, o: int = 0, **kw: int) -> dict[str, int]:
    return {"input_text": i, "output_text": o, **kw}


def held(led: Ledger) -> int:
    """Reservation rows in the ledger (live or not yet dropped)."""
    return led._query("SELECT COUNT(*) FROM reservations")[0][0]


# ---------------------------------------------------------------------------------------- ledger
def test_record_prices_exactly_as_the_cost_engine_and_keeps_the_buckets():
    led = Ledger()
    resp = {"id": "msg_1", "type": "message", "model": "claude-opus-4-5", "usage": {
        "input_tokens": 1200, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 20000,
        "output_tokens": 900}}
    c = led.record(resp, task="t1", user="ana")  # the model named by the response
    assert c.model == "claude-opus-4-5" and c.cost == Decimal("0.05725")
    assert c.cost == tokenops.cost("claude-opus-4-5", resp).total_exact
    assert (c.input_tokens, c.output_tokens, c.tokens) == (24200, 900, 25100)
    row = led.calls().iloc[0]
    assert (row.input_text, row.cache_read, row.cache_write_5m, row.output_text) == (1200, 20000, 3000, 900)
    assert row.cost == Decimal("0.05725") and isinstance(row.cost, Decimal)
    # an OpenAI usage: cached and reasoning tokens inside the totals, split into buckets
    oa = {"prompt_tokens": 1500, "completion_tokens": 400,
          "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 128}}
    c2 = led.record(oa, model="gpt-5", task="t1", user="ana")
    assert c2.cost == tokenops.cost("gpt-5", oa).total_exact
    r2 = led.calls().iloc[1]
    assert (r2.input_text, r2.cache_read, r2.output_text, r2.reasoning, r2.tokens) == (476, 1024, 272, 128, 1900)


def test_many_small_costs_sum_exactly():
    led = Ledger()
    expect = Decimal(0)
    for i in range(1, 40):
        u = usage(i * 7 + 1, i % 5)
        expect += tokenops.cost("gpt-4o-mini", u).total_exact
        led.record(u, model="gpt-4o-mini", task="t", user="u")
    led.finish_task("t")
    assert led.kpis().cost == expect == led.task_usage("t")[2]
    assert led.kpis().cost_per_completed_task == expect
    # a single input token of gpt-4o-mini: 1.5e-7 USD, stored and read back exactly
    c = led.record(usage(1), model="gpt-4o-mini")
    assert c.cost == Decimal("1.5E-7") and led.calls().iloc[-1].cost == Decimal("0.00000015")


def test_sums_and_limits_are_exact_whatever_the_callers_decimal_context():
    clock = Clock()
    led = Ledger(clock=clock)
    one = tokenops.cost("gpt-4o", usage(1234567, 7)).total_exact
    assert one == Decimal("3.0864875")  # 8 digits
    gov = Governor(led, quotas=[Quota("cost", one * 3, "hour", scope="global")])
    with decimal.localcontext() as ctx:
        ctx.prec = 4  # an application that rounds its own decimals to 4 digits
        for _ in range(3):
            gov.record(usage(1234567, 7), model="gpt-4o", task="t", user="ana")
        led.finish_task("t")
        assert led.task_usage("t")[2] == Decimal("9.2594625")  # = 3 x one
        assert led.usage_since(0, all_users=True)[2] == Decimal("9.2594625")
        k = led.kpis()
        assert k.cost == k.task_cost == k.cost_per_completed_task == k.p50_cost_per_task == Decimal("9.2594625")
        assert led.tasks()["cost"].tolist() == [Decimal("9.2594625")]
        with pytest.raises(BudgetExceeded, match=r"used \$9.2594625"):
            gov.check(user="ana", estimated_cost="0.0000001")


def test_unknown_model_and_bad_usage_are_errors_and_store_nothing():
    led = Ledger()
    with pytest.raises(KeyError, match="gpt-9000"):
        led.record(usage(10), model="gpt-9000")
    with pytest.raises(TypeError, match="needs model="):
        led.record({"prompt_tokens": 10, "completion_tokens": 1})
    with pytest.raises(ValueError, match=">= 0"):
        led.record(usage(-5), model="gpt-4o")
    with pytest.raises(TypeError, match="integer token count"):
        led.record(usage(float("nan")), model="gpt-4o")
    with pytest.raises(TypeError, match="model must be a str"):
        led.record(usage(1), model=4)
    with pytest.raises(TypeError, match="needs the call's response"):
        led.record(None, model="gpt-4o")
    with pytest.raises(ValueError, match=r"token count \(9,223,372,036,854,775,808\) is more than a ledger can store"):
        led.record(usage(2**62, 2**62), model="gpt-4o")
    assert len(led) == 0


@pytest.mark.parametrize("kw, exc, msg", [
    ({"task": 7}, TypeError, "task must be a str"),
    ({"user": b"ana"}, TypeError, "user must be a str"),
    ({"step": ""}, ValueError, "step must not be empty"),
    ({"tags": {"team": 1}}, TypeError, "tags must map str to str"),
    ({"tags": ["a"]}, TypeError, "tags must be a dict"),
    ({"tags": {"user": "x"}}, ValueError, "reserved"),
    ({"at": float("nan")}, ValueError, "finite"),
    ({"at": dt.datetime(2026, 1, 1)}, ValueError, "timezone-aware"),
    ({"at": "yesterday"}, TypeError, "seconds since the epoch"),
    ({"cache_hit": 1}, TypeError, "cache_hit must be a bool"),
    ({"saved_cost": "0.1"}, ValueError, "pass cache_hit=True"),
    ({"cache_hit": True, "saved_cost": float("nan")}, ValueError, "finite"),
    ({"cache_hit": True, "saved_cost": -1}, ValueError, ">= 0"),
    # these were errors of the layers below that named no argument: SQLite's UnicodeEncodeError
    # "surrogates not allowed", datetime's OverflowError "timestamp out of range for platform
    # time_t", and SQLite's OverflowError "Python int too large to convert to SQLite INTEGER"
    ({"task": "t\ud800"}, ValueError, "task is not valid Unicode: it holds a lone surrogate"),
    ({"user": "\udcff"}, ValueError, "user is not valid Unicode"),
    ({"step": "s\ud800"}, ValueError, "step is not valid Unicode"),
    ({"at": 1e20}, ValueError, "at must be seconds since the epoch before the year 10000"),
    ({"at": 1.8e12}, ValueError, "milliseconds or nanoseconds"),
])
def test_bad_record_arguments_are_named(kw, exc, msg):
    led = Ledger()
    with pytest.raises(exc, match=msg):
        led.record(usage(10), model="gpt-4o", **kw)
    assert len(led) == 0


def test_cache_hits_cost_nothing_and_record_what_they_saved():
    led = Ledger()
    full = tokenops.cost("gpt-4o", usage(1000, 100)).total_exact
    hit = led.record(usage(1000, 100), model="gpt-4o", cache_hit=True)
    assert (hit.cost, hit.tokens, hit.saved_cost) == (Decimal(0), 0, full)
    led.record(None, model="gpt-4o", cache_hit=True, saved_cost="0.002")
    led.record(None, model="gpt-4o", cache_hit=True)  # saving unknown: counted apart, not as $0
    led.record(usage(1000, 100), model="gpt-4o")
    k = led.kpis()
    assert (k.calls, k.cache_hits, k.cache_hits_without_saving) == (4, 3, 1)
    assert k.cache_hit_rate == 0.75 and k.saved_cost == full + Decimal("0.002") and k.cost == full
    with pytest.raises(KeyError):
        led.record(None, model="no-such-model", cache_hit=True)


def test_the_ledger_is_append_only_even_for_other_writers(tmp_path):
    p = tmp_path / "calls.sqlite"
    with Ledger(p) as led:
        led.record(usage(10), model="gpt-4o", task="t", user="u")
        led.finish_task("t")
    db = sqlite3.connect(p)
    for sql in ("UPDATE calls SET cost = '0'", "DELETE FROM calls", "DELETE FROM outcomes",
                "UPDATE outcomes SET success = 0", "DELETE FROM meta"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    # INSERT OR REPLACE deletes the conflicting row without firing the DELETE triggers
    for sql in ("INSERT OR REPLACE INTO outcomes (task, success, at) VALUES ('t', 0, 0)",
                "REPLACE INTO calls (id, at, model, requested_model, service_tier, citation_tokens, tokens, cost, "
                f"cache_hit, tags, {', '.join(BUCKETS)}) VALUES (1, 0, 'm', 'm', 's', 0, 0, '0', 0, '{{}}'"
                f"{', 0' * len(BUCKETS)})",
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('kind', 'x')"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    # a file made before the insert guards existed gets them when it is opened
    for t in ("calls", "outcomes", "alerts", "meta"):
        db.execute(f"DROP TRIGGER {t}_no_replace")
    db.commit()
    db.close()
    with Ledger(p) as led:
        assert len(led) == 1 and led.task_outcome("t") is True
        assert led.calls()["cost"].tolist() == [led.task_usage("t")[2]] and led.task_usage("t")[2] > 0
    db = sqlite3.connect(p)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("INSERT OR REPLACE INTO outcomes (task, success, at) VALUES ('t', 0, 0)")
    db.close()


def test_task_outcomes_are_recorded_once_and_close_the_task():
    led = Ledger()
    led.record(usage(10), model="gpt-4o", task="t", user="ana")
    with pytest.raises(ValueError, match="belongs to user 'ana', not 'bob'"):
        led.record(usage(10), model="gpt-4o", task="t", user="bob")
    with pytest.raises(ValueError, match="no recorded calls"):
        led.finish_task("typo")
    led.finish_task("empty", allow_no_calls=True)
    led.finish_task("t", success=False)
    with pytest.raises(ValueError, match="already finished \\(failure\\)"):
        led.finish_task("t", success=True)
    with pytest.raises(ValueError, match="takes no more calls"):
        led.record(usage(10), model="gpt-4o", task="t", user="ana")
    with pytest.raises(TypeError, match="success must be a bool"):
        led.finish_task("t2", success="yes")
    assert led.task_outcome("t") is False and led.task_outcome("open") is None and len(led) == 1


def test_persistence_across_reopen_and_files_that_are_not_ledgers(tmp_path):
    p = tmp_path / "ledger.sqlite"
    clock = Clock()
    with Ledger(p, clock=clock) as led:
        for i in range(5):
            led.record(usage(100 * i, 10), model="gpt-4o", task=f"t{i % 2}", user="ana", tags={"team": "x"})
        led.finish_task("t0")
        before = led.kpis()
    with Ledger(p) as led:
        assert led.kpis() == before and len(led) == 5
        assert led.calls()["tags"].tolist() == [{"team": "x"}] * 5
        led.record(usage(1), model="gpt-4o", task="t1", user="ana")
        assert len(led) == 6
    text = tmp_path / "notes.txt"
    text.write_text("not a database " * 100)
    with pytest.raises(ValueError, match="not a tokenops ledger"):
        Ledger(text)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE entries (x)")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="SQLite file but not a tokenops ledger"):
        Ledger(other)
    with pytest.raises(ValueError, match="is a directory"):
        Ledger(tmp_path)
    with pytest.raises(TypeError, match="path must be"):
        Ledger(3)


def test_a_ledger_that_cannot_be_opened_is_not_called_a_foreign_file(tmp_path):
    # SQLite cannot open a WAL file whose -wal journal it cannot create (here a folder stands in
    # the way; a read-only folder or disk does the same): the ledger is fine, the access is not
    p = tmp_path / "l.sqlite"
    with Ledger(p) as led:
        led.record(usage(10), model="gpt-4o", task="t", user="ana")
    (tmp_path / "l.sqlite-wal").mkdir()
    with pytest.raises(OSError, match="cannot open the ledger file .*unable to open database file.*writable") as e:
        Ledger(p)
    assert "not a tokenops ledger" not in str(e.value)
    (tmp_path / "l.sqlite-wal").rmdir()
    with Ledger(p) as led:
        assert led.task_usage("t")[:2] == (1, 10)
    from tokenops._sqlite import access_error  # without sqlite_errorcode (Python < 3.11): the message

    assert access_error(sqlite3.OperationalError("database is locked"))
    assert access_error(sqlite3.OperationalError("attempt to write a readonly database"))
    assert not access_error(sqlite3.DatabaseError("file is not a database"))
    assert not access_error(sqlite3.OperationalError("no such column: partition"))


# ------------------------------------------------------------------------- externally priced calls
UNPRICED = "acme/llama-3-70b-ft"  # a fine-tuned model the catalogue does not know


def test_an_external_cost_is_stored_exactly_without_asking_the_catalogue(tmp_path):
    with pytest.raises(KeyError, match=UNPRICED):
        Ledger().record(usage(10), model=UNPRICED)  # unchanged: unknown to the catalogue, no cost: refused
    p = tmp_path / "l.sqlite"
    led = Ledger(p)
    c = led.record(usage(1200, 300), model=UNPRICED, cost=Decimal("0.000123456789012345678"), task="t", user="ana")
    assert (c.cost, c.priced_by, c.model, c.requested_model) == (Decimal("0.000123456789012345678"), "external",
                                                                 UNPRICED, UNPRICED)
    assert (c.input_tokens, c.output_tokens, c.tokens, c.breakdown) == (1200, 300, 1500, None)
    for given, stored in ((0.1, Decimal("0.1")), ("0.0300", Decimal("0.0300")), (2, Decimal(2)), (0, Decimal(0)),
                          (np.float64(0.25), Decimal("0.25"))):
        assert led.record(usage(1), model=UNPRICED, cost=given).cost == stored
    # a model the catalogue knows: its catalogue key, the requested name kept, and the given cost wins
    engine = tokenops.cost("gpt-4o", usage(1000, 100)).total_exact
    k = led.record(usage(1000, 100), model="openai/gpt-4o", cost="0.002")
    assert (k.model, k.requested_model, k.cost, k.priced_by) == ("gpt-4o", "openai/gpt-4o", Decimal("0.002"), "external")
    assert engine == Decimal("0.0035") != k.cost
    e = led.record(usage(1000, 100), model="gpt-4o")
    assert (e.priced_by, e.cost) == ("tokenops", engine)
    df = Ledger(p).calls()  # read back by another connection
    assert df["priced_by"].tolist() == ["external"] * 7 + ["tokenops"]
    assert df["cost"].tolist()[:2] == [Decimal("0.000123456789012345678"), Decimal("0.1")]
    assert df["cost"].tolist()[-2:] == [Decimal("0.002"), engine]
    # both prices of a catalogued call can be compared from the row: the engine's is ledger.price of its buckets
    row = df.iloc[-2]
    assert led.price({b: int(row[b]) for b in BUCKETS}, row["model"], at=row["at"],
                     service_tier=row["service_tier"]).total_exact == engine
    # the tokens are the engine's reading of the same usage, bucket by bucket
    oa = {"prompt_tokens": 1500, "completion_tokens": 400,
          "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 128}}
    led.record(oa, model="gpt-5", cost="0.01")
    led.record(oa, model="gpt-5")
    a, b = led.calls().iloc[-2:].itertuples()
    assert [getattr(a, x) for x in (*BUCKETS, "tokens")] == [getattr(b, x) for x in (*BUCKETS, "tokens")]
    assert (a.cache_read, a.reasoning, a.tokens) == (1024, 128, 1900)


def test_an_external_cost_without_a_response_has_no_tokens():
    led = Ledger()
    c = led.record(None, model="acme/image-gen", cost="0.04", task="img", user="ana")  # e.g. an image bill
    assert (c.tokens, c.cost, c.priced_by, c.model) == (0, Decimal("0.04"), "external", "acme/image-gen")
    row = led.calls().iloc[0]
    assert row.service_tier == "standard" and all(row[b] == 0 for b in BUCKETS)
    assert led.record(None, model="acme/image-gen", cost=1, service_tier="batch").cost == 1
    assert led.calls()["service_tier"].tolist() == ["standard", "batch"]
    with pytest.raises(TypeError, match="needs model="):
        led.record(None, cost="0.04")
    with pytest.raises(TypeError, match="None is accepted only with cache_hit=True or cost="):
        led.record(None, model="acme/image-gen")
    assert len(led) == 2


@pytest.mark.parametrize("kw, exc, msg", [
    ({"cost": -0.01}, ValueError, "^cost must be >= 0 USD"),
    ({"cost": float("nan")}, ValueError, "^cost must be a finite number of USD"),
    ({"cost": float("inf")}, ValueError, "^cost must be a finite number of USD"),
    ({"cost": Decimal("-Infinity")}, ValueError, "^cost must be a finite number of USD"),
    ({"cost": "a dollar"}, ValueError, "^cost must be a number of USD, got the string"),
    ({"cost": True}, TypeError, "^cost must be a number of USD, not bool"),
    ({"cost": [1]}, TypeError, "^cost must be a number of USD"),
    ({"cost": "0.01", "cache_hit": True}, ValueError, "a cache hit bills nothing"),
    ({"cost": "0.01", "cache_hit": True, "saved_cost": "0.01"}, ValueError, "a cache hit bills nothing"),
    ({"cost": "0.01", "model": ""}, ValueError, "model name '' "),
    ({"cost": "0.01", "model": 3}, TypeError, "model must be a str"),
    ({"cost": "0.01", "service_tier": "cheap"}, ValueError, "unknown service_tier 'cheap'"),
    ({"cost": "0.01", "service_tier": 1}, TypeError, "service_tier must be a str"),
])
def test_bad_external_costs_are_refused_and_named(kw, exc, msg):
    led = Ledger()
    kw = {"model": UNPRICED, **kw}
    with pytest.raises(exc, match=msg):
        led.record(usage(10), **kw)
    assert len(led) == 0


def test_an_external_cost_reads_the_usage_as_the_cost_engine_does():
    led = Ledger()
    for bad, exc, msg in ((usage(-5), ValueError, ">= 0"),
                          ({"prompt_tokens": 10, "completion_token": 5}, ValueError, "did you mean 'completion_tokens'"),
                          (object(), TypeError, "usage must be a dict")):
        with pytest.raises(exc, match=msg):
            led.record(bad, model="gpt-4o")  # the engine's error...
        with pytest.raises(exc, match=msg):
            led.record(bad, model=UNPRICED, cost="0.01")  # ...is the same with cost=
    flex = {"object": "chat.completion", "model": "gpt-4o", "service_tier": "flex",
            "usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    with pytest.raises(ValueError, match="contradicts the response"):
        led.record(flex, cost="0.01", service_tier="priority")
    assert len(led) == 0
    assert led.record(flex, cost="0.01").model == "gpt-4o"
    assert led.calls()["service_tier"].tolist() == ["flex"]
    # the provider the model's name implies, as the engine reads it: xAI counts reasoning outside
    # completion_tokens (read as OpenAI's, 50 reasoning tokens inside 10 would be refused)
    xai = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 160,
           "completion_tokens_details": {"reasoning_tokens": 50}}
    with pytest.raises(ValueError, match="exceeds what is left of 'completion_tokens'"):
        led.record(xai, model=UNPRICED, cost="0.001")
    c = led.record(xai, model="xai/grok-acme-ft", cost="0.001")
    r = led.calls().iloc[-1]
    assert (c.model, r.output_text, r.reasoning, c.tokens) == ("xai/grok-acme-ft", 10, 50, 160)


OPENROUTER = {  # OpenRouter's documented response shape (usage accounting: usage.cost in credits = USD)
    "id": "gen-123", "object": "chat.completion", "model": "anthropic/claude-sonnet-4.5", "provider": "Anthropic",
    "usage": {"prompt_tokens": 194, "completion_tokens": 2, "total_tokens": 196, "cost": 0.00095,
              "is_byok": False, "cost_details": {"upstream_inference_cost": None},
              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0}}}


def test_external_cost_reads_openrouter_usage_cost_as_dict_or_attributes():
    assert external_cost(OPENROUTER) == Decimal("0.00095")
    assert external_cost(OPENROUTER["usage"]) == Decimal("0.00095")  # the usage alone
    obj = SimpleNamespace(model="x", usage=SimpleNamespace(prompt_tokens=5, completion_tokens=1, cost=0.0123))
    assert external_cost(obj) == Decimal("0.0123")
    assert external_cost(SimpleNamespace(prompt_tokens=5, completion_tokens=1, cost=2)) == Decimal(2)
    import openai.types.chat as oc  # the OpenAI SDK pointed at OpenRouter keeps the extra usage fields

    sdk = oc.ChatCompletion.model_validate({**OPENROUTER, "created": 0, "choices": []})
    assert external_cost(sdk) == Decimal("0.00095")
    # recorded with its tokens: OpenRouter's cost_details (USD, not tokens) does not stop the usage
    led = Ledger()
    c = led.record(sdk, cost=external_cost(sdk), task="t", user="ana")
    assert (c.model, c.cost, c.tokens, c.priced_by) == ("anthropic/claude-sonnet-4.5", Decimal("0.00095"), 196,
                                                       "external")
    d = led.record(OPENROUTER, cost=external_cost(OPENROUTER))
    assert (d.input_tokens, d.output_tokens) == (194, 2)


@pytest.mark.parametrize("response", [
    None, {}, {"usage": None}, {"model": "m", "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
    {"usage": {"prompt_tokens": 3, "cost": "0.01"}},  # a str: not OpenRouter's number
    {"usage": {"prompt_tokens": 3, "cost": True}},
    {"usage": {"prompt_tokens": 3, "cost": {"input_tokens_cost": 0.1, "total_cost": 0.2}}},  # Perplexity's breakdown
    {"cost": 0.5}, {"model": "m", "cost": 0.5},  # a cost outside any usage
    {"_hidden_params": {"response_cost": 0.5}},  # a dict has no LiteLLM hidden params
    SimpleNamespace(usage=SimpleNamespace(prompt_tokens=3, cost=lambda: 1.0)),
    tokenops.Usage(input_text=5),
])
def test_external_cost_of_unknown_shapes_is_none(response):
    assert external_cost(response) is None


def test_external_cost_refuses_an_invalid_reported_number():
    with pytest.raises(ValueError, match="usage.cost must be >= 0"):
        external_cost({"usage": {"prompt_tokens": 3, "cost": -0.1}})
    with pytest.raises(ValueError, match="usage.cost must be a finite"):
        external_cost({"usage": {"prompt_tokens": 3, "cost": float("nan")}})


def test_external_cost_reads_litellm_response_cost(monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    litellm = pytest.importorskip("litellm")
    from litellm.types.llms.base import HiddenParams

    u = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    r = litellm.ModelResponse(model="hosted_vllm/acme-llama", usage=u)
    assert external_cost(r) is None  # no cost computed (LiteLLM sets it in completion())
    r._hidden_params["response_cost"] = None  # LiteLLM could not price the call
    assert external_cost(r) is None
    r._hidden_params["response_cost"] = 0.00042
    assert external_cost(r) == Decimal("0.00042")
    led = Ledger()
    c = led.record(r, cost=external_cost(r))
    assert (c.model, c.cost, c.input_tokens, c.output_tokens, c.priced_by) == (
        "hosted_vllm/acme-llama", Decimal("0.00042"), 120, 30, "external")
    # LiteLLM's HiddenParams object (some response types) is read too
    r2 = litellm.ModelResponse(model="m", usage=u)
    r2._hidden_params = HiddenParams(response_cost=1.5)
    assert external_cost(r2) == Decimal("1.5")
    # an OpenRouter usage.cost kept by LiteLLM is the provider's bill: read before LiteLLM's estimate
    r3 = litellm.ModelResponse(model="openrouter/x", usage={**u, "cost": 0.0007})
    r3._hidden_params["response_cost"] = 0.0009
    assert external_cost(r3) == Decimal("0.0007")


# ------------------------------------------------------------------------------ old ledger files
# The schema of ledger files made before priced_by existed, frozen here (not built from the
# module): what those files hold on disk.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    task TEXT,
    user TEXT,
    step TEXT,
    model TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    service_tier TEXT NOT NULL,
    input_text INTEGER NOT NULL,
    input_audio INTEGER NOT NULL,
    input_image INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cache_read_audio INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    output_text INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    output_audio INTEGER NOT NULL,
    output_image INTEGER NOT NULL,
    request INTEGER NOT NULL,
    web_search INTEGER NOT NULL,
    citation_tokens INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost TEXT NOT NULL,
    cache_hit INTEGER NOT NULL,
    saved_cost TEXT,
    tags TEXT NOT NULL
);
CREATE INDEX calls_at ON calls (at);
CREATE INDEX calls_task ON calls (task);
CREATE INDEX calls_user_at ON calls (user, at);
CREATE TABLE outcomes (task TEXT PRIMARY KEY, success INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX outcomes_at ON outcomes (at);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    task TEXT,
    user TEXT,
    value TEXT NOT NULL,
    median TEXT NOT NULL,
    z REAL NOT NULL,
    threshold REAL NOT NULL,
    history INTEGER NOT NULL,
    message TEXT NOT NULL
);
""" + "".join(
    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN SELECT RAISE(ABORT, "
    f"'the tokenops ledger is append-only: {t} rows are never {verb}'); END;\n"
    for t in ("calls", "outcomes", "alerts", "meta") for op, verb in (("UPDATE", "updated"), ("DELETE", "deleted"))
) + "".join(
    f"CREATE TRIGGER {t}_no_replace BEFORE INSERT ON {t} WHEN EXISTS (SELECT 1 FROM {t} WHERE {k} = NEW.{k}) "
    f"BEGIN SELECT RAISE(ABORT, 'the tokenops ledger is append-only: {t} rows are never replaced'); END;\n"
    for t, k in (("calls", "id"), ("outcomes", "task"), ("alerts", "id"), ("meta", "key"))
) + "INSERT INTO meta (key, value) VALUES ('kind', 'tokenops-ledger'), ('schema_version', '1');\n"
V1_BUCKETS = ("input_text", "input_audio", "input_image", "cache_read", "cache_read_audio", "cache_write_5m",
              "cache_write_1h", "output_text", "reasoning", "output_audio", "output_image", "request", "web_search")


def v1_insert(db, at, task, user, n_in, n_out, cost):
    """A call row as the previous version's record() wrote it (no priced_by)."""
    cols = ["at", "task", "user", "step", "model", "requested_model", "service_tier", *V1_BUCKETS,
            "citation_tokens", "tokens", "cost", "cache_hit", "saved_cost", "tags"]
    counts = [n_in, 0, 0, 0, 0, 0, 0, n_out, 0, 0, 0, 0, 0]
    db.execute(f"INSERT INTO calls ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
               (at, task, user, None, "gpt-4o", "gpt-4o", "standard", *counts, 0, n_in + n_out, cost, 0, None, "{}"))


def test_a_ledger_file_made_before_priced_by_opens_gains_it_and_loses_nothing(tmp_path):
    p = tmp_path / "old.sqlite"
    db = sqlite3.connect(p)
    db.executescript(V1_SCHEMA)
    v1_insert(db, T0, "t1", "ana", 1000, 100, "0.0035")
    v1_insert(db, T0 + 1, "t1", "ana", 2000, 0, "0.005")
    db.execute("INSERT INTO outcomes (task, success, at) VALUES ('t1', 1, ?)", (T0 + 2,))
    db.commit()
    db.close()
    with Ledger(p) as led:
        df = led.calls()
        assert df["priced_by"].tolist() == ["tokenops", "tokenops"]
        assert df["cost"].tolist() == [Decimal("0.0035"), Decimal("0.005")] and df["tokens"].tolist() == [1100, 2000]
        k = led.kpis()
        assert (k.cost, k.tasks, k.cost_per_completed_task) == (Decimal("0.0085"), 1, Decimal("0.0085"))
        c = led.record(usage(10, 1), model=UNPRICED, cost="0.5", task="t2", user="bob", at=T0 + 3)
        assert c.priced_by == "external" and led.task_usage("t2")[2] == Decimal("0.5")
    with Ledger(p) as led:  # a second open finds the column and changes nothing
        assert led.calls()["priced_by"].tolist() == ["tokenops", "tokenops", "external"]
    db = sqlite3.connect(p)
    assert dict(db.execute("SELECT key, value FROM meta")) == {"kind": "tokenops-ledger", "schema_version": "1"}
    # the reservations table was added, mutable, beside the append-only tables, whose triggers are
    # those the file was made with
    assert {r[0] for r in db.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'")} == \
        {"calls", "outcomes", "alerts", "meta"}
    assert [r[1] for r in db.execute("PRAGMA table_info(reservations)")] == \
        ["id", "task", "user", "calls", "tokens", "cost", "owner", "created_at", "expires_at"]
    # the new column is under the append-only triggers like the others
    for sql in ("UPDATE calls SET priced_by = 'external' WHERE id = 1", "UPDATE calls SET priced_by = 'tokenops'",
                "DELETE FROM calls WHERE priced_by = 'external'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO calls (at, model, requested_model, service_tier, citation_tokens, tokens, cost, "
                   f"cache_hit, tags, priced_by, {', '.join(V1_BUCKETS)}) VALUES (0, 'm', 'm', 's', 0, 0, '0', 0, "
                   f"'{{}}', 'guessed'{', 0' * len(V1_BUCKETS)})")
    # a writer of the previous version (no priced_by in its INSERT) still can: its rows read 'tokenops'
    v1_insert(db, T0 + 4, None, None, 5, 5, "0.0000625")
    db.commit()
    db.close()
    with Ledger(p) as led:
        assert led.calls()["priced_by"].tolist() == ["tokenops", "tokenops", "external", "tokenops"]
        assert led.kpis().cost == Decimal("0.5085625")
        # a governor on the migrated file holds its calls in flight there
        gov, seen = Governor(led, max_calls=1), []

        def llm(**kw):
            seen.append(led.reserved(task="t3"))
            return _slow_llm()

        with gov.task("t3", user="ana") as t:
            t.call(llm, model="gpt-4o", estimated_tokens=110)
        assert seen == [(1, 110, Decimal(0))] and held(led) == 0 and led.task_usage("t3")[:2] == (1, 110)
        # the rows the previous version wrote have no cost_pico: a window's usage reads their text
        assert led.usage_since(T0 - 1, all_users=True)[::2] == (4, Decimal("0.5085625"))
        assert led.usage_since(T0 - 1, "ana", until=T0 + 1.5) == (2, 3100, Decimal("0.0085"))
    db = sqlite3.connect(p)
    assert db.execute("SELECT COUNT(*), COUNT(cost_pico) FROM calls WHERE task IS NOT 't3'").fetchone() == (4, 1)
    db.close()


def test_window_usage_is_summed_exactly_in_sql_with_the_odd_rows_read_from_their_text(tmp_path):
    led = Ledger(tmp_path / "l.sqlite", clock=lambda: T0)
    costs = []
    for i in range(30):  # engine-priced: whole 1e-12 USD, summed by SQLite
        costs.append(led.record(usage(1000 + i, 7 * i), model="gpt-4o-mini", user=f"u{i % 3}", at=T0 - i).cost)
    # external costs with more than 12 decimals and too large for the integer column: read as text
    costs.append(led.record(usage(1, 1), model=UNPRICED, cost="0.0000000000001234567", user="u0", at=T0 - 1).cost)
    costs.append(led.record(usage(1, 1), model=UNPRICED, cost="5000000.25", user="u1", at=T0 - 2).cost)
    rows = led.calls()
    assert "cost_pico" not in rows.columns  # an index of the sums, not part of the record shown
    n, tokens, total = led.usage_since(T0 - 100, all_users=True)
    assert (n, tokens) == (32, int(rows["tokens"].sum())) and total == sum(costs, Decimal(0))
    assert str(total) == str(sum(costs, Decimal(0)).normalize())  # no trailing zeros, plain notation
    for u in ("u0", "u1", "u2"):
        mine = rows[rows.user == u]
        assert led.usage_since(T0 - 100, u) == (len(mine), int(mine["tokens"].sum()), sum(mine["cost"], Decimal(0)))
    # u0 between T0 - 10 (excluded) and T0 - 1: the engine-priced calls at T0 - 3, -6, -9 and the
    # external one at T0 - 1
    window = [costs[i] for i in (3, 6, 9)] + [costs[30]]
    assert led.usage_since(T0 - 10, "u0", until=T0 - 1)[::2] == (4, sum(window, Decimal(0)))
    db = sqlite3.connect(tmp_path / "l.sqlite")
    assert db.execute("SELECT COUNT(cost_pico) FROM calls").fetchone() == (30,)
    db.close()


def test_window_usage_survives_an_integer_overflow_of_the_sql_sum(tmp_path):
    led = Ledger(tmp_path / "l.sqlite", clock=lambda: T0)
    for i in range(3):  # 4e18 picodollars each: the SQL sum of three overflows 64 bits
        led.record(usage(1, 1), model=UNPRICED, cost="4000000.000000000001", user="u", at=T0 - i)
    assert led.usage_since(T0 - 10, "u") == (3, 6, Decimal("12000000.000000000003"))


def _binned(rows, until, window, n):
    """Reference: (tokens, cost) per window, binned in Python from the recorded calls."""
    out = [[0, Decimal(0)] for _ in range(n)]
    for at, tok, c in zip(rows["at"], rows["tokens"], rows["cost"]):
        i = int((until - at) // window)
        if until - n * window < at <= until and 0 <= i < n:
            out[i][0] += int(tok)
            out[i][1] += c
    return [(t, c) for t, c in out]


@pytest.mark.parametrize("odd", ["none", "text", "overflow"])
def test_window_sums_equal_binning_the_recorded_calls(tmp_path, odd):
    led = Ledger(tmp_path / "l.sqlite", clock=lambda: T0)
    rng = np.random.default_rng(7)
    for i in range(400):
        at = T0 - float(rng.uniform(0, 30 * 60))
        led.record(usage(int(rng.integers(1, 5000)), int(rng.integers(0, 900))), model="gpt-4o-mini",
                   user=f"u{i % 3}", at=at)
    led.record(usage(3, 4), model="gpt-4o-mini", user="u0", at=T0 - 60)  # exactly on a bin edge
    if odd == "text":  # more than 12 decimals: no integer column, read from the text
        led.record(usage(1, 1), model=UNPRICED, cost="0.0000000000001234567", user="u0", at=T0 - 5)
        led.record(usage(1, 1), model=UNPRICED, cost="5000000.25", user="u1", at=T0 - 125)
    if odd == "overflow":  # the SQL sum of these overflows 64 bits
        for i in range(3):
            led.record(usage(1, 1), model=UNPRICED, cost="4000000.000000000001", user="u2", at=T0 - 70 - i)
    rows = led.calls()
    for window, n in ((60.0, 25), (7.5, 200), (3600.0, 3)):
        got = led.window_sums(T0, window, n, all_users=True)
        assert got == _binned(rows, T0, window, n)
        assert sum(c for _, c in got) == sum(rows["cost"][rows["at"] > T0 - n * window], Decimal(0))
        for u in ("u0", "u1", "u2", None):
            assert led.window_sums(T0, window, n, u) == _binned(rows[rows.user == u] if u else rows[rows.user.isna()],
                                                                  T0, window, n)
    assert all(str(c) == str(c.normalize()) or c == 0 for _, c in led.window_sums(T0, 60.0, 25, all_users=True))


def test_priced_by_of_a_new_file_is_append_only(tmp_path):
    p = tmp_path / "new.sqlite"
    with Ledger(p) as led:
        led.record(usage(10), model="gpt-4o")
        led.record(usage(10), model=UNPRICED, cost="0.1")
    db = sqlite3.connect(p)
    for sql in ("UPDATE calls SET priced_by = 'tokenops' WHERE priced_by = 'external'",
                "UPDATE calls SET priced_by = 'external'", "DELETE FROM calls WHERE priced_by = 'external'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    assert [r[0] for r in db.execute("SELECT priced_by FROM calls ORDER BY id")] == ["tokenops", "external"]
    db.close()


# ---------------------------------------------------------------------------------------- KPIs
@pytest.fixture
def small_ledger():
    """Hand-priced calls (shipped catalogue: gpt-4o $2.50 / $10 per M input / output tokens,
    gpt-4o-mini $0.15 / $0.60)."""
    clock = Clock()
    led = Ledger(clock=clock)
    assert tokenops.cost("gpt-4o", usage(1000, 100)).total_exact == Decimal("0.0035")
    assert tokenops.cost("gpt-4o", usage(2000)).total_exact == Decimal("0.005")
    assert tokenops.cost("gpt-4o-mini", usage(10000, 1000)).total_exact == Decimal("0.0021")
    assert tokenops.cost("gpt-4o", usage(400)).total_exact == Decimal("0.001")
    assert tokenops.cost("gpt-4o", usage(0, 100)).total_exact == Decimal("0.001")
    led.record(usage(1000, 100), model="gpt-4o", task="t1", user="ana", step="plan", tags={"team": "red"}, at=T0)
    led.record(usage(1000, 100), model="gpt-4o", task="t1", user="ana", step="act", tags={"team": "red"}, at=T0 + 10)
    led.record(None, model="gpt-4o", task="t1", user="ana", cache_hit=True, saved_cost="0.0035", at=T0 + 20)
    led.record(usage(2000), model="gpt-4o", task="t2", user="ana", step="plan", at=T0 + 30)
    led.record(usage(10000, 1000), model="gpt-4o-mini", task="t3", user="bob", step="plan", tags={"team": "blue"},
               at=T0 + 40)
    led.record(usage(400), model="gpt-4o", task="t4", user="bob", at=T0 + 50)  # never finished
    led.record(usage(0, 100), model="gpt-4o", at=T0 + 60)  # no task, no user
    led.finish_task("t1", success=True, at=T0 + 100)
    led.finish_task("t2", success=False, at=T0 + 200)
    led.finish_task("t3", success=True, at=T0 + 300)
    return led


def test_kpis_match_a_hand_computed_ledger(small_ledger):
    k = small_ledger.kpis()
    assert (k.calls, k.tokens) == (7, 1100 * 2 + 2000 + 11000 + 400 + 100)
    assert k.cost == Decimal("0.0161") and k.untasked_cost == Decimal("0.001")
    assert (k.tasks, k.succeeded, k.failed, k.open_tasks) == (3, 2, 1, 1)
    assert k.success_rate == pytest.approx(2 / 3)
    assert k.task_cost == Decimal("0.0141")  # t1 0.007 + t2 0.005 (failed, still charged) + t3 0.0021
    assert k.cost_per_completed_task == Decimal("0.00705")  # 0.0141 / 2 successes
    assert k.cost_per_task == Decimal("0.0047")
    assert k.calls_per_task == pytest.approx(5 / 3) and k.tokens_per_task == pytest.approx(15200 / 3)
    assert k.p50_cost_per_task == Decimal("0.005")
    assert k.p95_cost_per_task == Decimal("0.0068")  # 0.005 + 0.9 * (0.007 - 0.005)
    assert (k.cache_hits, k.saved_cost) == (1, Decimal("0.0035")) and k.cache_hit_rate == pytest.approx(1 / 7)
    assert k.cost_by_model == {"gpt-4o": Decimal("0.014"), "gpt-4o-mini": Decimal("0.0021")}
    assert k.cost_share_by_model["gpt-4o-mini"] == pytest.approx(0.0021 / 0.0161)


def test_kpis_by_user_model_step_and_tag(small_ledger):
    u = small_ledger.kpis(by="user")
    assert list(u.index) == ["ana", "bob", None]
    assert u.loc["ana", "cost_per_completed_task"] == Decimal("0.012")  # (0.007 + 0.005) / 1
    assert u.loc["ana", "success_rate"] == 0.5
    assert u.loc["bob", "cost_per_completed_task"] == Decimal("0.0021") and u.loc["bob", "open_tasks"] == 1
    assert u.loc["bob", "cost"] == Decimal("0.0031")
    m = small_ledger.kpis(by="model")
    assert m.loc["gpt-4o", "task_cost"] == Decimal("0.012") and m.loc["gpt-4o", "tasks"] == 2
    assert m.loc["gpt-4o-mini", "tasks"] == 1
    s = small_ledger.kpis(by="step")
    assert s.loc["plan", "task_cost"] == Decimal("0.0106") and s.loc["plan", "tasks"] == 3
    assert s.loc["act", "cost_per_completed_task"] == Decimal("0.0035")
    t = small_ledger.kpis(by="team")
    assert t.loc["red", "cost"] == Decimal("0.007") and t.loc["blue", "cost"] == Decimal("0.0021")
    assert t.loc[None, "calls"] == 4
    with pytest.raises(ValueError, match="ledger.tasks"):
        small_ledger.kpis(by="task")
    with pytest.raises(TypeError):
        small_ledger.kpis(by=1)


def test_kpi_windows_count_calls_by_time_and_tasks_by_finish(small_ledger):
    k = small_ledger.kpis(since=T0 + 150, until=T0 + 400)  # no calls; t2 and t3 finish inside
    assert (k.calls, k.cost) == (0, Decimal(0))
    assert (k.tasks, k.succeeded, k.task_cost) == (2, 1, Decimal("0.0071"))
    assert k.cost_per_completed_task == Decimal("0.0071")
    k = small_ledger.kpis(until=T0 + 35)  # calls of t1, t2; nothing finished yet
    assert (k.calls, k.cost, k.tasks, k.open_tasks) == (4, Decimal("0.012"), 0, 2)
    assert k.cost_per_completed_task is None and k.success_rate is None
    k = small_ledger.kpis(since=dt.datetime.fromtimestamp(T0 + 40, dt.timezone.utc))
    assert k.calls == 3
    tasks = small_ledger.tasks().set_index("task")
    assert tasks.loc["t2", "status"] == "failure" and tasks.loc["t4", "status"] == "open"
    assert tasks.loc["t1", "cost"] == Decimal("0.007") and tasks.loc["t1", "calls"] == 3


def test_kpis_count_finished_tasks_that_made_no_call(small_ledger):
    # a task scope whose first check is refused is finished as a failure with no call: it is a
    # finished task that did not succeed, as ledger.tasks() says, and the KPIs count it
    gov = Governor(small_ledger, max_cost="0.0001")
    with pytest.raises(BudgetExceeded), gov.task("t5", user="ana") as t:
        t.check(model="gpt-4o", estimated_tokens=1000)
    assert small_ledger.tasks().set_index("task").loc["t5", "status"] == "failure"
    k = small_ledger.kpis()
    assert (k.tasks, k.succeeded, k.failed) == (4, 2, 2) and k.success_rate == 0.5
    assert k.task_cost == Decimal("0.0141") and k.cost_per_completed_task == Decimal("0.00705")
    assert k.cost_per_task == Decimal("0.003525") and k.calls_per_task == 5 / 4
    assert k.p50_cost_per_task == Decimal("0.00355")  # of 0, 0.0021, 0.005, 0.007
    assert small_ledger.kpis(since=T0 + 1000).tasks == 0  # by finish time, like the others


def test_percentile_is_numpys_linear_quantile_in_decimals():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 37):
        xs = [Decimal(int(v)) / 1000 for v in rng.integers(0, 10**6, n)]
        for q in ("0", "0.5", "0.95", "1"):
            got = percentile(xs, Decimal(q))
            assert float(got) == pytest.approx(np.percentile([float(x) for x in xs], float(q) * 100), rel=1e-12)
    assert percentile([], Decimal("0.5")) is None


def test_kpis_of_a_ledger_mixing_engine_priced_and_externally_priced_calls():
    led = Ledger(clock=Clock())
    assert tokenops.cost("gpt-4o", usage(1000, 100)).total_exact == Decimal("0.0035")
    assert tokenops.cost("gpt-4o-mini", usage(10000, 1000)).total_exact == Decimal("0.0021")
    led.record(usage(1000, 100), model="gpt-4o", task="a1", user="ana", at=T0)                    # engine 0.0035
    led.record(usage(3000, 500), model=UNPRICED, cost="0.0125", task="a1", user="ana", at=T0 + 1)  # external
    led.record(usage(800, 200), model=UNPRICED, cost="0.004", task="a2", user="ana", at=T0 + 2)
    led.record(usage(10000, 1000), model="gpt-4o-mini", task="b1", user="bob", at=T0 + 3)         # engine 0.0021
    led.record(usage(1000, 100), model="gpt-4o", cost="0.001", task="b1", user="bob", at=T0 + 4)   # external wins
    led.record(None, model="acme/image-gen", cost="0.02", task="b2", user="bob", at=T0 + 5)       # no tokens
    led.record(usage(100, 10), model=UNPRICED, cost="0.0007", at=T0 + 6)                         # no task
    led.finish_task("a1", success=True, at=T0 + 10)
    led.finish_task("a2", success=False, at=T0 + 11)
    led.finish_task("b1", success=True, at=T0 + 12)
    led.finish_task("b2", success=True, at=T0 + 13)
    assert led.calls()["priced_by"].tolist() == ["tokenops", "external", "external", "tokenops", "external",
                                                 "external", "external"]
    k = led.kpis()
    assert (k.calls, k.tokens) == (7, 1100 + 3500 + 1000 + 11000 + 1100 + 0 + 110)
    assert k.cost == Decimal("0.0438") and k.untasked_cost == Decimal("0.0007")
    assert k.cost_by_model == {"acme/image-gen": Decimal("0.02"), UNPRICED: Decimal("0.0172"),
                               "gpt-4o": Decimal("0.0045"), "gpt-4o-mini": Decimal("0.0021")}
    # tasks: a1 0.0035 + 0.0125 = 0.016 (ok), a2 0.004 (failed), b1 0.0021 + 0.001 = 0.0031 (ok), b2 0.02 (ok)
    assert (k.tasks, k.succeeded, k.failed) == (4, 3, 1)
    assert k.task_cost == Decimal("0.0431")
    assert k.cost_per_completed_task == Decimal("0.01436666666666666666666666666666667")  # 0.0431 / 3, 34 digits
    assert k.cost_per_completed_task == Context(prec=34).divide(Decimal("0.0431"), Decimal(3))
    assert k.cost_per_task == Decimal("0.010775")  # 0.0431 / 4
    assert k.p50_cost_per_task == Decimal("0.01")  # 0.004 + 0.5 x (0.016 - 0.004)
    assert k.p95_cost_per_task == Decimal("0.0194")  # 0.016 + 0.85 x (0.02 - 0.016)
    u = led.kpis(by="user")
    assert u.loc["ana", "cost_per_completed_task"] == Decimal("0.02")  # (0.016 + 0.004) / 1
    assert u.loc["bob", "cost_per_completed_task"] == Decimal("0.01155")  # (0.0031 + 0.02) / 2
    assert led.tasks().set_index("task").loc["b1", "cost"] == Decimal("0.0031")


# ---------------------------------------------------------------------------------------- governor
def test_iteration_cap_in_a_task_scope():
    gov = Governor(max_calls=3)
    with pytest.raises(BudgetExceeded) as e:
        with gov.task("t1", user="ana") as t:
            for _ in range(10):
                t.check()  # before each call
                t.record(usage(100, 10), model="gpt-4o")
    msg = str(e.value)
    assert "task max_calls = 3 calls exceeded (task 't1', user 'ana'): used 3 calls" in msg
    v = e.value.violation
    assert (v.limit, v.value, v.used, v.task, v.user) == ("max_calls", 3, 3, "t1", "ana")
    assert len(gov.ledger) == 3 and gov.ledger.task_outcome("t1") is False  # stopped by the cap: a failure


def test_a_call_over_the_cap_is_recorded_then_raises():
    gov = Governor()
    with pytest.raises(BudgetExceeded, match="used 3 calls after the call"):
        with gov.task("t1", user="ana", max_calls=2) as t:
            for _ in range(3):
                t.record(usage(100), model="gpt-4o")  # no check: the third call happened; it is kept
    assert len(gov.ledger) == 3
    with pytest.raises(ValueError, match="already finished"):
        gov.task("t1", user="ana").__enter__()


def test_cost_budget_with_an_estimate_from_the_prompt():
    gov = Governor(max_cost="0.01")
    prompt = "Summarise the attached contract in three bullet points. " * 20
    n = int(tokenops.count_messages([{"role": "user", "content": prompt}], "gpt-4o"))
    tokens, est = gov.estimate(model="gpt-4o", prompt=prompt, max_output_tokens=500)
    assert tokens == n + 500 and est == tokenops.cost("gpt-4o", usage(n, 500)).total_exact
    with gov.task("t", user="ana") as t:
        t.record(usage(2000, 300), model="gpt-4o")  # $0.008
        assert t.check(model="gpt-4o", prompt="hi", max_output_tokens=10) == []
        with pytest.raises(BudgetExceeded) as e:
            t.check(model="gpt-4o", prompt=prompt, max_output_tokens=500)
        assert f"task max_cost = $0.01 exceeded (task 't', user 'ana'): used $0.008 + this call's estimate ${est}" \
            in str(e.value)
        t.finish(success=True)  # the scope's exit keeps this outcome
    assert gov.ledger.task_outcome("t") is True


def test_estimates_without_a_split_take_the_dearer_price():
    gov = Governor()
    assert gov.estimate(model="gpt-4o", estimated_tokens=1000) == (1000, Decimal("0.01"))  # output price
    assert gov.estimate(model="gpt-4o", estimated_tokens=1000, max_output_tokens=100) == (1000, Decimal("0.00325"))
    assert gov.estimate(estimated_tokens=10, estimated_cost=0.5) == (10, Decimal("0.5"))
    with pytest.raises(ValueError, match="not both"):
        gov.estimate(model="gpt-4o", prompt="x", estimated_tokens=3)
    with pytest.raises(ValueError, match="exceeds estimated_tokens"):
        gov.estimate(model="gpt-4o", estimated_tokens=10, max_output_tokens=11)
    with pytest.raises(ValueError, match="needs model="):
        gov.estimate(prompt="hello")
    with pytest.raises(KeyError):
        gov.estimate(model="gpt-9000", estimated_tokens=10)
    capped = Governor(max_cost=1)
    with pytest.raises(ValueError, match="pass model="):
        capped.check(task="t", estimated_tokens=10)


def test_user_token_quota_over_a_rolling_window_with_a_fake_clock():
    clock = Clock()
    led = Ledger(clock=clock)
    gov = Governor(led, quotas=[Quota("tokens", 1000, "minute")])
    gov.record(usage(500, 100), model="gpt-4o", user="ana")  # 600 tokens at T0
    clock.t = T0 + 10
    assert gov.check(user="ana", estimated_tokens=400) == []  # 600 + 400 = 1000: at the limit, allowed
    with pytest.raises(BudgetExceeded, match="user quota of 1,000 tokens per 60s exceeded \\(user 'ana'\\): "
                                             "used 600 tokens \\+ this call's estimate 401 tokens"):
        gov.check(user="ana", estimated_tokens=401)
    assert gov.check(user="bob", estimated_tokens=1000) == []  # per user
    clock.t = T0 + 59.5
    with pytest.raises(BudgetExceeded):
        gov.check(user="ana", estimated_tokens=401)
    clock.t = T0 + 60  # the window is (now - 60, now]: the call at T0 has left it
    assert gov.check(user="ana", estimated_tokens=1000) == []
    with pytest.raises(ValueError, match="pass user="):
        gov.check(estimated_tokens=1)
    with pytest.raises(ValueError, match="pass user="):
        gov.record(usage(1), model="gpt-4o")
    assert len(led) == 1


def test_global_cost_quota_and_calls_quota():
    clock = Clock()
    gov = Governor(Ledger(clock=clock), quotas=[Quota("cost", "0.01", "hour", scope="global"),
                                                Quota("calls", 3, 120, scope="user")])
    for who in ("ana", "bob"):
        gov.record(usage(1000, 100), model="gpt-4o", user=who)  # $0.0035 each
    with pytest.raises(BudgetExceeded, match="used \\$0.0105 after the call"):
        gov.record(usage(1000, 100), model="gpt-4o", user="cy")  # $0.0105 in all: recorded, then refused
    assert len(gov.ledger) == 3
    with pytest.raises(BudgetExceeded, match="global quota of \\$0.01 per 3600s exceeded"):
        gov.check(user="dan")
    clock.t = T0 + 3600
    assert gov.check(user="dan", model="gpt-4o", estimated_tokens=100) == []
    for _ in range(3):
        gov.record(usage(1), model="gpt-4o", user="dan")
    with pytest.raises(BudgetExceeded, match="user quota of 3 calls per 120s"):
        gov.check(user="dan", model="gpt-4o", estimated_tokens=1)


def test_a_quota_counts_the_calls_dated_after_now():
    # the clock stepped back (NTP), or another host sharing the file runs ahead: the calls it
    # recorded are dated after this process's now, and they were made and billed all the same
    clock = Clock()
    led = Ledger(clock=clock)
    gov = Governor(led, quotas=[Quota("calls", 2, "hour", scope="global"), Quota("cost", "0.005", "hour")])
    gov.record(usage(1000, 100), model="gpt-4o", user="ana")  # $0.0035
    gov.record(usage(10), model="gpt-4o", user="bob")
    with pytest.raises(BudgetExceeded, match="global quota of 2 calls per 3600s exceeded"):
        gov.check(user="cy")
    clock.t = T0 - 30  # the clock steps back 30 s
    with pytest.raises(BudgetExceeded, match=r"global quota of 2 calls per 3600s exceeded \(user 'cy'\): used 2 calls"):
        gov.check(user="cy")
    other = Governor(Ledger(clock=Clock()), quotas=[Quota("cost", "0.005", "hour")])
    other.record(usage(1000, 100), model="gpt-4o", user="ana", at=T0 + 5)  # another host's clock
    with pytest.raises(BudgetExceeded, match=r"user quota of \$0.005 per 3600s exceeded \(user 'ana'\): "
                                             r"used \$0.0035 \+ this call's estimate \$0.0035"):
        other.check(user="ana", model="gpt-4o", estimated_tokens=1100, max_output_tokens=100)
    clock.t = T0 + 3600  # the window still ends: the calls at T0 have left it
    assert gov.check(user="cy") == []


@pytest.mark.parametrize("bad, exc", [(float("nan"), ValueError), (-1.0, ValueError), ("now", TypeError),
                                      (dt.datetime(2027, 1, 1), ValueError)])
def test_a_broken_clock_is_refused_not_a_quota_that_passes(bad, exc):
    # a clock giving NaN put every call outside every window: the quota check passed with the
    # quota spent, and every reservation stopped counting (expires_at > NaN is false)
    clock = Clock()
    led = Ledger(clock=clock)
    gov = Governor(led, quotas=[Quota("calls", 1, "hour", scope="global")])
    gov.record(usage(10), model="gpt-4o")
    with pytest.raises(BudgetExceeded):
        gov.check()
    clock.t = bad
    with pytest.raises(exc, match=r"clock\(\) must be"):
        gov.check()
    with pytest.raises(exc, match=r"clock\(\) must be"):
        led.reserved(all_users=True)
    with pytest.raises(exc, match=r"clock\(\) must be"):
        led.record(usage(10), model="gpt-4o")
    assert len(led) == 1
    clock.t = dt.datetime.fromtimestamp(T0, dt.timezone.utc)  # an aware datetime is a time
    with pytest.raises(BudgetExceeded):
        gov.check()


def test_warn_mode_passes_violations_to_the_callback_or_warns():
    seen = []
    gov = Governor(max_tokens=100, on_exceed="warn", on_violation=seen.append)
    with gov.task("t", user="u") as t:
        t.record(usage(150), model="gpt-4o")  # over: no raise
        out = t.check(estimated_tokens=10)
    assert [v.limit for v in seen] == ["max_tokens", "max_tokens"] and out == seen[1:]
    assert seen[0].when == "after the call" and seen[0].used == 150
    assert gov.ledger.task_outcome("t") is True  # warn mode: the task ran to its end
    quiet = Governor(max_calls=1, on_exceed="warn")
    quiet.record(usage(1), model="gpt-4o", task="x")
    with pytest.warns(BudgetWarning, match="max_calls"):
        quiet.check(task="x")


@pytest.mark.parametrize("kw, exc, msg", [
    ({"max_calls": 0}, ValueError, "max_calls must be > 0"),
    ({"max_calls": 2.5}, TypeError, "max_calls must be an integer"),
    ({"max_tokens": -1}, ValueError, "max_tokens must be > 0"),
    ({"max_tokens": float("nan")}, ValueError, "NaN"),
    ({"max_cost": 0}, ValueError, "max_cost must be > 0"),
    ({"max_cost": float("nan")}, ValueError, "finite"),
    ({"max_cost": "cheap"}, ValueError, "number of USD"),
    ({"on_exceed": "ignore"}, ValueError, "on_exceed"),
    ({"on_violation": 3}, TypeError, "on_violation"),
    ({"quotas": ["1000/hour"]}, TypeError, "Quota objects"),
    ({"anomalies": [3]}, TypeError, "TaskAnomaly or SpendRate"),
    ({"reservation_ttl": 0}, ValueError, "reservation_ttl must be a positive finite number of seconds"),
    ({"reservation_ttl": float("inf")}, ValueError, "reservation_ttl must be a positive finite"),
    ({"reservation_ttl": "week"}, ValueError, "reservation_ttl must be 'minute', 'hour', 'day' or seconds"),
    ({"reservation_ttl": None}, TypeError, "reservation_ttl must be"),
])
def test_bad_governor_arguments(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        Governor(**kw)


@pytest.mark.parametrize("args, kw, exc, msg", [
    (("bits", 10, "hour"), {}, ValueError, "kind"),
    (("tokens", 0, "hour"), {}, ValueError, "limit must be > 0"),
    (("tokens", 10, "week"), {}, ValueError, "'minute', 'hour', 'day'"),
    (("tokens", 10, -5), {}, ValueError, "positive finite"),
    (("tokens", 10, float("inf")), {}, ValueError, "positive finite"),
    (("cost", float("inf"), "day"), {}, ValueError, "finite"),
    (("cost", 1, "day"), {"scope": "team"}, ValueError, "scope"),
])
def test_bad_quotas(args, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        Quota(*args, **kw)


def test_a_call_whose_recording_fails_hands_its_response_over():
    gov = Governor(max_tokens=100)

    def big_llm(**kw):  # the estimate (a short prompt, 5 output tokens) fits; the bill does not
        return {"object": "chat.completion", "model": "gpt-4o-2024-08-06",
                "usage": {"prompt_tokens": 500, "completion_tokens": 5}}

    with pytest.raises(BudgetExceeded) as info:
        with gov.task("t", user="ana") as t:
            t.call(big_llm, model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert info.value.response["usage"]["prompt_tokens"] == 500  # paid for, not lost
    assert len(gov.ledger) == 1  # and recorded

    def odd_usage(**kw):  # a usage the cost engine refuses
        return {"object": "chat.completion", "model": "gpt-4o-2024-08-06",
                "usage": {"prompt_tokens": -5, "completion_tokens": 5}}

    with pytest.raises(ValueError) as info2:
        with gov.task("u", user="ana") as t:
            t.call(odd_usage, model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert info2.value.response["usage"]["prompt_tokens"] == -5


def test_task_scope_entry_checks_and_call_wrapper():
    gov = Governor(quotas=[Quota("calls", 2, "day")])
    calls = []

    def fake_llm(**kw):
        calls.append(kw)
        return {"object": "chat.completion", "model": "gpt-4o-2024-08-06",
                "usage": {"prompt_tokens": 50, "completion_tokens": 5}}

    with gov.task("a", user="ana") as t:
        resp = t.call(fake_llm, model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        assert resp["model"] == "gpt-4o-2024-08-06" and t.usage[:2] == (1, 55)

        def broken(**kw):
            raise ConnectionError("provider down")

        with pytest.raises(ConnectionError):
            t.call(broken, model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert len(gov.ledger) == 1 and held(gov.ledger) == 0  # the failed call's reservation is released
        t.call(fake_llm, model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(BudgetExceeded, match="user quota of 2 calls"):
        with gov.task("b", user="ana"):
            pass  # nothing left on entry
    assert gov.ledger.task_outcome("b") is None  # a refused scope records no outcome
    with pytest.raises(TypeError, match="task must be a str"):
        gov.task(5)


def test_threads_cannot_overrun_a_shared_iteration_cap():
    gov = Governor(max_calls=5)
    results = []
    lock = threading.Lock()

    def slow_llm(**kw):
        time.sleep(0.05)  # every thread has passed its check before the first record
        return {"model": "gpt-4o", "usage": {"prompt_tokens": 100, "completion_tokens": 10}}

    with gov.task("shared", user="ana", finish=False) as t:
        def worker():
            try:
                t.call(slow_llm, model="gpt-4o", estimated_tokens=110)
                out = "ok"
            except BudgetExceeded:
                out = "refused"
            with lock:
                results.append(out)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
    assert sorted(results) == ["ok"] * 5 + ["refused"] * 3
    assert gov.ledger.task_usage("shared")[:2] == (5, 550) and held(gov.ledger) == 0
    assert gov.ledger.task_outcome("shared") is None  # finish=False


def test_threads_recording_concurrently_lose_nothing(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    gov = Governor(led, quotas=[Quota("tokens", 10**9, "day")])
    per_call = tokenops.cost("gpt-4o-mini", usage(123, 45)).total_exact

    def worker(w):
        for i in range(25):
            gov.record(usage(123, 45), model="gpt-4o-mini", user=f"u{w}", task=f"t{w}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    k = led.kpis()
    assert (k.calls, k.tokens, k.cost) == (100, 100 * 168, 100 * per_call)
    assert Ledger(tmp_path / "l.sqlite").kpis().cost == 100 * per_call  # a second connection sees it all


def test_task_and_quota_limits_count_external_costs_like_engine_costs():
    gov = Governor(max_cost="0.05")
    with pytest.raises(BudgetExceeded) as e:
        with gov.task("t", user="ana") as t:
            t.record(usage(100, 10), model=UNPRICED, cost="0.03")
            assert t.check(estimated_cost="0.02") == []  # 0.03 + 0.02 = 0.05: at the limit
            with pytest.raises(BudgetExceeded, match=r"used \$0.03 \+ this call's estimate \$0.021"):
                t.check(estimated_cost="0.021")
            t.record(usage(100, 10), model=UNPRICED, cost="0.03")  # recorded, then over
    assert "task max_cost = $0.05 exceeded (task 't', user 'ana'): used $0.06 after the call" in str(e.value)
    assert len(gov.ledger) == 2 and gov.ledger.task_outcome("t") is False
    clock = Clock()
    q = Governor(Ledger(clock=clock), quotas=[Quota("cost", "0.01", "hour", scope="global")])
    q.record(usage(1000, 100), model="gpt-4o", user="ana")  # engine: 0.0035
    q.record(usage(1000, 100), model="gpt-4o", cost="0.006", user="bob")  # external: 0.006 (engine would say 0.0035)
    assert q.check(user="cy", estimated_cost="0.0005") == []  # 0.0095 + 0.0005
    with pytest.raises(BudgetExceeded, match=r"global quota of \$0.01 per 3600s exceeded \(user 'cy'\): "
                                             r"used \$0.0095 \+ this call's estimate \$0.0006"):
        q.check(user="cy", estimated_cost="0.0006")
    with pytest.raises(BudgetExceeded, match=r"used \$0.0105 after the call"):
        q.record(None, model="acme/image-gen", cost="0.001", user="cy")
    clock.t = T0 + 3600
    assert q.check(user="cy", estimated_cost="0.01") == []


def test_checks_of_an_uncatalogued_model_need_an_estimate_never_assume_zero():
    capped = Governor(max_cost="1")
    with pytest.raises(KeyError, match=f"unknown model '{UNPRICED}'.*pass estimated_cost="):
        capped.check(task="t", model=UNPRICED, estimated_tokens=10)
    assert capped.check(task="t", model=UNPRICED, estimated_tokens=10, estimated_cost="0.2") == []
    with pytest.raises(KeyError, match="no tokenizer is known.*estimated_tokens= instead of the prompt"):
        capped.check(task="t", model=UNPRICED, prompt="hello", estimated_cost="0.2")
    free = Governor(max_calls=3)  # no cost limit: no price needed
    assert free.check(task="t", model=UNPRICED, estimated_tokens=10) == []
    assert free.estimate(model=UNPRICED, estimated_tokens=10, need_cost=False) == (10, None)


def openrouter_llm(billed=0.0042, **kw):
    return {"id": "gen-1", "object": "chat.completion", "model": kw.get("model", UNPRICED),
            "usage": {"prompt_tokens": 50, "completion_tokens": 5, "cost": billed,
                      "cost_details": {"upstream_inference_cost": None}}}


def test_call_records_the_cost_of_a_cost_of_hook():
    gov = Governor(max_cost="0.01")
    msgs = [{"role": "user", "content": "hi"}]
    with gov.task("t", user="ana", finish=False) as t:
        resp = t.call(openrouter_llm, model=UNPRICED, messages=msgs, estimated_tokens=60, estimated_cost="0.005",
                      cost_of=external_cost)
        assert resp["usage"]["cost"] == 0.0042 and held(gov.ledger) == 0
        row = gov.ledger.calls().iloc[-1]
        assert (row.cost, row.priced_by, row.tokens, row.model) == (Decimal("0.0042"), "external", 55, UNPRICED)
        # the estimate is needed before the call: an uncatalogued model under a cost limit
        with pytest.raises(KeyError, match="pass estimated_cost="):
            t.call(openrouter_llm, model=UNPRICED, messages=msgs, estimated_tokens=60, cost_of=external_cost)
        # None from the hook: the catalogue prices the call as without it
        plain = {"object": "chat.completion", "model": "gpt-4o", "usage": {"prompt_tokens": 100, "completion_tokens": 10}}
        t.call(lambda **kw: plain, model="gpt-4o", messages=msgs, cost_of=external_cost)
        row = gov.ledger.calls().iloc[-1]
        assert (row.priced_by, row.cost) == ("tokenops", tokenops.cost("gpt-4o", plain).total_exact)
        # ... and for a model the catalogue lacks that is the engine's KeyError, with the paid-for response
        with pytest.raises(KeyError, match=UNPRICED) as info:
            t.call(lambda **kw: {"model": UNPRICED, "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
                   model=UNPRICED, messages=msgs, estimated_tokens=2, estimated_cost="0.0001", cost_of=lambda r: None)
        assert info.value.response["model"] == UNPRICED and held(gov.ledger) == 0
        # a hook that fails, or gives a bad amount: the response is handed over, nothing stored, nothing held
        n = len(gov.ledger)
        with pytest.raises(ZeroDivisionError) as info:
            t.call(openrouter_llm, model=UNPRICED, estimated_tokens=60, estimated_cost="0.001", cost_of=lambda r: 1 / 0)
        assert info.value.response["id"] == "gen-1" and held(gov.ledger) == 0
        with pytest.raises(ValueError, match="^cost must be >= 0") as info:
            t.call(openrouter_llm, model=UNPRICED, estimated_tokens=60, estimated_cost="0.001",
                   cost_of=lambda r: -1)
        assert info.value.response["id"] == "gen-1" and held(gov.ledger) == 0 and len(gov.ledger) == n
        called = []
        with pytest.raises(TypeError, match="cost_of must be a function"):
            t.call(lambda **kw: called.append(1), model=UNPRICED, estimated_tokens=1, estimated_cost=0, cost_of=0.01)
        assert called == []  # refused before the call
        # the external cost counts against the task's max_cost after the call
        with pytest.raises(BudgetExceeded, match=r"used \$0.01355 after the call") as info:  # 0.0042 + 0.00035 + 0.009
            t.call(openrouter_llm, billed=0.009, model=UNPRICED, estimated_tokens=60, estimated_cost="0.0001",
                   cost_of=external_cost)
        assert info.value.response["usage"]["cost"] == 0.009
        assert t.usage[2] == Decimal("0.0042") + tokenops.cost("gpt-4o", plain).total_exact + Decimal("0.009")


# ------------------------------------------------------------------- reservations across processes
def _slow_llm(delay: float = 0.0, **kw):
    time.sleep(delay)
    return {"model": "gpt-4o", "usage": {"prompt_tokens": 100, "completion_tokens": 10}}


def _share_a_cap(path, barrier, results, n_threads, delay):
    """One worker process (spawned): its own Ledger and Governor on the shared file; its threads
    pass the barrier with every other process's, then each tries one slow call."""
    led = Ledger(path)
    gov = Governor(led, max_calls=5)
    outs = []
    lock = threading.Lock()
    with gov.task("shared", user="ana", finish=False) as t:
        barrier.wait(timeout=60)

        def worker():
            try:
                t.call(_slow_llm, delay=delay, model="gpt-4o", estimated_tokens=110)
                out = "ok"
            except BudgetExceeded:
                out = "refused"
            with lock:
                outs.append(out)

        threads = [threading.Thread(target=worker) for _ in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
    led.close()
    results.put((os.getpid(), outs))


def test_ledgers_opening_a_new_file_at_once_all_open_it(tmp_path):
    # the second opener used to meet the first's switch to WAL: "database is locked" at once
    # (SQLite does not wait on its busy timeout there), reported as "not a tokenops ledger file"
    n, rounds = 4, 60
    barrier = threading.Barrier(n)

    def work(w):
        errors = []
        for r in range(rounds):
            barrier.wait(timeout=60)
            try:
                with Ledger(tmp_path / f"{r}.sqlite") as led:
                    led.record(usage(1), model="gpt-4o", task=f"t{w}")
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(e).__name__}: {e}")
        return errors

    with ThreadPoolExecutor(n) as pool:
        assert [e for errs in pool.map(work, range(n), timeout=300) for e in errs] == []
    for r in range(rounds):
        with Ledger(tmp_path / f"{r}.sqlite") as led:
            assert len(led) == n


def test_processes_sharing_a_ledger_file_cannot_overrun_a_shared_cap(tmp_path):
    # 4 processes x 3 threads on max_calls=5: every thread checks within milliseconds of the
    # others, before any call is recorded (each call takes 0.5 s). Per-process reservations let
    # each process make 3 calls (12 in all).
    path = tmp_path / "shared.sqlite"
    Ledger(path).close()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.SimpleQueue()
    procs = [ctx.Process(target=_share_a_cap, args=(path, barrier, results, 3, 0.5)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * 4
    outs = [results.get() for _ in procs]
    flat = sorted(o for _, os_ in outs for o in os_)
    assert flat == ["ok"] * 5 + ["refused"] * 7
    assert sum(1 for _, os_ in outs if "ok" in os_) >= 2  # at most 3 per process: several shared the cap
    with Ledger(path) as led:
        assert led.task_usage("shared")[:2] == (5, 550) and held(led) == 0


def _hold_a_call(path, started):
    gov = Governor(Ledger(path), max_calls=1)
    with gov.task("t", user="ana") as t:
        t.call(lambda **kw: (started.put("in the call"), time.sleep(120)), model="gpt-4o", estimated_tokens=10)


def test_a_dead_processs_reservation_stops_counting_and_is_dropped(tmp_path):
    path = tmp_path / "l.sqlite"
    led = Ledger(path)
    gov = Governor(led, max_calls=1)
    ctx = multiprocessing.get_context("spawn")
    started = ctx.SimpleQueue()
    child = ctx.Process(target=_hold_a_call, args=(path, started))
    child.start()
    try:
        assert started.get() == "in the call"
        assert led.reserved(task="t") == (1, 10, Decimal(0))
        with pytest.raises(BudgetExceeded, match=r"task max_calls = 1 calls exceeded \(task 't'\): used 1 calls"):
            gov.check(task="t")  # the other process's call in flight counts
    finally:
        child.kill()
        child.join(timeout=30)  # reaped: until then a killed process is a zombie, which still exists
    assert led.reserved(task="t") == (0, 0, Decimal(0)) and gov.check(task="t") == []
    assert held(led) == 1  # ignored at once, dropped at the next write
    led.record(usage(1), model="gpt-4o", task="other")
    assert held(led) == 0
    # a reservation of another host is never judged by its pid: it counts until it expires
    db = sqlite3.connect(path)
    db.execute("INSERT INTO reservations (task, user, calls, tokens, cost, owner, created_at, expires_at) "
               "VALUES ('t', NULL, 1, 5, '0.25', 'elsewhere:999999999:00ff', ?, ?)", (time.time(), time.time() + 60))
    db.commit()
    db.close()
    assert led.reserved(task="t") == (1, 5, Decimal("0.25"))
    led.record(usage(1), model="gpt-4o", task="other")
    assert held(led) == 1 and led.reserved(all_users=True)[0] == 1
    led.close()


def test_an_expired_reservation_stops_counting(tmp_path):
    clock = Clock()
    led = Ledger(tmp_path / "l.sqlite", clock=clock)
    gov = Governor(led, quotas=[Quota("calls", 2, "hour", scope="global")], reservation_ttl=60)
    hung = gov._reserve(None, "ana", 10, None)  # a call that never returns (and its process lives on)
    assert led.reserved(user="ana") == led.reserved(all_users=True) == (1, 10, Decimal(0))
    assert led.reserved(user="bob") == led.reserved() == (0, 0, Decimal(0))
    with gov.task("t", user="bob", finish=False) as t:
        t.call(_slow_llm, model="gpt-4o", estimated_tokens=110)  # 0 recorded + 1 held + 1 = 2: allowed
        with pytest.raises(BudgetExceeded, match="global quota of 2 calls per 3600s exceeded .*: used 2 calls"):
            t.check()
        clock.t += 59.9
        with pytest.raises(BudgetExceeded, match="used 2 calls"):
            t.check()
        clock.t += 0.1  # 60 s after it was made: expired
        assert t.check() == [] and led.reserved(all_users=True) == (0, 0, Decimal(0)) and held(led) == 1
        t.call(_slow_llm, model="gpt-4o", estimated_tokens=110)  # its write drops the expired row
        assert held(led) == 0
    gov._release(hung)  # released after it expired: nothing to delete, no error
    assert len(led) == 2 and held(led) == 0


# ---------------------------------------------------------------------------------------- anomalies
def test_robust_z_on_constructed_histories():
    z, med, mad = robust_z(20, [10, 11, 12, 13, 14])  # median 12, MAD 1
    assert (med, mad) == (12, 1) and z == pytest.approx(0.6745 * 8)
    z, med, scale = robust_z(9, [5, 5, 5, 5, 9])  # MAD 0: 1.253314 x mean absolute deviation (0.8)
    assert z == pytest.approx(4 / (1.253314 * 0.8))
    assert robust_z(5, [5, 5, 5])[0] == 0 and robust_z(6, [5, 5, 5])[0] == math.inf
    with pytest.raises(ValueError):
        robust_z(1, [])


def _finished_tasks(gov, n, clock, start=0):
    for i in range(start, start + n):
        clock.t += 10
        gov.record(usage(1000 + 10 * (i % 7)), model="gpt-4o", task=f"h{i}", user="ana")
        gov.finish_task(f"h{i}")


def test_task_cost_anomaly_alerts_once_after_warm_up():
    clock = Clock()
    got = []
    gov = Governor(Ledger(clock=clock), anomalies=[TaskAnomaly("cost", history=30, min_history=20, threshold=3.5)],
                   on_alert=got.append)
    _finished_tasks(gov, 19, clock)
    gov.record(usage(50_000), model="gpt-4o", task="early", user="ana")  # 19 finished: warm-up
    assert got == []
    gov.finish_task("early")
    # history: 19 tasks at 1000..1060 input tokens and "early": median $0.00255, MAD $0.000025
    gov.record(usage(1010), model="gpt-4o", task="normal", user="ana")
    assert got == []
    gov.record(usage(1000), model="gpt-4o", task="runaway", user="ana")  # like the others, so far
    assert got == []
    gov.record(usage(1000), model="gpt-4o", task="runaway", user="ana")  # now twice the usual cost
    assert len(got) == 1
    a = got[0]
    assert (a.kind, a.task, a.value, a.history) == ("task_cost", "runaway", Decimal("0.005"), 20)
    hist = [float(c) for c, _ in gov.ledger.finished_totals(30, exclude="runaway")]
    assert a.z == pytest.approx(robust_z(0.005, hist)[0]) and a.z > 3.5
    gov.record(usage(1000), model="gpt-4o", task="runaway", user="ana")
    assert len(got) == 1  # once per task
    df = gov.ledger.alerts()
    assert df["kind"].tolist() == ["task_cost"] and "runaway" in df["message"][0]


def test_spend_rate_spike_with_warm_up_and_one_alert_per_window():
    clock = Clock()
    rule = SpendRate("hour", history=24, threshold=4, metric="tokens", scope="user")
    gov = Governor(Ledger(clock=clock), anomalies=[rule])
    for h in range(24):  # one call of ~1,000 tokens an hour for 24 hours: not yet 25 windows old
        gov.record(usage(1000 + 17 * (h % 5)), model="gpt-4o", user="ana", at=T0 + h * 3600)
    spike_at = T0 + 23 * 3600 + 60
    gov.record(usage(20_000), model="gpt-4o", user="ana", at=spike_at)
    assert gov.alerts == []  # warm-up: the first call is 23 hours old
    gov.record(usage(1000), model="gpt-4o", user="ana", at=T0 + 25 * 3600)
    assert gov.alerts == []  # hour 25: ~1,000 tokens, as usual
    gov.record(usage(20_000), model="gpt-4o", user="ana", at=T0 + 25 * 3600 + 60)
    assert len(gov.alerts) == 1
    a = gov.alerts[0]
    assert (a.kind, a.scope, a.user, a.value) == ("spend_rate_tokens", "user", "ana", 21_000)
    gov.record(usage(20_000), model="gpt-4o", user="ana", at=T0 + 25 * 3600 + 120)
    assert len(gov.alerts) == 1  # one alert per window
    gov.record(usage(20_000), model="gpt-4o", user="bob", at=T0 + 25 * 3600 + 180)
    assert len(gov.alerts) == 1  # bob has no history: warm-up


@pytest.mark.parametrize("make, msg", [
    (lambda: TaskAnomaly("latency"), "metric"),
    (lambda: TaskAnomaly(history=0), "history must be > 0"),
    (lambda: TaskAnomaly(history=5, min_history=10), "cannot exceed"),
    (lambda: TaskAnomaly(threshold=float("nan")), "threshold"),
    (lambda: TaskAnomaly(threshold=0), "threshold"),
    (lambda: SpendRate(window=0), "positive finite"),
    (lambda: SpendRate(scope="team"), "scope"),
    (lambda: SpendRate(floor=-1), ">= 0"),
])
def test_bad_anomaly_rules(make, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        make()
