"""Greedy and beam-search decoding, shared by every model that emits a token at a time (seq2seq,
captioning). The whole search runs inside one TensorFlow graph (a `tf.while_loop`), so decoding an input
is one call, not one call per step: a model plugs in as a `step` function over tensors,

    step(tokens (B,) int32, state, t) -> (log_probs (B, V), new state, extra (B, X))

`state` is whatever the model carries between steps (LSTM h and c, attention context, the partial
caption ...), as a list of tensors whose first axis is the batch; the search reorders it with the
surviving beams' indices. `t` is the step (0 for the first token). `extra` is anything per step worth
keeping with a hypothesis (the attention weights; (B, 0) for nothing).

Each returned `Hypothesis` keeps the log-probability of every token it chose, the top-k distribution
and the `extra` row at every step, so a page can draw the beam tree, the per-step bars and the best
beam's alignment, and anyone can check that a beam's log-probability is the sum of its steps. A `prefix`
forces the first tokens ("pin the token at step i, decode the rest"): forced tokens are scored like any
other, but not chosen. `tests/reference_decoding.py` is the same search written step by step in numpy;
the tests hold this one to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from seqviz.errors import SeqvizError

MAX_BEAM = 20
Step = Callable[[tf.Tensor, list, tf.Tensor], tuple]


@dataclass
class Hypothesis:
    tokens: list[int] = field(default_factory=list)        # without the start token; ends with eos if finished
    step_logprobs: list[float] = field(default_factory=list)
    topk: list[list[tuple[int, float]]] = field(default_factory=list)  # per step: (token, log-prob), best first
    finished: bool = False
    extra: np.ndarray | None = None                         # (steps, X): the step's `extra` row per token

    @property
    def logprob(self) -> float:
        return float(sum(self.step_logprobs))


@dataclass
class Search:
    """A step function compiled into `runs` beam searches from one input, side by side in one graph call
    (each run its own width, length, prefix and top-k); traced once, on first use."""
    graph: Callable
    vocab_size: int
    runs: int

    @cached_property
    def fn(self) -> Callable:
        return self.graph.get_concrete_function()


@dataclass
class Run:
    """One search's arguments (see `beam_search`)."""
    width: int
    max_len: int
    prefix: Sequence[int] = ()
    top_k: int = 5


def compile_search(step: Step, input_spec: Sequence[tf.TensorSpec], vocab_size: int, runs: int = 1,
                   init: Callable | None = None) -> Search:
    """`step` over `vocab_size` tokens as a `Search`. Its inputs (TensorSpecs `input_spec`, batch 1) are the
    start state, or `init` makes the start state of them inside the graph (e.g. runs the encoder)."""
    i32 = tf.TensorSpec([], tf.int32)
    run = (i32, i32, tf.TensorSpec([None], tf.int32), i32)            # width, max_len, prefix, top_k

    # no autograph: the search's loop and branches are tf.while_loop and tf.cond already, and transpiling the
    # Python of the step and the layers it calls was half of the trace (seq2seq: 1.8 of 3.9 s)
    @tf.function(input_signature=[list(input_spec), i32, i32, [run] * runs], autograph=False)
    def search(inputs, start, end, runs):
        state = init(inputs) if init is not None else inputs
        return [search_graph(step, vocab_size, state, start, end, *r) for r in runs]
    return Search(search, vocab_size, runs)


