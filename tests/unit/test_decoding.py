"""Greedy and beam search over a toy step function whose every sequence probability is known, and the
compiled search held to the step-by-step numpy reference.

The tests here need no model; those that train or load one are in tests/model/test_decoding.py."""

import numpy as np
import pytest
import tensorflow as tf

from seqviz import decoding
from seqviz.errors import SeqvizError


V, END, START = 5, 4, 0


def markov_table(seed, v=V, decimals=None):
    """log P(next | last) of a first-order chain, float32; rounded, it has many ties."""
    table = np.log(np.random.default_rng(seed).dirichlet(np.ones(v) * 0.7, size=v))
    return (table if decimals is None else np.round(table, decimals)).astype(np.float32)


def markov_search(table, runs=1):
    """The chain as a compiled search. State: the path so far as a sum of token ids and a step counter, per
    beam (so a state that did not follow its beam shows); extra: the token the step read and the state."""
    lp = tf.constant(table)

    def step(last, state, t):
        total, count = state
        read = tf.cast(last, tf.float32)
        return tf.gather(lp, last), [total + read, count + 1.0], tf.stack([read, total, count], 1)
    return decoding.compile_search(step, [tf.TensorSpec([None], tf.float32)] * 2, len(table), runs=runs)


def markov_step(seed=0):
    """The compiled search of a random chain, its table, and its state."""
    table = markov_table(seed)
    return markov_search(table), table


STATE = [np.zeros(1, np.float32), np.zeros(1, np.float32)]


@pytest.mark.parametrize("width", [0, 21, 2.5])
def test_bad_beam_widths_and_prefixes_are_refused(width):
    step, _ = markov_step()
    with pytest.raises(SeqvizError, match="Beam width must be a whole number from 1 to 20"):
        decoding.beam_search(step, STATE, START, END, width=width, max_len=4)
    with pytest.raises(SeqvizError, match="Forced token 7 is not in the vocabulary of 5"):
        decoding.greedy(step, STATE, START, END, max_len=4, prefix=[1, 7])
    with pytest.raises(SeqvizError, match="Forced token -1"):
        decoding.greedy(step, STATE, START, END, max_len=4, prefix=[-1])
    with pytest.raises(SeqvizError, match="at most 2"):
        decoding.greedy(step, STATE, START, END, max_len=2, prefix=[1, 2, 3])
