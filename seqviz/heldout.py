"""The held-out split every architecture scores its model on: one seeded rule, so a page, a replay's probe and
an evaluation find the same held-out examples a run set aside."""
from __future__ import annotations


def holdout(n: int, seed: int, fraction: float = 0.15) -> tuple[list[int], list[int]]:
    """Seeded split of n examples into (train, held-out) index lists, each in the original order."""
    import numpy as np
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = max(1, int(round(n * fraction)))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())
