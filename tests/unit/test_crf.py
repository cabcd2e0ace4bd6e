"""seqviz.crf: numpy CRF inference against brute force over all K^T paths, tensorflow-addons and tf2crf."""
import itertools

import numpy as np
import pytest

from seqviz import crf
from seqviz.errors import SeqvizError

SHAPES = [(t, k) for t in range(1, 6) for k in range(2, 5)]
SEEDS = range(4)


def _lattice(seed, t_len, k, boundary=False):
    rng = np.random.default_rng(seed)
    em = rng.normal(scale=2.0, size=(t_len, k))
    tr = rng.normal(scale=2.0, size=(k, k))
    if not boundary:
        return em, tr, None, None
    return em, tr, rng.normal(size=k), rng.normal(size=k)


def _all_paths(t_len, k):
    return [list(p) for p in itertools.product(range(k), repeat=t_len)]


def _brute(em, tr, start=None, end=None, pins=None):
    """Every path allowed by the pins with its score, the best one, log Z, and the marginals."""
    t_len, k = em.shape
    paths = [p for p in _all_paths(t_len, k) if all(p[i] == tag for i, tag in (pins or {}).items())]
    scores = np.array([crf.path_score(em, tr, p, start, end) for p in paths])
    best = int(np.argmax(scores))
    log_z = np.logaddexp.reduce(scores)
    marg = np.zeros((t_len, k))
    for p, s in zip(paths, scores):
        marg[np.arange(t_len), p] += np.exp(s - log_z)
    return paths[best], scores[best], log_z, marg


def _random_batch(seed, batch, max_len, k):
    """float32 emissions padded with noise beyond each length (so padding that leaked in would show)."""
    rng = np.random.default_rng(seed)
    em = rng.normal(scale=2.0, size=(batch, max_len, k)).astype(np.float32)
    tr = rng.normal(size=(k, k)).astype(np.float32)
    lengths = rng.integers(1, max_len + 1, size=batch).astype(np.int32)
    lengths[0] = max_len
    lengths[-1] = 1
    return em, tr, lengths


# ---------------------------------------------------------------------------------------------
# Path score by hand.
# ---------------------------------------------------------------------------------------------


def test_path_score_adds_emissions_transitions_and_boundaries():
    em = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    tr = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert crf.path_score(em, tr, [0, 1, 1]) == pytest.approx(1 + 4 + 6 + 0.2 + 0.4)
    assert crf.path_score(em, tr, [1, 0, 1], start=[10.0, 20.0], end=[100.0, 200.0]) == pytest.approx(
        20 + 2 + 3 + 6 + 0.3 + 0.2 + 200
    )
    assert crf.path_score(em[:1], tr, [1]) == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# Viterbi.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", [False, True])
def test_viterbi_equals_brute_force_on_small_lattices(boundary):
    for (t_len, k), seed in itertools.product(SHAPES, SEEDS):
        em, tr, st, en = _lattice(seed, t_len, k, boundary)
        best_path, best_score, _, _ = _brute(em, tr, st, en)
        v = crf.viterbi(em, tr, st, en)
        assert v.path == best_path, (t_len, k, seed)
        assert v.score == pytest.approx(best_score, abs=1e-9)
        assert v.backpointers.shape == (t_len, k) and v.cumulative.shape == (t_len, k)
        assert np.all(v.backpointers[0] == -1)
        assert v.cumulative[-1].max() == pytest.approx(v.score, abs=1e-12)
        # following the backpointers from the best last tag gives the path back
        tag, back = int(np.argmax(v.cumulative[-1])), []
        for t in range(t_len - 1, -1, -1):
            back.append(tag)
            tag = int(v.backpointers[t, tag])
        assert back[::-1] == v.path
        # cumulative[t, k] is the best score of any prefix ending in k at t (checked on the middle step)
        t_mid = t_len // 2
        for tag in range(k):
            prefixes = [p for p in _all_paths(t_mid + 1, k) if p[-1] == tag]
            best_prefix = max(crf.path_score(em[: t_mid + 1], tr, p, st, en if t_mid == t_len - 1 else None)
                              for p in prefixes)
            assert v.cumulative[t_mid, tag] == pytest.approx(best_prefix, abs=1e-9)


