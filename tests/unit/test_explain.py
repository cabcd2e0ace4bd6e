"""seqviz.explain without a model: Kendall's τ-b against its definition, top-k overlap, plausibility, and the
methods on a score whose gradients are known (a linear one and a smooth one), so each method's maths is checked
exactly."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from seqviz import explain


def tau_by_definition(a, b):
    """τ-b straight from its definition: (concordant − discordant) / sqrt((n0 − ties in a)(n0 − ties in b))."""
    conc = disc = ties_a = ties_b = 0
    pairs = list(itertools.combinations(range(len(a)), 2))
    for i, j in pairs:
        x, y = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
        ties_a += x == 0
        ties_b += y == 0
        conc += x * y > 0
        disc += x * y < 0
    return (conc - disc) / np.sqrt((len(pairs) - ties_a) * (len(pairs) - ties_b))


def test_kendall_tau_is_tau_b():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(3, 15))
        a, b = rng.integers(0, 4, n).astype(float), rng.normal(size=n)    # ties in a
        if len(set(a)) > 1:
            assert explain.kendall_tau(a, b) == pytest.approx(tau_by_definition(a, b))
    assert explain.kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0
    assert explain.kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    assert explain.kendall_tau([1, 1, 1], [1, 2, 3]) == 0.0                # nothing to order


def test_top_k_overlap_and_plausibility():
    assert explain.top_k_overlap([0.1, 0.9, 0.3], [0.0, 2.0, 5.0], 1) == 0.0
    assert explain.top_k_overlap([0.1, 0.9, 0.3], [0.0, 2.0, 5.0], 2) == 1.0
    assert explain.plausibility([0.5, -1.0, 1.5], [False, False, True]) == pytest.approx(0.75)   # negatives: 0
    assert np.isnan(explain.plausibility([-1.0, 0.0], [True, False]))


def _subject(fn, emb, unk):
    """A Subject whose score is `fn(embeddings)` summed per input (no other inputs)."""
    score = tf.function(lambda e: fn(e))
    emb = np.asarray(emb, np.float32)
    return explain.Subject([[f"u{i}" for i in range(emb.shape[1])]], emb, np.asarray(unk, np.float32), score)


def test_methods_on_a_linear_score_are_exact():
    w = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], np.float32)        # (T, E)
    emb = np.array([[[1.0, 1.0], [2.0, 4.0], [-1.0, 2.0]]], np.float32)   # (1, T, E)
    unk = np.array([0.5, 0.5], np.float32)
    sub = _subject(lambda e: tf.reduce_sum(e * w, axis=[1, 2]), emb, unk)
    r = explain.explain(sub)
    per_unit = (emb[0] * w).sum(-1)                                        # [-1, 1, -1]
    np.testing.assert_allclose(r["importance"]["grad"], per_unit, atol=1e-6)
    np.testing.assert_allclose(r["importance"]["ig"], per_unit, atol=1e-6)     # linear: IG = gradient x input
    np.testing.assert_allclose(r["importance"]["gradl2"], np.linalg.norm(w, axis=-1), atol=1e-6)
    np.testing.assert_allclose(r["importance"]["occlusion"], per_unit - (unk * w).sum(-1), atol=1e-5)
    assert r["score"] == pytest.approx(per_unit.sum())
    assert r["ig_completeness"]["sum"] == pytest.approx(r["ig_completeness"]["expected"], abs=1e-5)
    assert set(r["agreement"]) == {"grad|gradl2", "grad|ig", "grad|occlusion", "gradl2|ig", "gradl2|occlusion",
                                   "ig|occlusion"}
    assert r["agreement"]["grad|ig"] == {"tau": pytest.approx(1.0), "top1": 1.0}


def test_integrated_gradients_are_complete_on_a_curved_score():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 4)).astype(np.float32)
    sub = _subject(lambda e: tf.sigmoid(tf.reduce_sum(tf.tanh(e * w), axis=[1, 2])), rng.normal(size=(1, 5, 4)),
                   np.zeros(4))
    r = explain.explain(sub, methods=("ig",))
    c = r["ig_completeness"]
    assert abs(c["sum"] - c["expected"]) <= 0.02 * abs(c["expected"]), c
    coarse = explain.integrated_gradients(sub, m=1)[0].sum()               # one step: only a rough estimate
    assert abs(c["sum"] - c["expected"]) < abs(coarse - c["expected"])


def test_faithfulness_on_a_model_that_reads_only_its_weights():
    """A 'model' whose output is the weight on position 0: shuffling moves it, uniform weights flatten it."""
    def probs_given(w):
        p0 = np.clip(w[:, 0], 0, 1)
        return np.stack([p0, 1 - p0], axis=-1)
    weights = np.array([[0.9, 0.1, 0.0], [0.8, 0.1, 0.1], [0.7, 0.3, 0.0]], np.float32)
    lengths = np.array([3, 3, 3])
    f = explain.faithfulness(probs_given, weights, lengths, np.zeros(3, int), permutations=50)
    assert f["accuracy"] == 1.0 and f["uniform_accuracy"] == 0.0 and f["n"] == 3
    assert f["permutation_tvd"] > 0.3 and 0 < f["permutation_flips"] < 1
    assert f["uniform_tvd"] == pytest.approx(0.8 - 1 / 3, abs=1e-6)


def test_occlusion_reads_a_per_unit_replacement_where_one_is_given():
    """Captioning occludes its image by zeros and its words by <unk>: unk (N, T, E), one per unit."""
    w = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], np.float32)
    emb = np.array([[[1.0, 1.0], [2.0, 4.0], [-1.0, 2.0]]], np.float32)
    unk = np.array([[[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]]], np.float32)
    sub = _subject(lambda e: tf.reduce_sum(e * w, axis=[1, 2]), emb, unk)
    np.testing.assert_allclose(explain.occlusion(sub)[0], ((emb[0] - unk[0]) * w).sum(-1), atol=1e-5)
    assert explain.explain(sub, ("occlusion",))["importance"]["occlusion"] == pytest.approx([-1.0, 0.5, -6.0])


def test_over_many_inputs_gives_each_pairs_distribution():
    """Two inputs of a linear score: gradient × input and integrated gradients agree exactly (τ 1 on each), the
    model's own weights (an extra) reversed against them (τ −1); an input of one unit is left out."""
    w = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], np.float32)
    emb = np.array([[[1.0, 0], [1.0, 0], [1.0, 0]], [[3.0, 0], [1.0, 0], [1.0, 0]]], np.float32)
    score = tf.function(lambda e: tf.reduce_sum(e * w, axis=[1, 2]))
    two = explain.Subject([["a", "b", "c"], ["d", "e", "f"]], emb, np.zeros(2, np.float32), score,
                          extras={"attention": -(emb[..., 0] * w[:, 0])})
    one = explain.Subject([["g"]], emb[:1], np.zeros(2, np.float32), score, extras={"attention": np.ones((1, 3))})
    r = explain.over([two, one], ("grad", "ig"))
    assert r["n"] == 2 and r["ig_steps"] == explain.IG_STEPS
    assert set(r["pairs"]) == {"grad|ig", "grad|attention", "ig|attention"}
    assert r["pairs"]["grad|ig"] == {"tau": pytest.approx(1.0), "tau_q1": pytest.approx(1.0),
                                     "tau_q3": pytest.approx(1.0), "top1": 1.0}
    assert r["pairs"]["ig|attention"]["tau"] == pytest.approx(-1.0) and r["pairs"]["ig|attention"]["top1"] == 0.0
