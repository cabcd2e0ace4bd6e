"""The attention architecture: the layer's maths, save/load, the default model's learned behaviour.

The tests here need no model; those that train or load one are in tests/model/test_attention.py."""
import numpy as np
import pytest
import tensorflow as tf

from seqviz import attention
from seqviz.errors import SeqvizError


def test_attention_layer_matches_its_formula():
    layer = attention.Attention(4)
    x = tf.random.normal((2, 6, 5), seed=3)
    mask = tf.constant([[True] * 6, [True] * 3 + [False] * 3])
    context, weights = layer(x, mask=mask)
    W, b, u = layer.W.numpy(), layer.b.numpy(), layer.u.numpy()
    scores = np.tanh(x.numpy() @ W + b) @ u
    scores[1, 3:] = -np.inf
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(weights.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(context.numpy(), (x.numpy() * expected[..., None]).sum(1), atol=1e-5)


def test_toy_data_marks_the_cue_words_and_decoys_are_negated_other_classes():
    data = attention.make_toy(300, decoys=1.0, seed=5)
    for text, label, cues in zip(data.texts, data.labels, data.cues):
        words = text.split()
        assert len(words) == len(cues) and 1 <= sum(cues) <= 2
        assert all(w in attention.CUES[label] for w, c in zip(words, cues) if c)
        negated = [words[i + 1] for i, w in enumerate(words[:-1]) if w in attention.NEGATIONS]
        assert negated and all(n not in attention.CUES[label] for n in negated)


@pytest.mark.parametrize("csv, words", [
    (b"words,label\nhi,a\n", "missing text"),
    ("text,label\n" + "caf\xe9,a\n" * 20, "not UTF-8"),
    (b"text,label\n" + b"hello there,a\n" * 20, "single label"),
    (b"text,label\nhello,a\nbye,b\n", "at least 10"),
    (b"text,label\n" + b"!!!,a\n,b\n" * 20, "0 usable rows"),
    (b"", "empty"),
])
def test_csv_upload_is_validated(csv, words):
    raw = csv.encode("latin-1") if isinstance(csv, str) else csv
    with pytest.raises(SeqvizError, match=words):
        attention.read_upload(raw, "mine.csv")


def test_csv_upload_reads_texts_and_labels():
    rows = "".join(f'"text number {i}, with a comma",{"pos" if i % 2 else "neg"}\n' for i in range(12))
    data = attention.read_upload(("text,label\n" + rows + ",neg\n").encode(), "mine.csv")
    assert len(data.texts) == 12 and data.labels[:2] == ["neg", "pos"] and data.cues is None
    assert data.texts[0] == "text number 0, with a comma"


# ---------------------------------------------------------------------------------------------
# The seed score: the Stack Overflow user's own layer
# ---------------------------------------------------------------------------------------------
def test_seed_layer_attention_equals_its_formula_in_numpy():
    """eij = tanh(x·W + b_t); a = exp(eij) × mask; a /= Σa + ε; context = Σ x·a, from the layer's weights."""
    tf.keras.utils.set_random_seed(4)
    step_dim, d = 9, 6
    layer = attention.SeedAttention(step_dim, return_attention=True)
    layer.build((None, step_dim, d))
    layer.b.assign(tf.random.normal((step_dim,)))                       # not all-zero: the bias counts too
    for length in (1, 4, 9):
        x = tf.random.normal((3, step_dim, d))
        mask = tf.sequence_mask([length, max(1, length - 1), step_dim][:3], step_dim)
        context, a = layer(x, mask=mask)
        W, b, xs, m = layer.W.numpy(), layer.b.numpy(), x.numpy(), mask.numpy()
        e = np.exp(np.tanh(xs @ W + b)) * m
        want = e / (e.sum(axis=1, keepdims=True) + tf.keras.backend.epsilon())
        assert np.abs(a.numpy() - want).max() < 1e-5
        assert np.abs(context.numpy() - (xs * want[..., None]).sum(axis=1)).max() < 1e-5
        assert np.all(a.numpy()[~m] == 0)


def test_seed_layer_config_carries_the_original_options():
    layer = attention.SeedAttention(12, W_regularizer="l2", b_constraint="non_neg", bias=False,
                                    return_attention=True, name="seed")
    config = layer.get_config()
    assert {k: config[k] for k in ("step_dim", "bias", "return_attention")} == \
        {"step_dim": 12, "bias": False, "return_attention": True}
    clone = attention.SeedAttention.from_config(config)
    assert (clone.step_dim, clone.bias, clone.return_attention) == (12, False, True)
    assert isinstance(clone.W_regularizer, tf.keras.regularizers.L2)
    assert isinstance(clone.b_constraint, tf.keras.constraints.NonNeg)
    context = attention.SeedAttention(5)(tf.ones((2, 5, 3)))          # without return_attention: the context only
    assert context.shape == (2, 3)
