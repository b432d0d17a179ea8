"""SQLite helpers shared by the files tokenops keeps (the response cache, the ledger)."""

from __future__ import annotations

import sqlite3
import time


def use_wal(db: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Puts the file in WAL mode (once; it stays). Switching needs the file to itself, and while
    another process is opening the same new file SQLite answers "database is locked" at once,
    without waiting for its busy timeout: the switch is retried for up to ``timeout`` seconds."""
    if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.05)
