"""One memory budget for every training run and every stored model that is loaded.

Before any work starts, an architecture's `memory(params, data)` lists what its settings and data will
hold, as `Term`s: its weights (with Adam's gradient and two slots while training), the activations of
one batch, the dataset's arrays. `check` refuses a plan whose total, on top of what a TensorFlow process
holds anyway, is over the budget, with one sentence that names the biggest term, the knobs it grows with
and the largest value of one of them that would fit with the rest unchanged.

The budget is `SEQVIZ_MEMORY_GB` (default 4 GB: a 24 GB machine keeps room for the server and other
sessions). The estimates are tested against measured peak RSS within a factor of 2 (tests/model/test_budget.py).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

from seqviz.errors import SeqvizError

ENV = "SEQVIZ_MEMORY_GB"
DEFAULT_GB = 4.0
RUNTIME = 0.75e9      # bytes a TensorFlow process holds before any model (measured: 0.7-0.8 GB RSS)
FLOAT = 4             # bytes of a float32
ADAM = 4              # a trained weight while training: itself, its gradient and Adam's two slots
LSTM_FLOATS = 12      # floats an LSTM keeps per unit and time step for the backward pass (gates, states, grads)


@dataclass(frozen=True)
class Term:
    """One thing a run holds: `what` in words, its bytes, and the knobs (name -> value) it grows with."""
    what: str
    bytes: float
    knobs: dict
    kind: str = "batch"          # "weights" (x ADAM while training); training only: "batch" (a training step),
    #                              "eval" (scoring between or after the steps: it never coexists with a step's
    #                              activations, so the peak holds the larger of the two), "data"


def weights(count: float, knobs: dict, what: str = "the weights") -> Term:
    return Term(what, count * FLOAT, knobs, "weights")


def lstm_weights(inputs: int, units: int) -> int:
    return 4 * units * (inputs + units + 1)


def lstm_activations(rows: float, steps: float, units: int, inputs: int = 0) -> float:
    """Bytes of one batch through an LSTM layer while training: (rows, steps) positions, each holding its
    input and LSTM_FLOATS per unit."""
    return rows * steps * (inputs + LSTM_FLOATS * units) * FLOAT


def limit() -> float:
    """The budget in bytes, from SEQVIZ_MEMORY_GB."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_GB * 1e9
    try:
        gb = float(raw)
    except ValueError:
        gb = float("nan")
    if not math.isfinite(gb) or gb <= 0:
        raise SeqvizError(f"{ENV} must be a number of gigabytes, like 4 or 12; it is {raw!r}.")
    return gb * 1e9


def cost(term: Term, training: bool) -> float:
    if term.kind == "weights":
        return term.bytes * (ADAM if training else 1)
    return term.bytes if training else 0.0


def need(terms: list[Term], training: bool = True) -> float:
    """Bytes a process running these terms holds at its peak, the TensorFlow runtime included."""
    held = sum(cost(t, training) for t in terms if t.kind in ("weights", "data"))
    step = sum(cost(t, training) for t in terms if t.kind == "batch")
    scoring = sum(cost(t, training) for t in terms if t.kind == "eval")
    return RUNTIME + held + max(step, scoring)


READ_COST = 12   # bytes held per byte of a CSV or text file once read (Python strings; measured 11x on SwDA's shape)


def check_read(files: list[tuple[str, int, float]]) -> None:
    """Refuse files whose reading alone would go over the budget, before they are parsed: (filename, bytes,
    bytes held per byte once read) each; a CSV or text file holds ~READ_COST times its size, a .npy ~3 times."""
    budget = limit()
    held = RUNTIME + sum(size * factor for _, size, factor in files)
    if held <= budget:
        return
    name, size, factor = max(files, key=lambda f: f[1] * f[2])
    raise SeqvizError(f"{name} is {_gb(size)}; reading it holds about {_gb(size * factor)} of memory ({factor:g}× its "
                      f"size), over the {_gb(budget)} budget ({ENV}) with the rest of the run: split the file or "
                      f"train on part of it, or raise {ENV} if the machine has the memory.")


def _gb(b: float) -> str:
    return f"{b / 1e9:.1f} GB" if b >= 0.95e9 else f"{b / 1e6:,.0f} MB"


def _fits(memory: Callable, params: dict, knob: str, spec, budget: float, training: bool):
    """The largest value of `knob` (within its range) at which the plan fits, the rest unchanged; or None."""
    lo = spec.lo if spec is not None and spec.lo is not None else 1
    value = params[knob]
    ok = lambda v: need(memory({**params, knob: v}), training) <= budget  # noqa: E731
    if not isinstance(value, int) or isinstance(value, bool) or not ok(int(lo)):
        return None
    lo, hi = int(lo), int(value)        # ok(lo), not ok(hi): bisect
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def check(memory: Callable[[dict], list[Term]], params: dict, specs=(), training: bool = True,
          what: str = "These settings") -> None:
    """Refuse `params` when `memory(params)` needs more than the budget. `specs`: the knobs' Params (their
    ranges bound the suggestion)."""
    budget, terms = limit(), memory(params)
    total = need(terms, training)
    if total <= budget:
        return
    head = f"{what} need about {_gb(total)} of memory, over the {_gb(budget)} budget ({ENV})"
    if RUNTIME >= budget:
        raise SeqvizError(f"{head}: a TensorFlow process alone holds about {_gb(RUNTIME)}; raise {ENV}.")
    big = max(terms, key=lambda t: cost(t, training))
    grows = " × ".join(big.knobs) or "the data"
    values = " × ".join(f"{v:,}" if isinstance(v, int) else f"{v:g}" for v in big.knobs.values())
    head += f"; most of it is {big.what} ({_gb(cost(big, training))}), which grows with {grows}"
    head += f" ({values})" if big.knobs else ""
    by_name = {s.name: s for s in specs}
    for term in sorted(terms, key=lambda t: -cost(t, training)):   # the first knob that alone would do
        for knob in term.knobs:
            if knob in params and knob in by_name:
                best = _fits(memory, params, knob, by_name[knob], budget, training)
                if best is not None:
                    raise SeqvizError(f"{head}; with the rest unchanged, {knob} {best:,} or less would fit.")
    raise SeqvizError(f"{head}; no one setting alone brings it under the budget: lower several, or raise {ENV} "
                      "if the machine has the memory.")
