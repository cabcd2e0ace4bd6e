"""The held-out split every architecture scores its model on: one seeded rule, so a page, a replay's probe and
an evaluation find the same held-out examples a run set aside."""
from __future__ import annotations


def holdout(n: int, seed: int, fraction: float = 0.15) -> tuple[list[int], list[int]]:
    """Seeded split of n examples into (train, held-out) index lists, each in the original order."""
    import numpy as np
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = max(1, int(round(n * fraction)))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def keep(columns: dict[str, list], max_bytes: int = 3_500_000) -> dict:
    """The first rows of equal-length `columns` (strings or numbers) as arrays for the store's heldout.npz, as
    many as fit `max_bytes` (a string array pads every row to its longest: 4 bytes a character), so a model of a
    large file keeps a bounded part of its held-out rows."""
    import numpy as np
    n = len(next(iter(columns.values()), []))

    def size(k: int) -> int:
        return sum(k * 4 * max((len(str(v)) for v in col[:k]), default=1) if isinstance(col[0], str) else 8 * k
                   for col in columns.values())
    lo, hi = 0, n                      # the largest k with size(k) <= max_bytes (size grows with k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if size(mid) <= max_bytes else (lo, mid - 1)
    return {k: np.array(col[:lo]) for k, col in columns.items()}


def kept(bundle, column: str, what: str, instead: str) -> dict:
    """The held-out arrays a model of a user's file keeps (`Bundle.heldout`, with `column`), or one sentence
    saying it keeps none (trained before models kept them) and what to do `instead`."""
    h = bundle.heldout or {}
    if column not in h:
        from seqviz.errors import SeqvizError
        raise SeqvizError(f"Model {bundle.name!r} keeps no held-out {what} (it was trained before models kept them); "
                          f"retrain it, or {instead}.")
    return h
