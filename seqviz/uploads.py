"""Reading user files at the boundary: size cap, UTF-8, CSV columns. Every failure is a SeqvizError
with a sentence a person can act on. (Arrays are read with `np.load(..., allow_pickle=False)`.)"""
from __future__ import annotations

import io

from seqviz.errors import SeqvizError

MAX_FILE_MB = 1024      # any file read (the CLI's --data, --file, ...); SEQVIZ_MAX_FILE_MB sets another
MAX_UPLOAD_MB = 200     # a browser upload: Streamlit's server.maxUploadSize (in .streamlit/config.toml)


def file_limit() -> int:
    """The largest file read, in bytes: SEQVIZ_MAX_FILE_MB (default 1024), read at call time."""
    import os
    raw = os.environ.get("SEQVIZ_MAX_FILE_MB", str(MAX_FILE_MB))
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not mb > 0:
        raise SeqvizError(f"SEQVIZ_MAX_FILE_MB must be a number of megabytes, like 1024; it is {raw!r}.")
    return int(mb * 2**20)


def _limit(limit: int | None) -> int:
    return file_limit() if limit is None else limit


def read_path(path: str, limit: int | None = None) -> bytes:
    """A local file's bytes, measured before they are read: a regular file by its size on disk; anything else
    (a pipe, a device such as /dev/zero, stdin) by reading at most max_bytes + 1 bytes."""
    import os
    import stat
    max_bytes = _limit(limit)
    name = os.path.basename(path) or path
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
                raise SeqvizError(f"{name} is {st.st_size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB.")
            raw = f.read(max_bytes + 1)
    except IsADirectoryError:
        raise SeqvizError(f"{path} is a folder, not a file.") from None
    except OSError as e:
        raise SeqvizError(f"Cannot read {path}: {e.strerror or e}.") from None
    if len(raw) > max_bytes:
        raise SeqvizError(f"{name} is larger than the {max_bytes / 2**20:g} MB limit (it was read up to the limit: "
                          "a pipe or a device has no size to check first).")
    return raw


def check_labels(n_labels: int, n_rows: int, filename: str, what: str, maximum: int) -> None:
    """A label set a model can learn from: at most `maximum`, and beyond 20 at most one per 5 rows (a small
    file with thousands of labels would train a huge output layer to 0% accuracy)."""
    cap = min(maximum, max(20, n_rows // 5))
    if n_labels > cap:
        raise SeqvizError(f"{filename} has {n_labels:,} distinct {what}s in {n_rows:,} rows; at most {cap:,} can "
                          f"be learned from it (at most {maximum:,}, and beyond 20 one per 5 rows): merge rare "
                          f"{what}s or add rows.")


def check_size(raw: bytes, filename: str, limit: int | None = None) -> bytes:
    max_bytes = _limit(limit)
    if len(raw) > max_bytes:
        raise SeqvizError(f"{filename} is {len(raw) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB.")
    if not raw.strip():
        raise SeqvizError(f"{filename} is empty.")
    return raw


def decode_text(raw: bytes, filename: str, max_bytes: int | None = None) -> str:
    check_size(raw, filename, max_bytes)
    if b"\x00" in raw[:4096]:
        raise SeqvizError(f"{filename} looks like a binary file, not text; upload UTF-8 text.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SeqvizError(f"{filename} is not UTF-8 text (undecodable byte at position {e.start}); "
                          "save it with UTF-8 encoding.") from None


def read_csv(raw: bytes, filename: str, required: list[str], optional: list[str] = (),
             max_bytes: int | None = None):
    """A DataFrame of str columns named exactly `required` (+ any `optional` present), header matched
    case- and space-insensitively; cells stripped, empty cells as ''."""
    import pandas as pd
    text = decode_text(raw, filename, max_bytes)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise SeqvizError(f"{filename} could not be read as CSV: {str(e).strip().splitlines()[0]}") from None
    cols = {str(c).strip().lower(): c for c in df.columns}
    missing = [c for c in required if c not in cols]
    if missing:
        found = ", ".join(str(c) for c in df.columns) or "none"
        raise SeqvizError(f"{filename} needs the columns {', '.join(required)}; missing {', '.join(missing)} "
                          f"(found: {found}).")
    if df.empty:
        raise SeqvizError(f"{filename} has the header ({', '.join(str(c) for c in df.columns)}) but no data rows.")
    keep = [c for c in list(required) + list(optional) if c in cols]
    return pd.DataFrame({c: df[cols[c]].astype(str).str.strip() for c in keep})


def check_writable(path) -> None:
    """Refuse an output path whose folder cannot be written, before any work is done: one sentence (a folder
    that does not exist, /proc, a read-only mount)."""
    import os
    import tempfile
    from pathlib import Path
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise SeqvizError(f"Cannot write {path}: the folder {parent} does not exist.")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".seqviz-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise SeqvizError(f"Cannot write {path}: {e.strerror or e}.") from None