def search_graph(step: Step, vocab_size: int, state, start, end, width, max_len, prefix, top_k) -> dict:
    """The search as graph ops (inside a `tf.function`). W slots run side by side; after each step, slot r
    holds the candidate ranked r (best first), alive if it was kept and did not emit `end`. Per step it
    records, for `beam_search` to follow back: each slot's parent slot, token, log-prob and fate, and per
    parent slot its top-k and `extra`."""
    w, n_prefix = width, tf.size(prefix)
    k_choice, k_top = tf.minimum(width, vocab_size), tf.minimum(top_k, vocab_size)
    forced_at = tf.concat([prefix, [0]], 0)                        # forced_at[t] for t < n_prefix
    first_choice = tf.range(k_choice) < 1
    slots = tf.range(w)
    names = ("parent", "token", "logprob", "ended", "alive", "top_ids", "top_lp", "extra")
    arrays = [tf.TensorArray(d, size=0, dynamic_size=True) for d in
              (tf.int32, tf.int32, tf.float32, tf.bool, tf.bool, tf.int32, tf.float32, tf.float32)]

    def body(t, last, alive, score, state, n_fin, arrays):
        log_probs, state, extra = step(last, state, t)             # (W, V), ..., (W, X)
        top_lp, top_ids = tf.math.top_k(log_probs, k_top)          # (W, K): ties keep the lower id first
        # candidates (W, k_choice): each live slot's k best next tokens, or only the forced one
        cand_lp, cand_tok = tf.math.top_k(log_probs, k_choice)
        forced, forced_tok = t < n_prefix, forced_at[tf.minimum(t, n_prefix)]
        cand_tok = tf.where(forced, forced_tok, cand_tok)
        cand_lp = tf.where(forced, tf.gather(log_probs, forced_tok, axis=1)[:, None], cand_lp)
        valid = tf.reshape(alive[:, None] & (first_choice[None, :] | ~forced), [-1])
        total = tf.where(valid, tf.reshape(score[:, None] + tf.cast(cand_lp, tf.float64), [-1]), -np.inf)
        # the W - n_fin best, best first; ties keep the candidates' order (slot, then choice)
        score, best = tf.math.top_k(total, w)
        taken = (slots < w - n_fin) & tf.gather(valid, best)
        parent = best // k_choice
        token, chosen_lp = tf.gather(tf.reshape(cand_tok, [-1]), best), tf.gather(tf.reshape(cand_lp, [-1]), best)
        ended = taken & tf.equal(token, end)                       # set aside: finished
        alive = taken & tf.not_equal(token, end)
        n_fin += tf.reduce_sum(tf.cast(ended, tf.int32))
        rows = (parent, token, chosen_lp, ended, alive, top_ids, top_lp, tf.cast(extra, tf.float32))
        arrays = [a.write(t, x) for a, x in zip(arrays, rows)]
        state = [tf.gather(s, parent) for s in state]             # each slot follows its hypothesis
        return t + 1, token, alive, score, state, n_fin, arrays

    def more(t, last, alive, score, state, n_fin, arrays):     # stop: W finished, none alive, or max_len
        return (t < max_len) & (n_fin < w) & tf.reduce_any(alive)

    state = [tf.repeat(s, w, axis=0) for s in state]             # every slot starts from the one input
    loop = (0, tf.fill([w], start), slots < 1, tf.zeros([w], tf.float64), state, 0, arrays)
    t, *_, arrays = tf.while_loop(more, body, loop)

    # a run of max_len 0 stacks nothing (an empty TensorArray of unknown element shape cannot stack)
    empty = [tf.zeros([0] * (2 if i < 5 else 3), a.dtype) for i, a in enumerate(arrays)]
    stacked = tf.cond(t > 0, lambda: [a.stack() for a in arrays], lambda: empty)
    return {"steps": t, **dict(zip(names, stacked))}


def beam_search(search: Search, inputs: Sequence, start: int, end: int, width: int, max_len: int,
                prefix: Sequence[int] = (), top_k: int = 5) -> list[Hypothesis]:
    """The `width` best hypotheses, best first by total log-probability (no length normalisation).
    Width 1 is greedy decoding.

    Every step expands each live hypothesis by its `width` best next tokens (or the forced prefix token)
    and keeps the `width` best expansions; one that emits `end` is finished and set aside. The search
    stops when `width` hypotheses have finished, none is live, or after `max_len` tokens. Each finished
    hypothesis takes one place, so the beam narrows as hypotheses end.
    """
    return beam_searches(search, inputs, start, end, [Run(width, max_len, prefix, top_k)])[0]


