"""The governor: budgets, iteration caps and quotas enforced around live calls, and anomaly alerts.

Limits are read from the :class:`~tokenops.govern.Ledger` (what was recorded) plus the calls in
flight, reserved in the ledger by :meth:`TaskScope.call` between its check and its record (with a
ledger file: by every process sharing the file):

* per task: ``max_calls`` (the iteration cap), ``max_tokens``, ``max_cost`` (USD);
* :class:`Quota`: calls, tokens or cost per rolling window (minute, hour, day or seconds), per
  user or for everyone (``scope="global"``); the window ending now, now - window < at, calls
  dated after now included (a clock stepped back, another host's clock ahead).

Before a call (:meth:`Governor.check`) a limit is exceeded when ``used >= limit`` (nothing left)
or ``used + estimate > limit``; after a call is recorded, when ``used > limit``. The call is
recorded either way: a ledger never loses a billed call.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .anomaly import Alert, SpendRate, TaskAnomaly, robust_z
from ._checks import check_id, count, exact_decimals, money, window_seconds
from .ledger import Call, Ledger

_KINDS = ("calls", "tokens", "cost")
_MODES = ("raise", "warn")


class BudgetExceeded(RuntimeError):
    """A budget, iteration cap or quota would be (or was) exceeded. ``violations`` lists every
    limit that was; the message names each one: which limit, its value, the usage, the
    estimate, and the task and user."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        self.violation = self.violations[0]
        super().__init__("; ".join(v.message for v in self.violations))


class BudgetWarning(UserWarning):
    """Issued for each exceeded limit by a governor with ``on_exceed="warn"`` and no callback."""


@dataclass(frozen=True)
class Violation:
    """One exceeded limit."""

    limit: str  # "max_calls", "max_tokens", "max_cost" or "quota"
    kind: str  # "calls", "tokens" or "cost"
    scope: str  # "task", "user" or "global"
    value: int | Decimal  # the limit
    used: int | Decimal  # recorded (and in flight) before this call
    estimate: int | Decimal  # this call's estimate (0 after the call)
    task: str | None
    user: str | None
    window: float | None  # seconds, for a quota
    when: str  # "before the call" or "after the call"

    @property
    def message(self) -> str:
        def show(x: int | Decimal) -> str:
            return f"${x}" if self.kind == "cost" else f"{x:,} {self.kind}"

        name = self.limit if self.window is None else f"quota of {show(self.value)} per {self.window:g}s"
        who = ", ".join(f"{k} {v!r}" for k, v in (("task", self.task), ("user", self.user)) if v is not None)
        who = f" ({who})" if who else ""
        lim = "" if self.window is not None else f" = {show(self.value)}"
        if self.when == "before the call":
            usage = f"used {show(self.used)}" + (f" + this call's estimate {show(self.estimate)}" if self.estimate else "")
        else:
            usage = f"used {show(self.used)} after the call"
        return f"{self.scope} {name}{lim} exceeded{who}: {usage}"


@dataclass(frozen=True)
class Quota:
    """``limit`` calls, tokens or USD (``kind``) per rolling ``window`` ("minute", "hour",
    "day" or seconds), per user (``scope="user"``: a check must name the user) or for all calls
    (``scope="global"``). A per-key quota is a per-user quota keyed by the API key's id."""

    kind: str
    limit: Any
    window: Any
    scope: str = "user"

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Quota kind must be 'calls', 'tokens' or 'cost', not {self.kind!r}")
        lim = money(self.limit, "Quota limit", positive=True) if self.kind == "cost" else \
            count(self.limit, "Quota limit", positive=True)
        object.__setattr__(self, "limit", lim)
        object.__setattr__(self, "window", window_seconds(self.window, "Quota window"))
        if self.scope not in ("user", "global"):
            raise ValueError(f"Quota scope must be 'user' or 'global', not {self.scope!r}")


def _task_limits(max_calls: Any, max_tokens: Any, max_cost: Any) -> dict[str, int | Decimal]:
    out: dict[str, int | Decimal] = {}
    if max_calls is not None:
        out["calls"] = count(max_calls, "max_calls", positive=True)
    if max_tokens is not None:
        out["tokens"] = count(max_tokens, "max_tokens", positive=True)
    if max_cost is not None:
        out["cost"] = money(max_cost, "max_cost", positive=True)
    return out


