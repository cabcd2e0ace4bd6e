"""Linear-chain CRF inference in numpy: Viterbi, constrained Viterbi, forward-backward, log-partition.

What it is: given a trained CRF's unary scores `emissions` (T, K) for one sequence of T steps over K
tags, and its `transitions` (K, K), where `transitions[i, j]` is the score of tag i followed by tag j,
the score of a tag path y is

    score(y) = sum_t emissions[t, y_t] + sum_{t>=1} transitions[y_{t-1}, y_t]

and the CRF's distribution is p(y) = exp(score(y)) / Z, with log Z the log-partition over all K^T
paths. This module answers, exactly and without TensorFlow, the questions the dialogue-acts page asks
about a decode: the best path and its score (Viterbi, with backpointers and the best score of every
lattice cell for the lattice figure), the best path when some positions are pinned to a chosen tag,
the per-position tag marginals p(y_t = k), log Z and the log-likelihood of any path.

Convention, checked against the pinned stack: this is exactly tensorflow-addons' convention
(`tfa.text.crf_decode`, `crf_log_likelihood`, `crf_log_norm`), and tf2crf 0.1.33 uses those functions
unchanged. Its `CRF` layer owns a single weight, `transitions` (K, K); `call` runs
`tfa.text.crf_decode(inputs, self.transitions, sequence_lengths)` and returns
`(viterbi_sequence, inputs, sequence_lengths, self.transitions)`; `ModelWithCRFLoss` trains on
`-crf_log_likelihood(potentials, y, sequence_lengths, transitions)`. There are NO start/end (boundary)
scores in tf2crf: the first tag gets only its emission, the last tag nothing extra. So with the
default `start=None, end=None` every function here reproduces tf2crf's own decode and likelihood
(tests/unit/test_crf.py checks both against tfa and against a tf2crf layer). The optional `start` and
`end` vectors (K,) add `start[y_0]` and `end[y_{T-1}]` to a path's score, for CRFs that do have
boundary scores; None means zeros.

Padding is the caller's business: pass only the T valid steps of a sequence (tfa's `sequence_lengths`
prefix). Shape mistakes are programmer errors (ValueError); bad pins come from a person choosing
positions on a page, so they raise `SeqvizError` with a sentence.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from seqviz.errors import SeqvizError


@dataclass
class Viterbi:
    """The best tag path through a lattice, with what is needed to draw and re-check it.

    path:         best tag per step, length T.
    score:        its score (emissions + transitions, plus start/end when given).
    backpointers: (T, K) int; backpointers[t, k] is the previous tag on the best path ending in tag k at
                  step t (row 0 is -1: there is no previous tag).
    cumulative:   (T, K); cumulative[t, k] is the best score of any path over steps 0..t that ends in
                  tag k at step t (the last row includes the end score, so cumulative[-1].max() == score).
                  Cells a pin ruled out are -inf.
    """

    path: list[int]
    score: float
    backpointers: np.ndarray
    cumulative: np.ndarray


# ---------------------------------------------------------------------------------------------
# Checking inputs and a stable log-sum-exp.
# ---------------------------------------------------------------------------------------------


def _check(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return float64 copies of the inputs, with zero boundary scores where None; ValueError on bad shapes."""
    em = np.asarray(emissions, dtype=np.float64)
    tr = np.asarray(transitions, dtype=np.float64)
    if em.ndim != 2 or em.shape[0] < 1 or em.shape[1] < 1:
        raise ValueError(f"emissions must have shape (T, K) with T >= 1 and K >= 1, got {em.shape}")
    k = em.shape[1]
    if tr.shape != (k, k):
        raise ValueError(f"transitions must have shape ({k}, {k}) to match emissions {em.shape}, got {tr.shape}")
    bounds = []
    for name, vec in (("start", start), ("end", end)):
        if vec is None:
            bounds.append(np.zeros(k))
            continue
        vec = np.asarray(vec, dtype=np.float64)
        if vec.shape != (k,):
            raise ValueError(f"{name} must have shape ({k},) to match emissions {em.shape}, got {vec.shape}")
        bounds.append(vec)
    return em, tr, bounds[0], bounds[1]


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(a))) along `axis`, without overflow; all -inf gives -inf (not nan)."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis)


# ---------------------------------------------------------------------------------------------
# Scoring one path.
# ---------------------------------------------------------------------------------------------


