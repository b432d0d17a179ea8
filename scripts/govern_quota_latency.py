"""Latency of Governor.check with quotas as the ledger's window fills: a global daily cost quota and
a per-user hourly token quota over N calls recorded in the last 20 hours (an SQLite file).

    TOKENOPS_DATA_DIR=../shared/data python scripts/govern_quota_latency.py [--calls 50000]

Prints the time to record the calls and the median of 20 checks. docs/govern.md quotes it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from tokenops.govern import Governor, Ledger, Quota


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50_000)
    n = ap.parse_args().calls
    now = time.time()
    with tempfile.TemporaryDirectory() as d:
        led = Ledger(os.path.join(d, "ledger.sqlite"), clock=lambda: now)
        usage = {"prompt_tokens": 1234, "completion_tokens": 321}
        t = time.perf_counter()
        for i in range(n):
            led.record(usage, model="gpt-4o-mini", user=f"u{i % 10}", at=now - 72_000 + i * 72_000 / n)
        rec = time.perf_counter() - t
        gov = Governor(led, quotas=[Quota("cost", "100000", "day", scope="global"), Quota("tokens", 10**12, "hour")])
        ts = []
        for _ in range(20):
            t = time.perf_counter()
            gov.check(user="u3", model="gpt-4o-mini", estimated_tokens=1000)
            ts.append(time.perf_counter() - t)
        ts.sort()
        print(f"{n:,} calls recorded in {rec:.1f} s ({rec / n * 1e3:.2f} ms each); "
              f"check with both quotas: median {ts[len(ts) // 2] * 1e3:.2f} ms")
        print("window usage (calls, tokens, USD):", led.usage_since(now - 86_400, all_users=True))
        led.close()


if __name__ == "__main__":
    main()