def _callbacks(fn: Any, name: str) -> list[Callable[[Any], Any]]:
    if fn is None:
        return []
    fns = list(fn) if isinstance(fn, (list, tuple)) else [fn]
    for f in fns:
        if not callable(f):
            raise TypeError(f"{name} must be a function or a list of functions, not {type(f).__name__}")
    return fns


class Governor:
    """Enforces budgets around calls and raises anomaly alerts (see the module docstring).

    >>> gov = tokenops.govern.Governor(max_calls=8, max_cost="0.50",
    ...                                quotas=[tokenops.govern.Quota("tokens", 200_000, "hour")])
    >>> with gov.task("ticket-42", user="ana") as t:
    ...     t.check(model="gpt-4o", prompt=messages, max_output_tokens=500)   # BudgetExceeded if over
    ...     t.record(response, model="gpt-4o")

    ``ledger``: where calls are recorded and usage is read (default: a new in-memory one).
    ``max_calls`` / ``max_tokens`` / ``max_cost``: per-task defaults (:meth:`task` overrides them).
    ``on_exceed``: "raise" (:class:`BudgetExceeded`) or "warn" (each :class:`Violation` goes to
    ``on_violation``, or to ``warnings.warn`` as a :class:`BudgetWarning`; the call proceeds).
    ``anomalies``: :class:`TaskAnomaly` and :class:`SpendRate` rules; each :class:`Alert` is
    stored in the ledger, kept in :attr:`alerts` and passed to the ``on_alert`` functions.
    ``reservation_ttl``: seconds (or "minute", "hour", "day") a call's reservation is held at most
    (see :meth:`TaskScope.call`); a call that outlives it is no longer counted in flight.
    One lock guards checks, reservations and records: a governor may be shared by threads.
    """

    def __init__(self, ledger: Ledger | None = None, *, max_calls: int | None = None,
                 max_tokens: int | None = None, max_cost: Any = None, quotas: Iterable[Quota] = (),
                 on_exceed: str = "raise", on_violation: Any = None, anomalies: Iterable[Any] = (),
                 on_alert: Any = None, reservation_ttl: Any = 600) -> None:
        if ledger is not None and not isinstance(ledger, Ledger):
            raise TypeError(f"ledger must be a tokenops.govern.Ledger or None, not {type(ledger).__name__}")
        self.ledger = ledger if ledger is not None else Ledger()
        self.limits = _task_limits(max_calls, max_tokens, max_cost)
        self.quotas = list(quotas)
        for q in self.quotas:
            if not isinstance(q, Quota):
                raise TypeError(f"quotas must hold Quota objects, not {type(q).__name__}")
        if on_exceed not in _MODES:
            raise ValueError(f"on_exceed must be 'raise' or 'warn', not {on_exceed!r}")
        self.on_exceed = on_exceed
        self._on_violation = _callbacks(on_violation, "on_violation")
        self.anomalies = list(anomalies)
        for r in self.anomalies:
            if not isinstance(r, (TaskAnomaly, SpendRate)):
                raise TypeError(f"anomalies must hold TaskAnomaly or SpendRate rules, not {type(r).__name__}")
        self._on_alert = _callbacks(on_alert, "on_alert")
        self.reservation_ttl = window_seconds(reservation_ttl, "reservation_ttl")
        self._lock = threading.RLock()
        self._scoped: dict[str, dict[str, int | Decimal]] = {}  # task -> limits of an open task scope
        self._alerts: list[Alert] = []

    # ------------------------------------------------------------------ estimates
    def _needs_cost(self, task: str | None) -> bool:
        return (task is not None and "cost" in self._limits_of(task)) or any(q.kind == "cost" for q in self.quotas)

    @exact_decimals
    def estimate(self, *, model: str | None = None, prompt: Any = None, estimated_tokens: int | None = None,
                 max_output_tokens: int | None = None, estimated_cost: Any = None,
                 need_cost: bool = True) -> tuple[int, Decimal | None]:
        """(tokens, cost) a call is expected to use.

        ``prompt`` (a str or chat messages) is counted with ``model``'s tokenizer
        (:func:`tokenops.count_messages`; a str is one user message) and priced as input text;
        ``max_output_tokens`` (the ``max_tokens`` the call is made with: the worst case) as
        output text. ``estimated_tokens`` instead of a prompt is the call's whole count: with
        ``max_output_tokens`` the rest is input, without it every token is priced at the dearer
        of the input and output text prices (an upper bound). ``estimated_cost`` overrides the
        priced estimate. The cost is None when no model is given (and no ``estimated_cost``).
        A model the catalogue does not price is a KeyError when the cost is needed (never a $0
        estimate): give ``estimated_cost``; one tokenops has no tokenizer for is a KeyError for a
        ``prompt``: give ``estimated_tokens``.
        """
        out = 0 if max_output_tokens is None else count(max_output_tokens, "max_output_tokens")
        if prompt is not None and estimated_tokens is not None:
            raise ValueError("give prompt or estimated_tokens, not both")
        if model is not None and not isinstance(model, str):
            raise TypeError(f"model must be a str, not {type(model).__name__}")
        split = True
        if prompt is not None:
            if model is None:
                raise ValueError("prompt needs model= to count its tokens with the model's tokenizer")
            from ..tokenizer import count_messages

            msgs = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            try:
                n_in = int(count_messages(msgs, model))
            except KeyError as e:  # no tokenizer for the model (a self-hosted or fine-tuned one...)
                raise KeyError(f"{e.args[0]}; or give the governor the call's token count: estimated_tokens= "
                               "instead of the prompt") from None
        elif estimated_tokens is not None:
            total = count(estimated_tokens, "estimated_tokens")
            if max_output_tokens is None:
                n_in, split = total, False
            elif out > total:
                raise ValueError(f"max_output_tokens ({out}) exceeds estimated_tokens ({total}), which includes them")
            else:
                n_in = total - out
        else:
            n_in = 0
        tokens = n_in + (out if split else 0)
        if estimated_cost is not None:
            return tokens, money(estimated_cost, "estimated_cost")
        if model is None or not need_cost:
            return tokens, None if tokens else Decimal(0)
        try:
            if not split:
                a = self.ledger.price({"input_text": tokens}, model).total_exact
                b = self.ledger.price({"output_text": tokens}, model).total_exact
                assert a is not None and b is not None
                return tokens, max(a, b)
            c = self.ledger.price({"input_text": n_in, "output_text": out}, model).total_exact
        except KeyError as e:  # a model the catalogue does not price: never estimated at $0
            raise KeyError(f"{e.args[0]} The call's cost is estimated from the catalogue (needed when a task "
                           "max_cost or a cost quota applies); for a model it does not price, pass estimated_cost= "
                           "(USD)") from None
        assert c is not None
        return tokens, c

    # ------------------------------------------------------------------ limits
    def _limits_of(self, task: str) -> dict[str, int | Decimal]:
        return self._scoped.get(task, self.limits)

    @exact_decimals
    def _violations(self, task: str | None, user: str | None, est: tuple[int, int, Decimal | None],
                    before: bool) -> list[Violation]:
        """Every exceeded limit (caller holds the lock). ``est``: (calls, tokens, cost) of the
        call about to be made (before) or (0, 0, 0) after it. Usage: the ledger's records plus
        its live reservations."""
        out: list[Violation] = []
        now = self.ledger._now()

        def test(limit: str, kind: str, scope: str, value: int | Decimal, used: tuple[int, int, Decimal],
                 inflight: tuple[int, int, Decimal], window: float | None) -> None:
            i = _KINDS.index(kind)
            u = used[i] + inflight[i]
            e = est[i]
            if e is None:
                raise ValueError(f"a {scope} {kind} limit applies: pass model= (or estimated_cost=) so that "
                                 "the call's cost can be estimated")
            hit = (u >= value or u + e > value) if before else u > value
            if hit:
                out.append(Violation(limit, kind, scope, value, u, e, task, user, window,
                                     "before the call" if before else "after the call"))

        if task is not None:
            limits = self._limits_of(task)
            if limits:
                used = self.ledger.task_usage(task)
                fl = self.ledger.reserved(task=task)
                for kind, value in limits.items():
                    test(f"max_{kind}", kind, "task", value, used, fl, None)
        held: dict[str, tuple[int, int, Decimal]] = {}
        for q in self.quotas:
            if q.scope == "user" and user is None:
                raise ValueError(f"a per-user quota ({q.kind} per {q.window:g}s) is set: pass user= to check and "
                                 "record calls")
            everyone = q.scope == "global"
            # no upper bound: a call dated after now (the clock stepped back, another host's clock
            # runs ahead) was made and billed, and counts until it is window old
            used = self.ledger.usage_since(now - q.window, user, all_users=everyone)
            if q.scope not in held:  # reservations have no window: one query per scope
                held[q.scope] = self.ledger.reserved(user=user, all_users=everyone)
            test("quota", q.kind, q.scope, q.limit, used, held[q.scope], q.window)
        return out

    def _handle(self, violations: list[Violation]) -> list[Violation]:
        if not violations:
            return violations
        if self.on_exceed == "raise":
            raise BudgetExceeded(violations)
        for v in violations:
            if self._on_violation:
                for f in self._on_violation:
                    f(v)
            else:
                warnings.warn(v.message, BudgetWarning, stacklevel=3)
        return violations

    def check(self, *, task: str | None = None, user: str | None = None, model: str | None = None,
              prompt: Any = None, estimated_tokens: int | None = None, max_output_tokens: int | None = None,
              estimated_cost: Any = None) -> list[Violation]:
        """Checks a call before it is made (see :meth:`estimate` for the estimate's arguments);
        returns the violations (empty: go ahead) or, with ``on_exceed="raise"``, raises
        :class:`BudgetExceeded`. Without an estimate it asks whether anything is left."""
        task = check_id(task, "task")
        user = check_id(user, "user")
        tokens, c = self.estimate(model=model, prompt=prompt, estimated_tokens=estimated_tokens,
                                  max_output_tokens=max_output_tokens, estimated_cost=estimated_cost,
                                  need_cost=self._needs_cost(task))
        with self._lock:
            return self._handle(self._violations(task, user, (1, tokens, c), True))

    def _reserve(self, task: str | None, user: str | None, tokens: int, c: Decimal | None) -> int:
        """Checks and, when allowed, holds (1 call, tokens, cost) in flight until released: the
        check and the reservation are one ledger transaction (see :meth:`Ledger.reserve`)."""
        with self._lock:
            return self.ledger.reserve(lambda: self._handle(self._violations(task, user, (1, tokens, c), True)),
                                       task=task, user=user, tokens=tokens, cost=c or Decimal(0),
                                       ttl=self.reservation_ttl)

    def _release(self, reservation: int) -> None:
        with self._lock:
            self.ledger.release(reservation)

    # ------------------------------------------------------------------ records
    def record(self, response: Any = None, *, task: str | None = None, user: str | None = None,
               _reservation: int | None = None, **kwargs: Any) -> Call:
        """Records a call in the ledger (:meth:`Ledger.record`'s arguments, ``cost=`` for an
        externally priced call included), then runs the anomaly rules and checks the limits: a
        limit now exceeded raises :class:`BudgetExceeded` (or warns) after the call is stored.
        Limits and rules read the stored cost, whoever priced it."""
        if user is None:
            q = next((q for q in self.quotas if q.scope == "user"), None)
            if q is not None:  # refused before storing: the caller must name the user
                if _reservation is not None:
                    self._release(_reservation)
                raise ValueError(f"a per-user quota ({q.kind} per {q.window:g}s) is set: pass user= to record calls")
        with self._lock:
            try:  # the reservation goes in the transaction that stores the call
                call = self.ledger.record(response, task=task, user=user, release=_reservation, **kwargs)
            except BaseException:
                if _reservation is not None:
                    self._release(_reservation)
                raise
            violations = self._violations(call.task, call.user, (0, 0, Decimal(0)), False)
            for rule in self.anomalies:
                alert = self._task_alert(rule, call) if isinstance(rule, TaskAnomaly) else self._rate_alert(rule, call)
                if alert is not None:
                    self.ledger._add_alert(alert)
                    self._alerts.append(alert)
                    for f in self._on_alert:
                        f(alert)
            self._handle(violations)
            return call

    def finish_task(self, task: str, success: bool = True, **kwargs: Any) -> None:
        """:meth:`Ledger.finish_task`."""
        with self._lock:
            self.ledger.finish_task(task, success, **kwargs)

    def task(self, task: str, *, user: str | None = None, max_calls: int | None = None,
             max_tokens: int | None = None, max_cost: Any = None, finish: bool = True) -> TaskScope:
        """A scope for one task's calls: ``with gov.task("t1", user="ana") as t: ...``. Its
        limits are the governor's, with ``max_calls`` / ``max_tokens`` / ``max_cost`` overriding
        them. On entry the task must not be finished and must have budget left (else
        BudgetExceeded). With ``finish`` (default) the task is finished on exit: a success when
        the block ends normally, a failure when it raises (BudgetExceeded included), unless
        :meth:`TaskScope.finish` said otherwise."""
        task = check_id(task, "task", optional=False)
        user = check_id(user, "user")
        over = _task_limits(max_calls, max_tokens, max_cost)
        if not isinstance(finish, bool):
            raise TypeError(f"finish must be a bool, not {type(finish).__name__}")
        return TaskScope(self, task, user, {**self.limits, **over}, finish)

    @property
    def alerts(self) -> list[Alert]:
        """The alerts this governor raised (the ledger keeps all of them: ``ledger.alerts()``)."""
        with self._lock:
            return list(self._alerts)

    # ------------------------------------------------------------------ anomaly rules
    def _alerted(self, kind: str, sql: str, params: Sequence[Any]) -> bool:
        return bool(self.ledger._query(f"SELECT 1 FROM alerts WHERE kind = ? AND {sql} LIMIT 1", (kind, *params)))

    @exact_decimals
    def _task_alert(self, rule: TaskAnomaly, call: Call) -> Alert | None:
        if call.task is None or self._alerted(rule.kind, "task = ?", (call.task,)):
            return None
        hist = self.ledger.finished_totals(rule.history, exclude=call.task)
        if len(hist) < rule.min_history:
            return None
        calls, tokens, c = self.ledger.task_usage(call.task)
        i = 1 if rule.metric == "tokens" else 0
        value: int | Decimal = tokens if i else c
        z, med, _ = robust_z(float(value), [float(h[i]) for h in hist])
        if not z > rule.threshold:
            return None
        what = f"{value:,} tokens" if i else f"${value}"
        msg = (f"task {call.task!r} has used {what} in {calls} calls, robust z = {z:.1f} > {rule.threshold:g} "
               f"against the last {len(hist)} finished tasks (median {med:.6g})")
        return Alert(rule.kind, "task", call.at, call.task, call.user, value, med, z, rule.threshold, len(hist), msg)

    @exact_decimals
    def _rate_alert(self, rule: SpendRate, call: Call) -> Alert | None:
        everyone = rule.scope == "global"
        if not everyone and call.user is None:
            return None
        t, w, k = call.at, float(rule.window), rule.history
        first = self.ledger.first_call_at(call.user, all_users=everyone)
        if first is None or first > t - (k + 1) * w:
            return None  # warm-up
        if everyone:
            seen = self._alerted(rule.kind, "scope = 'global' AND at > ?", (t - w,))
        else:
            seen = self._alerted(rule.kind, "scope = 'user' AND user = ? AND at > ?", (call.user, t - w))
        if seen:
            return None
        sums = self.ledger.window_sums(t, w, k + 1, call.user, all_users=everyone)
        bins: list[Any] = [s[0] if rule.metric == "tokens" else s[1] for s in sums]
        value = bins[0]
        if value < rule.floor:
            return None
        z, med, _ = robust_z(float(value), [float(b) for b in bins[1:]])
        if not z > rule.threshold:
            return None
        who = "all users" if everyone else f"user {call.user!r}"
        what = f"{value:,} tokens" if rule.metric == "tokens" else f"${value}"
        msg = (f"spend rate of {who}: {what} in the last {w:g}s, robust z = {z:.1f} > {rule.threshold:g} against "
               f"the {k} windows before (median {med:.6g})")
        return Alert(rule.kind, rule.scope, t, None, None if everyone else call.user, value, med, z, rule.threshold,
                     k, msg)


