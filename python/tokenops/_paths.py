"""Where tokenops finds data files: an explicit path, then ``TOKENOPS_DATA_DIR``, then a
``shared/data`` folder beside the checkout (development), then caches. Nothing here touches the
network."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DATA_ENV = "TOKENOPS_DATA_DIR"
CACHE_ENV = "TOKENOPS_CACHE_DIR"


def data_dir(required: bool = False) -> Path | None:
    """The shared data directory.

    Order: ``$TOKENOPS_DATA_DIR``; else ``../shared/data`` next to the checkout this package was
    installed from (found by walking up from the package and from the working directory).
    Returns None (or raises FileNotFoundError when ``required``) if nothing is found.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        p = Path(env).expanduser()
        if p.is_dir():
            return p
        raise FileNotFoundError(
            f"{DATA_ENV}={env!r} is not a directory. Point it at the tokenops data folder "
            "(the one holding tokenizers/, corpus/, pricing/ ...)."
        )
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for parent in [start, *start.parents][:6]:
            cand = parent / ".." / "shared" / "data"
            if cand.is_dir():
                return cand.resolve()
            cand = parent / "shared" / "data"
            if cand.is_dir():
                return cand.resolve()
    if required:
        raise FileNotFoundError(
            f"tokenops data directory not found: set {DATA_ENV} to the folder holding "
            "tokenizers/, corpus/, pricing/, routing/ ... (in a checkout: ../shared/data)."
        )
    return None


def cache_dir() -> Path:
    """tokenops' own cache folder (``$TOKENOPS_CACHE_DIR`` or ``~/.cache/tokenops``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tokenops"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask can only be
    read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(dest: Path, data: bytes) -> None:
    """Writes ``data`` to ``dest`` atomically: a unique temporary file in the same folder,
    synced, then renamed over ``dest`` (a reader sees the old file or the new one, never a part;
    two writers at once cannot mix their temporary files; nothing is left behind on failure)."""
    import tempfile

    folder = dest.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tokenops-", suffix=".tmp")
    try:
        # mkstemp creates the file 0600; give it the mode open() would (0666 less the umask), so
        # a catalogue refreshed by one user stays readable by the others
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # the rename itself, on file systems that need the folder synced
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


GUNZIP_LIMIT = 256 << 20  # price and model files tokenops reads are a few MB


def gunzip_limited(data: bytes, what: str, limit: int = GUNZIP_LIMIT) -> bytes:
    """gzip-decompresses ``data`` (every member), refusing more than ``limit`` bytes of output (a
    few MB of zeros inflate to gigabytes) with a ValueError naming ``what``, as for corrupt or
    truncated data (gzip.decompress raised BadGzipFile / EOFError without naming the file)."""
    import zlib

    out = bytearray()
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += d.decompress(data, limit + 1 - len(out))
            while d.unconsumed_tail and len(out) <= limit:
                out += d.decompress(d.unconsumed_tail, limit + 1 - len(out))
            if len(out) > limit:
                raise ValueError(f"{what}: decompresses to more than {limit >> 20} MiB; "
                                 "not a file tokenops reads")
            if not d.eof:
                raise ValueError(f"{what}: the gzip data is truncated")
            data = d.unused_data
            if not data.strip(b"\0"):  # trailing zero padding, as gzip allows
                break
    except zlib.error as e:
        raise ValueError(f"{what}: not valid gzip data ({e})") from None
    return bytes(out)

