"""The reference for `seqviz.decoding`: the same greedy and beam search, written step by step in numpy
(one model call per step; the framework-free version the compiled search replaced). The tests hold the
compiled search to it, token for token.

    step(tokens (B,), state) -> (log_probs (B, V), new state)
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from seqviz.decoding import MAX_BEAM, Hypothesis
from seqviz.errors import SeqvizError

Step = Callable[[np.ndarray, list], tuple[np.ndarray, list]]


def _top(log_probs: np.ndarray, k: int) -> list[tuple[int, float]]:
    idx = np.argsort(-log_probs, kind="stable")[:k]
    return [(int(i), float(log_probs[i])) for i in idx]


def beam_search(step: Step, state: list, start: int, end: int, width: int, max_len: int,
                prefix: Sequence[int] = (), top_k: int = 5) -> list[Hypothesis]:
    """`seqviz.decoding.beam_search`, one step call at a time (its docstring says what the search does)."""
    if not isinstance(width, (int, np.integer)) or not 1 <= width <= MAX_BEAM:
        raise SeqvizError(f"Beam width must be a whole number from 1 to {MAX_BEAM}; got {width!r}.")
    if len(prefix) > max_len:
        raise SeqvizError(f"The forced prefix has {len(prefix)} tokens; at most {max_len} can be decoded.")
    live, finished = [Hypothesis()], []
    bad = [tok for tok in prefix if not isinstance(tok, (int, np.integer)) or tok < 0]
    last = np.array([start])
    for t in range(max_len):
        log_probs, state = step(last, state)                                   # (live, V)
        if t == 0:
            bad += [tok for tok in prefix if isinstance(tok, (int, np.integer)) and tok >= log_probs.shape[1]]
            if bad:
                raise SeqvizError(f"Forced token {bad[0]!r} is not in the vocabulary of {log_probs.shape[1]} "
                                  "tokens.")
        candidates = []                                                        # (total, beam, token)
        for b, (hyp, lp) in enumerate(zip(live, log_probs)):
            choices = [prefix[t]] if t < len(prefix) else np.argsort(-lp, kind="stable")[:width]
            candidates += [(hyp.logprob + float(lp[c]), b, int(c)) for c in choices]
        candidates.sort(key=lambda c: -c[0])                                   # stable: ties keep beam order
        survivors = []
        for _, b, c in candidates[:width - len(finished)]:
            hyp = Hypothesis(live[b].tokens + [c], live[b].step_logprobs + [float(log_probs[b][c])],
                             live[b].topk + [_top(log_probs[b], top_k)], finished=c == end)
            if hyp.finished:
                finished.append(hyp)
            else:
                survivors.append((b, hyp))
        if not survivors or len(finished) >= width:
            live = []
            break
        order = np.array([b for b, _ in survivors])
        state = [s[order] for s in state]                                      # follow the surviving beams
        live = [h for _, h in survivors]
        last = np.array([h.tokens[-1] for h in live])
    return sorted(finished + live, key=lambda h: -h.logprob)[:width]


def greedy(step: Step, state: list, start: int, end: int, max_len: int, prefix: Sequence[int] = (),
           top_k: int = 5) -> Hypothesis:
    """The argmax token at every step (beam search of width 1)."""
    return beam_search(step, state, start, end, 1, max_len, prefix, top_k)[0]
