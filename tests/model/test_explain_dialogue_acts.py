"""Explanations of the shipped dialogue-acts model (seqviz.explain through dialogue_acts.explainable): the
sanity checks, the target's log-odds equal to the numpy CRF's marginal, word occlusion equal to predicting
again, and the context view: the same "yeah" is a backchannel after a statement because of that statement."""
import numpy as np
import pytest

from seqviz import dialogue_acts as da
from seqviz import explain, store
from seqviz.errors import SeqvizError
from tests.model import explain_checks as checks


@pytest.fixture(scope="module")
def bundle():
    return store.load("dialogue-acts", "default")


def log_odds(r, u, tag):
    p = np.array(r["marginals"])[u, r["labels"].index(tag)]
    return np.log(p) - np.log1p(-p)


def test_sanity_checks_and_the_score_is_the_crfs_own(bundle):
    r = da.predict(bundle, da.EXAMPLE)
    for target in (None, "4", "6:statement"):
        sub = da.explainable(bundle, da.EXAMPLE, target)
        checks.completeness(sub)
        checks.finite_differences(sub)
        u, tag = da._pick(r, target)
        assert explain.value(sub)[0] == pytest.approx(log_odds(r, u, tag), abs=2e-3)


def test_the_default_target_is_the_first_overrule_and_occlusion_equals_predicting_again(bundle):
    r = da.predict(bundle, da.EXAMPLE)
    u = next(i for i, (a, b) in enumerate(zip(r["tags"], r["greedy_tags"])) if a != b)
    ex = explain.of(bundle, da.EXAMPLE)
    assert ex["target"] == f"log-odds of P(utterance {u + 1} = {r['tags'][u]})"
    lines = da.EXAMPLE.splitlines()
    speaker, words = lines[u].split(": ", 1)
    for t, word in enumerate(words.split()):
        again = list(lines)
        again[u] = speaker + ": " + " ".join("qqqunknownqqq" if i == t else w for i, w in enumerate(words.split()))
        want = log_odds(r, u, r["tags"][u]) - log_odds(da.predict(bundle, "\n".join(again)), u, r["tags"][u])
        assert ex["importance"]["occlusion"][t] == pytest.approx(want, abs=2e-3), word
    for bad, said in (("0", "one of 1 to 12"), ("3:nonsense", "not one of the model's tags")):
        with pytest.raises(SeqvizError, match=said):
            explain.of(bundle, da.EXAMPLE, bad)


def test_the_same_yeah_is_a_backchannel_because_of_the_statement_before_it(bundle):
    r = da.predict(bundle, da.EXAMPLE)
    assert r["utterances"][3] == r["utterances"][5] == "yeah"
    assert r["tags"][2:6] == ["yn_question", "yes_answer", "statement", "backchannel"]
    c = da.context_importance(bundle, da.EXAMPLE, "6")
    assert c["utterance"] == 5 and c["tag"] == "backchannel"
    others = [d for i, d in enumerate(c["drop"]) if i not in (4, 5)]
    assert int(np.argmax(c["drop"])) == 4 and c["drop"][4] > 5 > max(others)    # the statement decides it


def test_explanations_of_a_randomised_model_differ_from_the_trained_ones(bundle):
    """The model-randomisation check, for the trained model's Viterbi tag of each utterance."""
    random = checks.random_twin(bundle, da)
    cases = da.heldout_cases(bundle, 24)
    tags = [da.predict(bundle, text)["tags"][int(u) - 1] for text, u in cases]
    checks.randomised([da.explainable(bundle, text, u) for text, u in cases],
                      [da.explainable(random, text, f"{u}:{tag}") for (text, u), tag in zip(cases, tags)])
