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


def _planted_cell(vocab: list[str], cue: str) -> tf.keras.layers.LSTMCell:
    """An LSTM cell over one-hot words whose unit 0 tracks `cue`: it forgets everything, always writes, and its
    candidate is +0.99 at the cue and -0.99 elsewhere, so h_0 = tanh(0.99) = 0.76 exactly at the cue's steps.
    Unit 1 has random weights."""
    cell = tf.keras.layers.LSTMCell(2)
    cell(tf.zeros((1, len(vocab))), [tf.zeros((1, 2)), tf.zeros((1, 2))])
    rng = np.random.default_rng(1)
    w, u = rng.normal(size=(len(vocab), 8)), rng.normal(size=(2, 8))
    b = rng.normal(size=8)
    w[:, [0, 2, 4, 6]] = 0.0                                  # unit 0's four columns (i, f, g, o): input-free...
    u[:, [0, 2, 4, 6]] = 0.0                                  # ...and state-free
    b[[0, 2, 4, 6]] = [10.0, -10.0, -2.5, 10.0]               # always write, always forget, candidate -, output on
    w[vocab.index(cue), 4] = 5.0                              # but the cue turns the candidate +
    cell.set_weights([w, u, b])
    return cell


def test_the_match_search_finds_every_sentence_with_a_planted_cue():
    vocab = ["the", "cat", "sat", "not", "on", "mat", "a", "dog"]
    rng = np.random.default_rng(0)
    sentences = [list(rng.choice(vocab, size=rng.integers(3, 9))) for _ in range(200)]
    cell = _planted_cell(vocab, "not")
    longest = max(map(len, sentences))
    x, mask = np.zeros((200, longest, len(vocab))), np.zeros((200, longest), bool)
    for i, s in enumerate(sentences):
        x[i, np.arange(len(s)), [vocab.index(w) for w in s]] = 1.0
        mask[i, :len(s)] = True
    h = states.run(cell, x, mask)["h"]                                                  # (200, T, 2)
    query = next(i for i, s in enumerate(sentences) if "not" in s and s.count("not") == 1)
    at = sentences[query].index("not")
    sel = states.span_units(h[query], at, at, threshold=0.5)
    assert 0 in sel["on"]
    m = states.matches(h, [0], 0.5, length=1, limit=10_000)
    cues = {(i, t) for i, s in enumerate(sentences) for t, w in enumerate(s) if w == "not"}
    found = {(f["row"], t) for f in m["found"] for t in range(f["lo"], f["hi"] + 1)}
    assert found == cues                                     # every cue found, nothing else
    assert m["rows"] == sum("not" in s for s in sentences)
    singles = [f for f in m["found"] if f["hi"] == f["lo"]]
    assert m["found"][:len(singles)] == singles               # a run as long as the span ranks first


def test_runs_are_maximal_and_in_row_order():
    on = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]], bool)
    assert states.runs(on).tolist() == [[0, 0, 1], [0, 3, 3], [2, 1, 3]]
    assert states.runs(np.zeros((2, 3), bool)).shape == (0, 3)
    assert states.matches(np.full((1, 2, 1), np.nan), [0], 0.0, 1) == {"n": 0, "rows": 0, "found": []}