def test_viterbi_equals_tfa_crf_decode_on_random_batches():
    import tensorflow_addons as tfa

    for seed, (batch, max_len, k) in enumerate([(6, 7, 4), (5, 1, 3), (8, 12, 5), (4, 2, 2)]):
        em, tr, lengths = _random_batch(seed, batch, max_len, k)
        tags, scores = tfa.text.crf_decode(em, tr, lengths)
        tags, scores = tags.numpy(), scores.numpy()
        for b in range(batch):
            n = lengths[b]
            v = crf.viterbi(em[b, :n], tr)
            assert v.path == tags[b, :n].tolist(), (seed, b, n)
            assert v.score == pytest.approx(float(scores[b]), rel=1e-5, abs=1e-4)


def test_viterbi_checks_shapes():
    with pytest.raises(ValueError, match="emissions"):
        crf.viterbi(np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="emissions"):
        crf.viterbi(np.zeros((0, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="transitions"):
        crf.viterbi(np.zeros((4, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="start"):
        crf.viterbi(np.zeros((4, 3)), np.zeros((3, 3)), start=np.zeros(2))
    with pytest.raises(ValueError, match="path"):
        crf.path_score(np.zeros((4, 3)), np.zeros((3, 3)), [0, 1])


# ---------------------------------------------------------------------------------------------
# Forward-backward: marginals, log Z, log-likelihood.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", [False, True])
def test_marginals_and_log_partition_equal_brute_force(boundary):
    for (t_len, k), seed in itertools.product(SHAPES, SEEDS):
        em, tr, st, en = _lattice(seed, t_len, k, boundary)
        _, _, log_z, marg = _brute(em, tr, st, en)
        m = crf.marginals(em, tr, st, en)
        assert m.shape == (t_len, k)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(m, marg, atol=1e-12)
        assert crf.log_partition(em, tr, st, en) == pytest.approx(log_z, abs=1e-9)
        path = [seed % k] * t_len
        assert crf.log_likelihood(em, tr, path, st, en) == pytest.approx(
            crf.path_score(em, tr, path, st, en) - log_z, abs=1e-9
        )


def test_log_partition_is_stable_for_large_scores():
    em = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    tr = np.zeros((2, 2))
    assert crf.log_partition(em, tr) == pytest.approx(np.log(4.0), abs=1e-9)
    np.testing.assert_allclose(crf.marginals(em, tr), 0.5)


def test_log_partition_and_log_likelihood_equal_tfa_on_random_batches():
    import tensorflow_addons as tfa

    for seed, (batch, max_len, k) in enumerate([(6, 7, 4), (5, 1, 3), (8, 10, 5)]):
        em, tr, lengths = _random_batch(100 + seed, batch, max_len, k)
        rng = np.random.default_rng(seed)
        gold = rng.integers(0, k, size=(batch, max_len)).astype(np.int32)
        ll, _ = tfa.text.crf_log_likelihood(em, gold, lengths, tr)
        log_norm = tfa.text.crf_log_norm(em, lengths, tr).numpy()
        for b in range(batch):
            n = lengths[b]
            assert crf.log_partition(em[b, :n], tr) == pytest.approx(float(log_norm[b]), rel=1e-5, abs=1e-4)
            assert crf.log_likelihood(em[b, :n], tr, gold[b, :n]) == pytest.approx(
                float(ll.numpy()[b]), rel=1e-5, abs=1e-4
            )


# ---------------------------------------------------------------------------------------------
# Constrained Viterbi.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", [False, True])
def test_constrained_viterbi_honours_pins_and_equals_brute_force(boundary):
    for (t_len, k), seed in itertools.product(SHAPES, SEEDS):
        em, tr, st, en = _lattice(seed, t_len, k, boundary)
        free = crf.viterbi(em, tr, st, en)
        rng = np.random.default_rng(1000 + seed)
        n_pins = int(rng.integers(1, t_len + 1))
        positions = rng.choice(t_len, size=n_pins, replace=False)
        pins = {int(p): int(rng.integers(0, k)) for p in positions}

        v = crf.constrained_viterbi(em, tr, pins, st, en)
        assert all(v.path[i] == tag for i, tag in pins.items())
        assert v.score == pytest.approx(crf.path_score(em, tr, v.path, st, en), abs=1e-9)
        assert free.score - v.score >= -1e-12                       # pinning never helps
        best_path, best_score, _, _ = _brute(em, tr, st, en, pins=pins)
        assert v.path == best_path and v.score == pytest.approx(best_score, abs=1e-9)

        # pinning a position to the tag it already has on the free best path changes nothing
        t_pin = int(rng.integers(0, t_len))
        same = crf.constrained_viterbi(em, tr, {t_pin: free.path[t_pin]}, st, en)
        assert same.path == free.path and same.score == free.score
        # the cost of pinning position t to tag k is free score - pinned score, never negative
        costs = [free.score - crf.constrained_viterbi(em, tr, {t_pin: tag}, st, en).score for tag in range(k)]
        assert min(costs) == pytest.approx(0.0, abs=1e-12) and all(c >= -1e-12 for c in costs)
        assert costs[free.path[t_pin]] == 0.0


def test_constrained_viterbi_equals_tfa_crf_constrained_decode():
    import tensorflow_addons as tfa

    em, tr, lengths = _random_batch(7, 6, 8, 4)
    rng = np.random.default_rng(7)
    bitmap = np.ones(em.shape, dtype=bool)
    all_pins = []
    for b in range(len(em)):
        pins = {int(p): int(rng.integers(0, 4)) for p in rng.choice(lengths[b], size=min(2, lengths[b]), replace=False)}
        for p, tag in pins.items():
            bitmap[b, p] = False
            bitmap[b, p, tag] = True
        all_pins.append(pins)
    tags, scores = tfa.text.crf_constrained_decode(em, bitmap, tr, lengths)
    for b, pins in enumerate(all_pins):
        n = lengths[b]
        v = crf.constrained_viterbi(em[b, :n], tr, pins)
        assert v.path == tags.numpy()[b, :n].tolist()
        assert v.score == pytest.approx(float(scores.numpy()[b]), rel=1e-5, abs=1e-4)


def test_constrained_viterbi_rejects_bad_pins_with_a_sentence():
    em, tr, _, _ = _lattice(0, 4, 3)
    with pytest.raises(SeqvizError, match=r"position 4: the sequence has 4 steps.*0 to 3"):
        crf.constrained_viterbi(em, tr, {4: 0})
    with pytest.raises(SeqvizError, match=r"position -1"):
        crf.constrained_viterbi(em, tr, {-1: 0})
    with pytest.raises(SeqvizError, match=r"to tag 3: there are 3 tags.*0 to 2"):
        crf.constrained_viterbi(em, tr, {1: 3})
    with pytest.raises(SeqvizError, match=r"whole-number"):
        crf.constrained_viterbi(em, tr, {1.5: 0})
    # numpy integers are fine, and no pins is the free decode
    assert crf.constrained_viterbi(em, tr, {np.int64(1): np.int32(2)}).path[1] == 2
    assert crf.constrained_viterbi(em, tr, {}).path == crf.viterbi(em, tr).path


# ---------------------------------------------------------------------------------------------
# tf2crf itself: its layer's decode and its model's loss are the numpy ones (no boundary scores).
# ---------------------------------------------------------------------------------------------


def test_numpy_matches_a_tf2crf_layer_decode_and_loss_with_masking():
    import tensorflow as tf
    from tf2crf import CRF, ModelWithCRFLoss

    k, batch, max_len = 4, 5, 6
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input(shape=(None, k))
    masked = tf.keras.layers.Masking(mask_value=0.0)(inp)
    layer = CRF(dtype="float32")
    base = tf.keras.Model(inp, layer(masked))
    model = ModelWithCRFLoss(base)
    # the layer's only weight is the (K, K) transition matrix: no start/end scores to carry over
    assert [w.shape.as_list() for w in layer.weights] == [[k, k]]
    # give it a non-symmetric transition matrix so a transposed convention would show
    tr = np.random.default_rng(3).normal(scale=2.0, size=(k, k)).astype(np.float32)
    layer.transitions.assign(tr)

    rng = np.random.default_rng(3)
    x = rng.normal(scale=2.0, size=(batch, max_len, k)).astype(np.float32)
    lengths = np.array([6, 1, 3, 5, 2])
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0                                              # padding, masked out
    y = rng.integers(0, k, size=(batch, max_len)).astype(np.int32)

    decoded, potentials, seq_lengths, transitions = base(x)
    np.testing.assert_array_equal(seq_lengths.numpy(), lengths)
    np.testing.assert_array_equal(transitions.numpy(), tr)
    for b, n in enumerate(lengths):
        assert crf.viterbi(x[b, :n], tr).path == decoded.numpy()[b, :n].tolist()

    _, _, loss = model.compute_loss(x, y, training=True)             # what its train_step/test_step call
    expected = -np.mean([crf.log_likelihood(x[b, :n], tr, y[b, :n]) for b, n in enumerate(lengths)])
    assert float(loss) == pytest.approx(expected, rel=1e-5, abs=1e-4)