def path_score(
    emissions: np.ndarray,
    transitions: np.ndarray,
    path: Sequence[int],
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> float:
    """Unnormalised score of one tag path: its emissions, its transitions and (if given) start/end."""
    em, tr, st, en = _check(emissions, transitions, start, end)
    tags = np.asarray(path, dtype=np.int64)
    t_len, k = em.shape
    if tags.shape != (t_len,):
        raise ValueError(f"path must have {t_len} tags (one per step), got shape {tags.shape}")
    if tags.min() < 0 or tags.max() >= k:
        raise ValueError(f"path tags must lie in 0..{k - 1}, got {tags.tolist()}")
    score = em[np.arange(t_len), tags].sum() + tr[tags[:-1], tags[1:]].sum()
    return float(score + st[tags[0]] + en[tags[-1]])


# ---------------------------------------------------------------------------------------------
# Viterbi: the best path, and the best path with some positions pinned.
# ---------------------------------------------------------------------------------------------


def viterbi(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> Viterbi:
    """The highest-scoring tag path (max-product in log space), as `tfa.text.crf_decode` finds it.

    Ties go to the lowest tag index, like tfa's argmax.
    """
    em, tr, st, en = _check(emissions, transitions, start, end)
    t_len, k = em.shape
    cumulative = np.empty((t_len, k))
    backpointers = np.full((t_len, k), -1, dtype=np.int64)
    cumulative[0] = st + em[0]
    for t in range(1, t_len):
        # candidates[i, j]: best path ending in i at t-1, then i -> j
        candidates = cumulative[t - 1][:, None] + tr
        backpointers[t] = np.argmax(candidates, axis=0)
        cumulative[t] = candidates[backpointers[t], np.arange(k)] + em[t]
    cumulative[-1] += en

    best = int(np.argmax(cumulative[-1]))
    path = [best]
    for t in range(t_len - 1, 0, -1):
        path.append(int(backpointers[t, path[-1]]))
    path.reverse()
    return Viterbi(path=path, score=float(cumulative[-1, best]), backpointers=backpointers, cumulative=cumulative)


def constrained_viterbi(
    emissions: np.ndarray,
    transitions: np.ndarray,
    pins: dict[int, int],
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> Viterbi:
    """The best path among those with tag `pins[t]` at every pinned position t.

    Every other tag at a pinned position gets emission -inf (what `tfa.text.crf_constrained_decode`
    does with its tag bitmap), then plain `viterbi` runs. The score is the path's true score: a pinned
    tag keeps its own emission. Raises SeqvizError for a position or tag out of range.
    """
    em, tr, st, en = _check(emissions, transitions, start, end)
    t_len, k = em.shape
    masked = em.copy()
    for pos, tag in pins.items():
        try:
            pos_i, tag_i = operator.index(pos), operator.index(tag)
        except TypeError:
            raise SeqvizError(
                f"A pin must be a whole-number position and a whole-number tag, got {pos!r} -> {tag!r}."
            ) from None
        if not 0 <= pos_i < t_len:
            raise SeqvizError(
                f"Cannot pin position {pos_i}: the sequence has {t_len} steps, so positions run from 0 to {t_len - 1}."
            )
        if not 0 <= tag_i < k:
            raise SeqvizError(
                f"Cannot pin position {pos_i} to tag {tag_i}: there are {k} tags, so tags run from 0 to {k - 1}."
            )
        keep = masked[pos_i, tag_i]
        masked[pos_i] = -np.inf
        masked[pos_i, tag_i] = keep
    return viterbi(masked, tr, st, en)


# ---------------------------------------------------------------------------------------------
# Forward-backward: log Z, marginals, log-likelihood.
# ---------------------------------------------------------------------------------------------


def _forward(em: np.ndarray, tr: np.ndarray, st: np.ndarray) -> np.ndarray:
    """alpha[t, k] = log of the summed exp-scores of all paths over steps 0..t ending in tag k."""
    t_len, k = em.shape
    alpha = np.empty((t_len, k))
    alpha[0] = st + em[0]
    for t in range(1, t_len):
        alpha[t] = _logsumexp(alpha[t - 1][:, None] + tr, axis=0) + em[t]
    return alpha


def _backward(em: np.ndarray, tr: np.ndarray, en: np.ndarray) -> np.ndarray:
    """beta[t, k] = log of the summed exp-scores of all continuations after tag k at step t (incl. end)."""
    t_len, k = em.shape
    beta = np.empty((t_len, k))
    beta[-1] = en
    for t in range(t_len - 2, -1, -1):
        beta[t] = _logsumexp(tr + (em[t + 1] + beta[t + 1])[None, :], axis=1)
    return beta


def log_partition(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> float:
    """log Z = logsumexp of score(y) over all K^T paths (the forward algorithm); tfa's `crf_log_norm`."""
    em, tr, st, en = _check(emissions, transitions, start, end)
    alpha = _forward(em, tr, st)
    return float(_logsumexp(alpha[-1] + en, axis=0))


def marginals(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> np.ndarray:
    """(T, K) posterior tag marginals p(y_t = k) by forward-backward; each row sums to 1."""
    em, tr, st, en = _check(emissions, transitions, start, end)
    alpha = _forward(em, tr, st)
    beta = _backward(em, tr, en)
    log_z = _logsumexp(alpha[-1] + en, axis=0)
    return np.exp(alpha + beta - log_z)


def log_likelihood(
    emissions: np.ndarray,
    transitions: np.ndarray,
    path: Sequence[int],
    start: Optional[np.ndarray] = None,
    end: Optional[np.ndarray] = None,
) -> float:
    """log p(path) = path_score - log Z; what `tfa.text.crf_log_likelihood` returns (tf2crf's loss is minus it)."""
    return path_score(emissions, transitions, path, start, end) - log_partition(emissions, transitions, start, end)
