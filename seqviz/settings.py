"""The server's settings from the environment (SEQVIZ_WORKERS, SEQVIZ_STORE_GB, ...), each checked: a bad value
is one sentence naming the variable, said to whoever starts a run."""
from __future__ import annotations

import math
import os

from seqviz.errors import SeqvizError


def number(name: str, default: float | None, low: float = 1, whole: bool = True) -> float | int | None:
    """$name as a whole number (or any number, `whole=False`) of at least `low` (above it, for a non-whole
    number: 0 GB is no budget), or `default` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = math.nan
    if not (value >= low if whole else value > low) or not math.isfinite(value):
        what = f"a whole number of at least {low:g}" if whole else f"a number above {low:g}"
        raise SeqvizError(f"{name} must be {what}, not {raw!r}.")
    return value
