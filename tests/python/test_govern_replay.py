"""tokenops.govern.replay: RouterBench outcomes replayed through a Ledger (KPIs per policy)."""

from __future__ import annotations

from decimal import Context, Decimal

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from tokenops.govern import (  # noqa: E402
    Ledger, Policy, cost_check, default_policies, load_routerbench_calls, replay, replay_kpis,
)
from tokenops.govern.replay import CALL_COLUMNS, KPI_COLUMNS, NO_MODEL_CORRECT, ROUTERBENCH_PRICES  # noqa: E402

G4, G35 = "gpt-4-1106-preview", "gpt-3.5-turbo-1106"


def tiny() -> pd.DataFrame:
    """3 tasks x 2 models. Prices: gpt-4-1106 $10 / $30 per 1M, gpt-3.5-1106 $1 / $2.
    task 0: 3.5 ok  (1000 in, 100 out: 0.0012), 4 ok  (1000, 100: 0.013); oracle 3.5
    task 1: 3.5 bad (2000, 50: 0.0021),         4 ok  (2000, 200: 0.026); oracle 4
    task 2: 3.5 bad (500, 10: 0.00052),         4 bad (500, 20: 0.0056);  no model correct"""
    rows = [(0, G35, True, 1000, 100, G35), (0, G4, True, 1000, 100, G35),
            (1, G35, False, 2000, 50, G4), (1, G4, True, 2000, 200, G4),
            (2, G35, False, 500, 10, NO_MODEL_CORRECT), (2, G4, False, 500, 20, NO_MODEL_CORRECT)]
    return pd.DataFrame(rows, columns=["task", "model", "success", "input_tokens", "output_tokens", "oracle"])


POLICIES = [Policy.always(G35), Policy.always(G4), Policy.oracle(fallback=G35), Policy.cascade(G35, G4)]


def test_replay_kpis_hand_computed() -> None:
    k = replay_kpis(tiny(), POLICIES).set_index("policy")
    assert list(k.reset_index().columns) == list(KPI_COLUMNS)
    assert list(k.index) == [p.name for p in POLICIES]
    D = Decimal
    expect = {  # policy: (task_cost, successes, p50, p95, calls per task)
        f"always {G35}": (D("0.00382"), 1, D("0.0012"), D("0.00201"), 1.0),      # p95: 0.0012 + 0.9 x 0.0009
        f"always {G4}": (D("0.0446"), 2, D("0.013"), D("0.0247"), 1.0),          # p95: 0.013 + 0.9 x 0.013
        "RouterBench oracle": (D("0.02772"), 2, D("0.0012"), D("0.02352"), 1.0),  # p95: 0.0012 + 0.9 x 0.0248
        # cascade: 0.0012; 0.0021 + 0.026; 0.00052 + 0.0056
        f"cascade {G35} -> {G4} (perfect verifier)": (D("0.03542"), 2, D("0.00612"), D("0.025902"), 5 / 3),
    }
    for name, (cost, ok, p50, p95, cpt) in expect.items():
        r = k.loc[name]
        assert r["tasks"] == 3
        assert r["task_cost"] == cost
        assert r["success_rate"] == ok / 3
        assert r["cost_per_completed_task"] == cost / ok
        assert r["cost_per_task"] == Context(prec=34).divide(cost, Decimal(3))  # 34 digits, as documented
        assert r["p50_cost_per_task"] == p50
        assert r["p95_cost_per_task"] == p95
        assert r["calls_per_task"] == pytest.approx(cpt)
    assert k.loc[f"cascade {G35} -> {G4} (perfect verifier)", "cost_per_completed_task"] == D("0.01771")


def test_replay_ledger_rows() -> None:
    led = replay(tiny(), [Policy.cascade(G35, G4)], Ledger())
    calls = led.calls()
    assert len(calls) == 5  # task 0: one call; tasks 1 and 2 escalate
    assert [t["routerbench_model"] for t in calls["tags"]] == [G35, G35, G4, G35, G4]
    tasks = led.tasks().set_index("task")
    assert tasks["status"].to_dict() == {f"{POLICIES[3].name}#0": "success", f"{POLICIES[3].name}#1": "success",
                                         f"{POLICIES[3].name}#2": "failure"}