class TaskScope:
    """One task's calls under a :class:`Governor` (made by :meth:`Governor.task`)."""

    def __init__(self, gov: Governor, task: str, user: str | None, limits: dict[str, int | Decimal],
                 finish: bool) -> None:
        self.governor, self.task, self.user = gov, task, user
        self.limits = limits
        self._finish_on_exit = finish
        self._finished = False

    def __enter__(self) -> TaskScope:
        gov = self.governor
        with gov._lock:
            outcome = gov.ledger.task_outcome(self.task)
            if outcome is not None:
                raise ValueError(f"task {self.task!r} is already finished ({'success' if outcome else 'failure'}); "
                                 "use a new task id")
            if self.task in gov._scoped:
                raise ValueError(f"task {self.task!r} already has an open scope; share its TaskScope between "
                                 "threads instead of opening a second one")
            gov._scoped[self.task] = self.limits
            try:
                gov._handle(gov._violations(self.task, self.user, (0, 0, Decimal(0)), True))
            except BaseException:
                del gov._scoped[self.task]
                raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        gov = self.governor
        with gov._lock:
            gov._scoped.pop(self.task, None)
            if self._finish_on_exit and not self._finished:
                self.finish(exc_type is None)

    def check(self, **kwargs: Any) -> list[Violation]:
        """:meth:`Governor.check` for this task and user."""
        return self.governor.check(task=self.task, user=self.user, **kwargs)

    def record(self, response: Any = None, **kwargs: Any) -> Call:
        """:meth:`Governor.record` for this task and user (``cost=`` records an externally priced
        call)."""
        return self.governor.record(response, task=self.task, user=self.user, **kwargs)

    def call(self, fn: Callable[..., Any], *args: Any, step: str | None = None, tags: Mapping[str, str] | None = None,
             estimated_tokens: int | None = None, estimated_cost: Any = None,
             cost_of: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
        """Checks, calls ``fn(*args, **kwargs)`` and records its response; returns the response.

        The estimate comes from the call's own arguments: ``model``, ``messages`` (counted with
        the model's tokenizer unless ``estimated_tokens`` is given) and ``max_tokens`` /
        ``max_completion_tokens`` / ``max_output_tokens``. The estimate is reserved in the ledger
        from the check to the record (check and reservation in one write transaction; the release
        in the one that stores the call), so threads, and processes sharing a ledger file, cannot
        overrun a budget together. A reservation lasts ``reservation_ttl`` seconds at most and is
        dropped once its process is found dead on this host. When
        ``fn`` raises, nothing is recorded (tokenops cannot know what a failed call billed). When
        recording fails after the call (an unpriceable response, or :class:`BudgetExceeded`
        because the call went over a limit), the exception carries the paid-for response as
        ``.response``.

        ``cost_of``: a function of the response giving the call's cost in USD when it is known
        from elsewhere (``cost_of=tokenops.govern.external_cost`` for OpenRouter / LiteLLM
        responses); its result is recorded as ``cost=`` (``priced_by = "external"``). When it
        returns None the call is priced by the catalogue as without it (a model the catalogue
        lacks is then the engine's KeyError, with ``.response``). For a model the catalogue does
        not price, the check before the call needs ``estimated_cost`` when a cost limit applies
        and ``estimated_tokens`` unless tokenops has the model's tokenizer.
        """
        if cost_of is not None and not callable(cost_of):
            raise TypeError(f"cost_of must be a function of the response (e.g. tokenops.govern.external_cost), "
                            f"not {type(cost_of).__name__}")
        gov = self.governor
        model = kwargs.get("model")
        out = next((kwargs[k] for k in ("max_tokens", "max_completion_tokens", "max_output_tokens")
                    if kwargs.get(k) is not None), None)
        prompt = kwargs.get("messages") if estimated_tokens is None else None
        tokens, c = gov.estimate(model=model, prompt=prompt, estimated_tokens=estimated_tokens,
                                 max_output_tokens=out, estimated_cost=estimated_cost,
                                 need_cost=gov._needs_cost(self.task))
        res = gov._reserve(self.task, self.user, tokens, c)
        try:
            response = fn(*args, **kwargs)
        except BaseException:
            gov._release(res)
            raise
        try:
            try:
                billed = None if cost_of is None else cost_of(response)
            except BaseException:
                gov._release(res)
                raise
            gov.record(response, task=self.task, user=self.user, model=model, step=step, tags=tags,
                       cost=billed, _reservation=res)
        except Exception as e:  # the call was made and billed: hand its response over with the error
            e.response = response  # type: ignore[attr-defined]
            raise
        return response

    def finish(self, success: bool = True) -> None:
        """Records the task's outcome now (at most once)."""
        with self.governor._lock:
            self.governor.ledger.finish_task(self.task, success, allow_no_calls=True)
            self._finished = True

    @property
    def usage(self) -> tuple[int, int, Decimal]:
        """(calls, tokens, exact cost) recorded for this task so far."""
        return self.governor.ledger.task_usage(self.task)
