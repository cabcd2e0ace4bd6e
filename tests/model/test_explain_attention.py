"""Explanations of the shipped attention classifiers (seqviz.explain through attention.explainable): the sanity
checks (completeness, finite differences, occlusion = re-predictions, model randomisation) and what the two
shipped models show: `default`'s attention is on the cue words and moves the output, `default-seed`'s is not and
does not, while leave-one-out finds the cues in both."""
import json

import pytest

from seqviz import attention, explain, store
from seqviz.errors import SeqvizError
from tests.model import explain_checks as checks


@pytest.fixture(scope="module")
def models():
    return {name: store.load("attention", name) for name in ("default", "default-seed")}


@pytest.fixture(scope="module")
def heldout(models):
    return {name: attention.explain_heldout(b, n=200) for name, b in models.items()}


SENTENCES = [attention.EXAMPLE, "my friend said the pasta was good", "no rain today but the team won the match"]


@pytest.mark.parametrize("name", ["default", "default-seed"])
def test_integrated_gradients_add_up_and_gradients_match_finite_differences(models, name):
    for text in SENTENCES:
        sub = attention.explainable(models[name], text)
        checks.completeness(sub)
        checks.finite_differences(sub)


def test_occlusion_equals_predicting_again_with_the_word_unknown(models):
    b = models["default"]
    r = attention.predict(b, attention.EXAMPLE)
    drop = explain.occlusion(attention.explainable(b, attention.EXAMPLE))[0]
    for t in range(len(r["tokens"])):
        words = list(r["tokens"])
        words[t] = "qqqunknownqqq"                            # not in the vocabulary: read as <unk>
        again = attention.predict(b, " ".join(words))
        assert drop[t] == pytest.approx(r["probs"][r["label"]] - again["probs"][r["label"]], abs=1e-5)


def test_explanations_of_a_randomised_model_differ_from_the_trained_ones(models):
    """Adebayo et al.'s model-randomisation check: the same architecture with fresh random weights explains
    the same sentences differently (a method that only reflected the input would not change)."""
    b = models["default"]
    texts = attention.make_toy(40, 0.7, seed=5).texts
    labels = [attention.predict(b, t)["label"] for t in texts]
    checks.randomised([attention.explainable(b, texts, labels)],
                      [attention.explainable(checks.random_twin(b, attention), texts, labels)])


def test_default_attention_is_on_the_cues_and_moves_the_output_the_seed_layers_does_neither(heldout):
    d, s = heldout["default"], heldout["default-seed"]
    assert d["n"] == s["n"] == 200
    # plausibility: attention's mass on the true cue words; leave-one-out finds them in both models
    assert d["methods"]["attention"]["plausibility"] >= 0.9 and s["methods"]["attention"]["plausibility"] <= 0.4
    for m in (d, s):
        assert m["methods"]["occlusion"]["plausibility"] >= 0.6 and m["methods"]["ig"]["plausibility"] >= 0.6
    # τ with attention: some agreement for default, none for the seed layer
    assert d["methods"]["ig"]["tau"] > s["methods"]["ig"]["tau"] + 0.15
    # faithfulness: shuffling default's weights changes its output, the seed layer's barely; uniform weights cost
    # default accuracy and the seed layer none
    fd, fs = d["faithfulness"], s["faithfulness"]
    assert fd["permutation_tvd"] > 0.05 > 10 * fs["permutation_tvd"]
    assert fd["uniform_accuracy"] < fd["accuracy"] - 0.05 and fs["uniform_accuracy"] >= fs["accuracy"] - 0.02


def test_explanations_refuse_what_they_cannot_explain(models):
    b = models["default"]
    with pytest.raises(SeqvizError, match="not one of the model's classes"):
        attention.explainable(b, attention.EXAMPLE, "cooking")
    with pytest.raises(SeqvizError, match="text is empty"):
        attention.explainable(b, "  ")
    upload = store.Bundle(b.arch, "mine", b.params, b.model, b.vocabs, {}, {"source": "upload"})
    with pytest.raises(SeqvizError, match="trained on your file"):
        attention.explain_heldout(upload)


def test_cli_explains_one_text_and_the_held_out_set_and_refuses_in_one_line(capsys):
    from seqviz import cli
    assert cli.main(["explain", "attention", "--text", "no pizza but the concert", "--method", "occlusion"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["units"] == ["no", "pizza", "but", "the", "concert"] and r["target"] == "P(music)"
    assert list(r["importance"]) == ["occlusion"] and len(r["importance"]["occlusion"]) == 5
    assert max(range(5), key=r["importance"]["occlusion"].__getitem__) in (0, 4)   # "no" or "concert" decide
    assert cli.main(["explain", "attention", "--text", "the pizza", "--target", "food", "--model", "default-seed"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["target"] == "P(food)" and set(r["importance"]) == set(explain.METHODS)
    assert set(r["agreement"]) >= {"ig|attention", "occlusion|attention"}
    for argv, said in ((["--text", "the pizza", "--target", "cooking"], "not one of the model's classes"),
                       (["--heldout", "--text", "x"], "leave out --text"),
                       ([], "needs --text TEXT or --file FILE"),
                       (["--model", "nope", "--text", "x"], "No attention model named 'nope'")):
        assert cli.main(["explain", "attention", *argv]) == 2
        assert said in capsys.readouterr().err
