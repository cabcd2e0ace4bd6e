"""Explanations of the shipped language model: which prompt words drive P(next word) (seqviz.explain through
lm.explainable), checked like every architecture's, and occlusion equal to predicting again."""
import pytest

from seqviz import explain, lm, store
from seqviz.errors import SeqvizError
from tests.model import explain_checks as checks


@pytest.fixture(scope="module")
def bundle():
    return store.load("lm", "default")


PROMPTS = [lm.EXAMPLE, "the value of the list is", "if the file name is not found return"]


def test_sanity_checks(bundle):
    for text in PROMPTS:
        sub = lm.explainable(bundle, text)
        checks.completeness(sub)
        checks.finite_differences(sub)


def test_the_target_is_the_likeliest_next_word_and_occlusion_equals_predicting_again(bundle):
    text = "the value of the list is"
    r = lm.predict(bundle, text, n_words=1, temperature=0)
    top = next(w for w in r["next_word"] if w not in lm.SPECIALS)
    ex = explain.of(bundle, text)
    assert ex["target"] == f"P(next = {top})" and ex["score"] == pytest.approx(r["next_word"][top], abs=1e-6)
    assert ex["units"] == r["prompt"]
    for t in range(len(r["prompt"])):
        words = list(r["prompt"])
        words[t] = "qqqunknownqqq"                          # not in the vocabulary: read as <unk>
        again = lm.predict(bundle, " ".join(words), n_words=1, n_next=len(bundle.vocabs["words"]))
        assert ex["importance"]["occlusion"][t] == pytest.approx(r["next_word"][top] - again["next_word"][top],
                                                                 abs=1e-5)
    other = explain.of(bundle, text, "file", methods=("ig",))
    assert other["target"] == "P(next = file)" and list(other["importance"]) == ["ig"]
    with pytest.raises(SeqvizError, match="not a word of the model's vocabulary"):
        explain.of(bundle, text, "qqqunknownqqq")
    with pytest.raises(SeqvizError, match="Unknown explanation method"):
        explain.of(bundle, text, None, ("bogus",))


def test_explanations_of_a_randomised_model_differ_from_the_trained_ones(bundle):
    """The model-randomisation check, for the trained model's next word of each prompt."""
    random = checks.random_twin(bundle, lm)
    prompts = [p for p, _ in lm.heldout_cases(bundle, 20)]
    trained = [lm.explainable(bundle, p) for p in prompts]
    words = [bundle.vocabs["words"].tokens[int(s.args[0][0])] for s in trained]      # each one's target word
    checks.randomised(trained, [lm.explainable(random, p, w) for p, w in zip(prompts, words)])
