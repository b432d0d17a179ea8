"""SQLite helpers shared by the files tokenops keeps (the response cache, the ledger)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator


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


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction that takes the file's write lock at once (``BEGIN IMMEDIATE``:
    other writers wait, no read-then-upgrade deadlock), committed at the end of the block and
    rolled back if the block or the commit raises (unless SQLite has already ended it)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


# SQLite's primary result codes that say the file could not be used (permissions, locks, I/O, a
# full disk...), not that it holds something else: SQLITE_PERM, BUSY, LOCKED, NOMEM, READONLY,
# IOERR, FULL, CANTOPEN, PROTOCOL
_ACCESS_CODES = {3, 5, 6, 7, 8, 10, 13, 14, 15}
_ACCESS_WORDS = ("unable to open", "readonly", "locked", "disk i/o", "is full", "out of memory",
                 "permission", "busy")


def access_error(e: sqlite3.Error) -> bool:
    """True when ``e`` says the file could not be opened, read or written (read-only, locked,
    I/O, full disk), as opposed to a file that is not a database or not of the expected kind."""
    code = getattr(e, "sqlite_errorcode", None)  # Python 3.11+
    if isinstance(code, int):
        return code & 0xFF in _ACCESS_CODES
    return isinstance(e, sqlite3.OperationalError) and any(w in str(e).lower() for w in _ACCESS_WORDS)


def cannot_open(what: str, path: object, e: sqlite3.Error) -> OSError:
    """The error for a file that SQLite could not open, read or write (see :func:`access_error`)."""
    return OSError(
        f"cannot open the {what} {path}: SQLite said: {e}. The file itself was not judged: check "
        "that it and its folder are writable (SQLite keeps <file>-wal and <file>-shm beside it) and "
        "not on a read-only or full disk, and that no other process holds it locked"
    )
