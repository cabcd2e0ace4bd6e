"""Greedy and beam search over a toy step function whose every sequence probability is known, and the
compiled search held to the step-by-step numpy reference.

The tests here train or load a model; those that need none are in tests/unit/test_decoding.py."""
import itertools

import numpy as np
import pytest

from seqviz import decoding
from tests import reference_decoding as reference
from tests.unit.test_decoding import END, START, STATE, V, markov_search, markov_step, markov_table


def brute_force_best(table, max_len, k):
    """Every sequence of up to max_len tokens (stopping at END), scored exactly."""
    scored = []
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if END in seq[:-1] or (n < max_len and seq[-1] != END):
                continue
            prev, lp = START, 0.0
            for tok in seq:
                lp, prev = lp + table[prev, tok], tok
            scored.append((lp, list(seq)))
    scored.sort(key=lambda s: -s[0])
    return scored[:k]


def independent_greedy(table, max_len):
    tokens, prev = [], START
    for _ in range(max_len):
        prev = int(np.argmax(table[prev]))
        tokens.append(prev)
        if prev == END:
            break
    return tokens


@pytest.mark.parametrize("seed", range(5))
def test_width_one_is_greedy_and_logprobs_add_up(seed):
    step, table = markov_step(seed)
    h = decoding.greedy(step, STATE, START, END, max_len=6)
    assert h.tokens == independent_greedy(table, 6)
    assert h.logprob == pytest.approx(sum(h.step_logprobs))
    assert h.topk[0][0][0] == h.tokens[0] and len(h.topk) == len(h.tokens)
    assert [lp for _, lp in h.topk[0]] == sorted((lp for _, lp in h.topk[0]), reverse=True)


@pytest.mark.parametrize("seed", range(5))
def test_beams_are_sorted_sum_their_steps_and_a_wide_beam_is_exhaustive(seed):
    step, table = markov_step(seed)
    beams = decoding.beam_search(step, STATE, START, END, width=20, max_len=2)  # keeps 20 of 21
    exact = brute_force_best(table, 2, 3)
    assert [b.tokens for b in beams[:3]] == [s for _, s in exact]
    for b, (lp, _) in zip(beams, exact):
        assert b.logprob == pytest.approx(lp)
    logprobs = [b.logprob for b in beams]
    assert logprobs == sorted(logprobs, reverse=True)
    for b in beams:
        assert b.logprob == pytest.approx(sum(b.step_logprobs))
        prev = START
        for tok, lp in zip(b.tokens, b.step_logprobs):      # every step's log-prob is the model's
            assert lp == pytest.approx(table[prev, tok])
            prev = tok


def test_a_forced_prefix_is_kept_and_the_rest_decoded():
    step, table = markov_step(1)
    h = decoding.greedy(step, STATE, START, END, max_len=6, prefix=[3, 2])
    assert h.tokens[:2] == [3, 2]
    assert h.step_logprobs[:2] == pytest.approx([table[START, 3], table[3, 2]])
    rest, prev = [], 2
    for _ in range(4):
        prev = int(np.argmax(table[prev]))
        rest.append(prev)
        if prev == END:
            break
    assert h.tokens[2:] == rest
    for b in decoding.beam_search(step, STATE, START, END, width=3, max_len=6, prefix=[3]):
        assert b.tokens[0] == 3


def reference_step(table):
    def step(last, state):
        total, count = state
        assert len(count) == len(last)                   # the state follows the beams
        return table[last], [total + last, count + 1]
    return step


@pytest.mark.parametrize("seed", range(12))
def test_the_compiled_search_equals_the_numpy_reference(seed):
    """Token for token, log-prob for log-prob, over random chains (some with many tied log-probs), widths
    1-7 (wider than the vocabulary too), prefixes and lengths."""
    rng = np.random.default_rng(100 + seed)
    v = int(rng.integers(3, 9))
    table = markov_table(seed, v, decimals=1 if seed % 3 == 0 else None)
    search, end = markov_search(table), v - 1
    for _ in range(8):
        width, max_len, top_k = int(rng.integers(1, 8)), int(rng.integers(1, 7)), int(rng.integers(1, v + 2))
        prefix = [int(x) for x in rng.integers(0, v, size=rng.integers(0, max_len + 1))]
        got = decoding.beam_search(search, STATE, START, end, width, max_len, prefix, top_k)
        want = reference.beam_search(reference_step(table), [np.zeros(1), np.zeros(1)], START, end, width,
                                     max_len, prefix, top_k)
        assert [(h.tokens, h.finished) for h in got] == [(h.tokens, h.finished) for h in want]
        assert [h.step_logprobs for h in got] == [h.step_logprobs for h in want]
        assert [h.topk for h in got] == [h.topk for h in want]
        for h in got:               # extra: the token each step read, and the state followed the beam
            read = [START] + h.tokens[:-1]
            assert h.extra.tolist() == [[read[s], sum(read[:s]), s] for s in range(len(read))]


def test_runs_side_by_side_equal_the_same_searches_one_at_a_time():
    table = markov_table(7)
    single, triple = markov_search(table), markov_search(table, runs=3)
    runs = [decoding.Run(4, 6), decoding.Run(1, 3, prefix=[2, END], top_k=1), decoding.Run(2, 5, prefix=[1])]
    for n in (1, 2, 3):                     # fewer runs than compiled: the others idle
        together = decoding.beam_searches(triple, STATE, START, END, runs[:n])
        assert len(together) == n
        for got, r in zip(together, runs):
            alone = decoding.beam_search(single, STATE, START, END, r.width, r.max_len, r.prefix, r.top_k)
            assert [(h.tokens, h.step_logprobs, h.topk) for h in got] == [(h.tokens, h.step_logprobs, h.topk)
                                                                           for h in alone]
    assert decoding.beam_search(single, STATE, START, END, 3, 0) == [decoding.Hypothesis()]   # nothing to decode
    with pytest.raises(ValueError, match="compiled for 1 runs"):
        decoding.beam_searches(single, STATE, START, END, runs[:2])
