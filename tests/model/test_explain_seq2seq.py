"""Explanations of the shipped seq2seq models (seqviz.explain through seq2seq.explainable): the sanity checks in
every decoder mode, and the gradient alignment, output step x source token, of the attention model: on digits it
is diagonal, as the task is, and it agrees with the attention's own alignment."""
import numpy as np
import pytest

from seqviz import explain, seq2seq, store
from seqviz.errors import SeqvizError
from tests.model import explain_checks as checks


@pytest.fixture(scope="module")
def models():
    return {mode: store.load("seq2seq", f"default-{mode}") for mode in seq2seq.MODES}


@pytest.mark.parametrize("mode", seq2seq.MODES)
def test_sanity_checks_in_every_mode(models, mode):
    for step in ("1", "3"):
        sub = seq2seq.explainable(models[mode], "3 1 4 1 5", step)
        assert sub.units == [["3", "1", "4", "1", "5"]] and sub.embedded.shape[:2] == (1, 5)
        checks.completeness(sub)
        checks.finite_differences(sub)


def test_one_step_is_the_decode_token_and_its_probability(models):
    b = models["attention"]
    r = seq2seq.predict(b, "3 1 4 1 5 9", beam=3, exposure=False)
    ex = explain.of(b, "3 1 4 1 5 9", "2")
    assert ex["target"] == f"P(step 2 = {r['output'][1]})"
    assert ex["score"] == pytest.approx(r["steps"][1][r["output"][1]], abs=1e-4)     # the decode's own probability
    for bad in ("0", "99", "two"):
        with pytest.raises(SeqvizError, match="The step to explain is one of 1 to 7"):
            explain.of(b, "3 1 4 1 5 9", bad)


def test_the_gradient_alignment_of_digits_is_diagonal_and_agrees_with_the_attention(models):
    g = seq2seq.gradient_alignment(models["attention"], "3 1 4 1 5 9")
    a = np.array(g["alignment"])
    assert g["output"] == ["three", "one", "four", "one", "five", "nine", seq2seq.END] and a.shape == (7, 6)
    assert list(a[:6].argmax(1)) == list(range(6))              # each word rests most on its own digit
    assert np.median(g["tau"]) > 0.3 and len(g["tau"]) == 7
    att = np.array(g["attention"])
    assert (att[:6].argmax(1) == a[:6].argmax(1)).mean() >= 5 / 6
    basic = seq2seq.gradient_alignment(models["basic"], "3 1 4 1 5 9")
    assert basic["attention"] is None and basic["tau"] is None and np.array(basic["alignment"]).shape[1] == 6


@pytest.mark.parametrize("mode", ["basic", "attention"])
def test_occlusion_equals_the_models_own_forward_pass_with_the_token_unknown(models, mode):
    """Every output step's leave-one-out of every source token = P(step's token) from the Keras model itself on
    the decode's tokens, minus the same with that source token read as <unk>."""
    b = models[mode]
    sub = seq2seq.explainable(b, "3 1 4 1 5 9", None)                   # every step: one input per step
    occ = explain.occlusion(sub)                                         # (steps, S)
    src, prev, steps, tokens = sub.args[0][:1], sub.args[1][:1], sub.args[2], sub.args[3]

    def probs(s):                                                        # (T, V): the model's whole forward pass
        x = np.zeros((1, b.model.inputs[0].shape[1]), np.int32)
        x[0, :s.shape[1]] = s
        out = b.model([x, prev], training=False)
        return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)[0]
    full = probs(src)[steps, tokens]
    for t in range(src.shape[1]):
        unknown = src.copy()
        unknown[0, t] = b.vocabs["source"].unk_id
        np.testing.assert_allclose(occ[:, t], full - probs(unknown)[steps, tokens], atol=1e-5)


def test_explanations_of_a_randomised_model_differ_from_the_trained_ones(models):
    """The model-randomisation check, the random model explaining the trained one's decode step by step."""
    b = models["attention"]
    random = checks.random_twin(b, seq2seq)
    texts = ["3 1 4 1 5 9", "2 7 1 8 2 8", "1 6 1 8 0 3 3"]
    decodes = [seq2seq.predict(b, t, beam=3, exposure=False) for t in texts]
    checks.randomised([seq2seq.explainable(b, t, None, 3, r) for t, r in zip(texts, decodes)],
                      [seq2seq.explainable(random, t, None, 3, r) for t, r in zip(texts, decodes)])
