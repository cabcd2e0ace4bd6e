"""seqviz.states without a model: LSTMVis' span selection (units on over a span and off elsewhere, ranked by
contrast), and the LSTM step maths against a hand-computed step."""
import numpy as np
import pytest
import tensorflow as tf

from seqviz import states


def test_span_units_finds_the_units_on_only_over_the_span():
    a = np.array([[0.1, 0.9, 0.8, 0.0],
                  [0.2, 0.8, 0.9, 0.0],
                  [0.1, 0.1, 0.9, 0.7],
                  [np.nan, np.nan, np.nan, np.nan]])       # a masked step counts as neither
    sel = states.span_units(a, 0, 1, threshold=0.5)
    assert sel["on"] == [1]                                  # unit 2 is on at step 2 too; unit 0 never on
    assert sel["ranked"][0] == 1 and sel["contrast"][1] == pytest.approx(0.85 - 0.1)
    assert states.span_units(a, 0, 2, 0.5)["on"] == [2]


def test_one_step_is_keras_cell_maths():
    tf.keras.utils.set_random_seed(0)
    cell = tf.keras.layers.LSTMCell(3)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    cell(x[:1], [tf.zeros((1, 3)), tf.zeros((1, 3))])       # builds the weights
    got = states.run(cell, x, np.ones(2, bool), initial=(np.full(3, 0.1), np.full(3, -0.2)))
    h, c = tf.constant([[0.1] * 3]), tf.constant([[-0.2] * 3])
    for t in range(2):
        out, (h, c) = cell(x[t:t + 1], [h, c])
        np.testing.assert_allclose(got["h"][t], h.numpy()[0], atol=1e-6)
        np.testing.assert_allclose(got["c"][t], c.numpy()[0], atol=1e-6)
    assert set(got) == {"h", "c", *states.GATES} and ((got["forget"] > 0) & (got["forget"] < 1)).all()