def test_policy_definitions() -> None:
    ok = {G35: False, G4: True, "m": True}
    assert Policy.always("m").route(ok) == ["m"]
    assert Policy.cascade(G35, G4).route(ok) == [G35, G4]
    assert Policy.cascade(G4, G35).route(ok) == [G4]  # the cheap one succeeded: no escalation
    assert Policy.oracle().route(ok, oracle=G4) == [G4]
    assert Policy.oracle(fallback="m").route(ok, oracle=NO_MODEL_CORRECT) == ["m"]
    assert "perfect verifier" in Policy.cascade(G35).name
    with pytest.raises(ValueError, match="unknown policy kind"):
        Policy("x", "random", ("m",))
    with pytest.raises(ValueError, match="takes 2 model"):
        Policy("x", "cascade", ("m",))
    pols = default_policies()
    assert [p.kind for p in pols].count("always") == len(ROUTERBENCH_PRICES) == 11
    assert [p.kind for p in pols].count("oracle") == 1
    assert all(p.models[1] == G4 for p in pols if p.kind == "cascade")


def test_replay_bad_input() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        replay(tiny().drop(columns="oracle"), POLICIES)
    with pytest.raises(ValueError, match="unique"):
        replay(tiny(), [Policy.always(G4), Policy.always(G4)])
    with pytest.raises(KeyError, match="needs the outcome"):
        replay(tiny(), [Policy.cascade("claude-v1", G4)])


def test_every_routerbench_model_is_priced_by_the_catalogue() -> None:
    import tokenops

    cat = tokenops.Catalog.default()
    for key, _how in ROUTERBENCH_PRICES.values():
        assert cat.resolve(key).key == key


def test_loader_and_cost_check_on_real_data(data_dir) -> None:
    from tokenops.router.data import load_routerbench

    calls = load_routerbench_calls("test", data_dir=data_dir)
    assert list(calls.columns) == list(CALL_COLUMNS)
    raw = load_routerbench("test", data_dir=data_dir)
    assert len(raw) == 953  # README section 2
    complete = int(np.isfinite(raw.quality).all(axis=1).sum())
    assert calls["task"].nunique() == complete == 945 and len(calls) == 11 * complete  # 8 ARC rows lack a quality
    assert set(calls["model"]) == set(ROUTERBENCH_PRICES)
    exact = calls.groupby("model")["tokens_exact"].all()
    assert exact[G4] and exact[G35] and not exact["claude-v2"]
    assert (calls["input_tokens"] > 0).all()
    check = cost_check(calls).set_index("model")
    # RouterBench's total_cost is cl100k_base counts x its prices: for the GPT models (exact
    # counts, same prices) tokenops reproduces every call's cost; the o200k_base approximation
    # of the others stays within a few percent
    assert check.loc[G4, "max_call_diff"] < 1e-12 and check.loc[G35, "max_call_diff"] < 1e-12
    assert check["ratio"].between(0.95, 1.05).all(), check["ratio"]
    assert check.loc[G4, "tokenops_cost"] > check.loc["mistralai/mistral-7b-chat", "tokenops_cost"]


def test_loader_all_rows(data_dir) -> None:
    from tokenops.router.data import load_routerbench

    n = sum(int(np.isfinite(load_routerbench(s, data_dir=data_dir).quality).all(axis=1).sum())
            for s in ("train", "test"))
    assert sum(len(load_routerbench(s, data_dir=data_dir)) for s in ("train", "test")) == 3178  # README
    calls = load_routerbench_calls("all", data_dir=data_dir)
    assert calls["task"].nunique() == n == 3150 and calls["task"].max() == n - 1
    with pytest.raises(ValueError, match="split must be"):
        load_routerbench_calls("dev", data_dir=data_dir)
