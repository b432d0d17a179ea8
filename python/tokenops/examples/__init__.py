"""Ready-made examples: workflows used in the docs, notebooks and tests."""

from __future__ import annotations

from ..budget import Step, Workflow, lognormal, normal, poisson


def support_workflow() -> Workflow:
    """The seed's customer-support agent: 12 calls, ~180k tokens per task.

    planning 1 x 8k, tool selection 2 x 10k, retrieval 3 x 16k, troubleshooting loop 4 x 20k,
    validation/final answer 2 x 12k. Every call carries the system prompt (2k) and tool schemas
    (3k). As the seed describes it, each step re-assembles its own context (``context=
    "stateless"``: a case brief plus the step's new material), so the per-call sizes are exactly
    the seed's in deterministic mode. ``with_context("full_history")`` is the same agent resending
    its whole history, where cumulative input grows quadratically with the number of calls.
    Monte-Carlo runs draw every size from a distribution with the seed's value as its mean; the
    troubleshooting loop runs a Poisson number of iterations and calls can fail and be retried.
    """
    steps = (
        Step("planning", calls=1, user_input=normal(2_400, 600, lo=200), output=lognormal(600, 200),
             gap_seconds=5, light=True),
        Step("tool_selection", calls=2, user_input=normal(4_200, 800, lo=500), output=lognormal(800, 250),
             gap_seconds=2, light=True),
        Step("retrieval", calls=3, user_input=1_000, retrieved=lognormal(9_000, 3_000),
             output=lognormal(1_000, 300), gap_seconds=3),
        Step("troubleshooting", calls=poisson(4, lo=1, hi=12), user_input=1_000, retrieved=lognormal(4_000, 1_500),
             tool_output=lognormal(8_500, 4_000), output=lognormal(1_000, 300), reasoning=lognormal(500, 300),
             gap_seconds=lognormal(20, 15), p_success=0.9, max_retries=2),
        Step("validation_final", calls=2, user_input=normal(5_000, 1_000, lo=500), output=lognormal(2_000, 600),
             gap_seconds=3, p_success=0.95, max_retries=1, light=True),
    )
    return Workflow(name="support", steps=steps, system_prompt=2_000, tool_schema=3_000, context="stateless",
                    description="12-call support agent (seed example)")


__all__ = ["support_workflow"]
