"""Latency of Governor.check with quotas as the ledger's window fills: a global daily cost quota and
a per-user hourly token quota over N calls recorded in the last 26 hours (an SQLite file).

    TOKENOPS_DATA_DIR=../shared/data python scripts/govern_quota_latency.py [--calls 50000]

Prints the time to record the calls and the median of 20 checks; then the median time of 20
Governor.record calls with a global and a per-user SpendRate rule (hourly windows, 24 of
history) over the same ledger. docs/govern.md quotes both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from tokenops.govern import Governor, Ledger, Quota, SpendRate


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
            led.record(usage, model="gpt-4o-mini", user=f"u{i % 10}", at=now - 93_600 + i * 93_600 / n)
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
        # floors no window reaches: every record bins the 25 windows and no alert ends the checks
        rules = [SpendRate("hour", 24, scope="global", floor="1e9"),
                 SpendRate("hour", 24, metric="tokens", scope="user", floor=10**15)]
        gov = Governor(led, anomalies=rules)
        ts = []
        for _ in range(20):
            t = time.perf_counter()
            gov.record(usage, model="gpt-4o-mini", user="u3", at=now)
            ts.append(time.perf_counter() - t)
        ts.sort()
        print(f"record with two SpendRate rules: median {ts[len(ts) // 2] * 1e3:.2f} ms")
        led.close()


if __name__ == "__main__":
    main()