def beam_searches(search: Search, inputs: Sequence, start: int, end: int,
                  runs: Sequence[Run]) -> list[list[Hypothesis]]:
    """Up to `search.runs` beam searches from the same inputs in one call (they run side by side)."""
    if len(runs) > search.runs:
        raise ValueError(f"this search was compiled for {search.runs} runs at a time, not {len(runs)}")
    for r in runs:
        check_width(r.width)
        check_prefix(r.prefix, r.max_len, search.vocab_size)
    idle = Run(1, 0)                                                   # a run of no steps costs nothing
    args = [(np.int32(r.width), np.int32(r.max_len), np.asarray(r.prefix, np.int32).reshape(-1), np.int32(r.top_k))
            for r in list(runs) + [idle] * (search.runs - len(runs))]
    outs = search.fn(list(inputs), np.int32(start), np.int32(end), args)
    return [hypotheses(out, r.width) for out, r in zip(outs, runs)]


def check_width(width) -> None:
    if not isinstance(width, (int, np.integer)) or not 1 <= width <= MAX_BEAM:
        raise SeqvizError(f"Beam width must be a whole number from 1 to {MAX_BEAM}; got {width!r}.")


def check_prefix(prefix: Sequence[int], max_len: int, vocab_size: int) -> None:
    if len(prefix) > max_len:
        raise SeqvizError(f"The forced prefix has {len(prefix)} tokens; at most {max_len} can be decoded.")
    bad = [tok for tok in prefix if not isinstance(tok, (int, np.integer)) or not 0 <= tok < vocab_size]
    if bad:
        raise SeqvizError(f"Forced token {bad[0]!r} is not in the vocabulary of {vocab_size} tokens.")


def hypotheses(out: dict, width: int) -> list[Hypothesis]:
    """`search_graph`'s records -> the hypotheses: the finished ones in the order they finished (step, then
    rank), then the ones alive after the last step; best first (a stable sort)."""
    out = {k: v.numpy() for k, v in out.items()}
    steps = int(out["steps"])
    if steps == 0:                                                   # max_len 0: nothing decoded
        return [Hypothesis()]
    ends = [(t, r) for t in range(steps) for r in np.flatnonzero(out["ended"][t])]
    lives = [(steps - 1, r) for r in np.flatnonzero(out["alive"][steps - 1])] if steps else []
    hyps = [_backtrack(out, t, r, True) for t, r in ends] + [_backtrack(out, t, r, False) for t, r in lives]
    return sorted(hyps, key=lambda h: -h.logprob)[:width]


def _backtrack(out: dict, t: int, slot: int, finished: bool) -> Hypothesis:
    """The hypothesis in `slot` after step t: follow its parents back to step 0."""
    tokens, logprobs, rows = [], [], []
    for s in range(t, -1, -1):                                    # `slot` is a slot after step s
        tokens.append(int(out["token"][s, slot]))
        logprobs.append(float(out["logprob"][s, slot]))
        slot = int(out["parent"][s, slot])                        # ... the slot it grew from, before step s
        rows.append(slot)
    tokens, logprobs, rows = tokens[::-1], logprobs[::-1], rows[::-1]
    topk = [[(int(i), float(lp)) for i, lp in zip(out["top_ids"][s, r], out["top_lp"][s, r])]
            for s, r in enumerate(rows)]
    return Hypothesis(tokens, logprobs, topk, finished, np.stack([out["extra"][s, r] for s, r in enumerate(rows)]))


def greedy(search: Search, inputs: Sequence, start: int, end: int, max_len: int, prefix: Sequence[int] = (),
           top_k: int = 5) -> Hypothesis:
    """The argmax token at every step (beam search of width 1)."""
    return beam_search(search, inputs, start, end, 1, max_len, prefix, top_k)[0]
