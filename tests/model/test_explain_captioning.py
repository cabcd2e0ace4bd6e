"""Explanations of the shipped captioner (seqviz.explain through captioning.explainable): for one word of one
head's greedy caption, the image as each branch reads it and the words read before it. Its score is the
teacher-forced probability `captioning.score` gives; occluding the image is the page's ablation; occluding a
word is scoring the caption with that word unknown."""
import numpy as np
import pytest

from seqviz import captioning, explain, store
from seqviz.errors import SeqvizError
from tests.model import explain_checks as checks


@pytest.fixture(scope="module")
def bundle():
    return store.load("captioning", "default")


@pytest.fixture(scope="module")
def sample(bundle):
    x = captioning.text_features(bundle, "sample 1")[0]
    return x, captioning.predict(bundle, "sample 1", beam=1)["greedy"]


def test_sanity_checks_on_both_heads(bundle):
    for text, target in (("sample 1", "1:1"), ("sample 1", "1:9"), ("three green stars at the top", "2:5")):
        sub = captioning.explainable(bundle, text, target)
        checks.completeness(sub)                 # 256 steps: the last word's path needs them (32 fell 43% short)
        checks.finite_differences(sub)


def test_the_units_the_score_and_occlusion_are_the_models_own(bundle, sample):
    x, (cap1, cap2) = sample
    assert cap1 == "there are two red circles on the left" and cap2 == "deux cercles rouges à gauche"
    ex = explain.of(bundle, "sample 1", "2:3")
    assert ex["units"] == ["image → branch 1", "image → branch 2", "2: <s>", "2: deux", "2: cercles",
                           "1: <s>", "1: there", "1: are"]
    assert ex["target"] == "P(caption 2 word 3 = rouges)"
    full = captioning.score(bundle, x, [cap1, cap2])
    assert ex["score"] == pytest.approx(full[1][2], abs=1e-5)
    occ = ex["importance"]["occlusion"]
    for branch in (1, 2):          # the image occluded for one branch = that branch's features zeroed
        ablated = captioning.score(bundle, x, [cap1, cap2], ablate=str(branch))
        assert occ[branch - 1] == pytest.approx(full[1][2] - ablated[1][2], abs=1e-5)
    unknown = "qqqunknownqqq"      # a word read as <unk>: head 2's "deux", then head 1's "there"
    for unit, caps in ((3, [cap1, cap2.replace("deux", unknown)]), (6, [cap1.replace("there", unknown), cap2])):
        assert occ[unit] == pytest.approx(full[1][2] - captioning.score(bundle, x, caps)[1][2], abs=1e-5)
    # the feature vector itself (an upload's row, a held-out image) explains alike
    assert explain.of(bundle, x, "2:3", ("occlusion",))["importance"]["occlusion"] == pytest.approx(occ, abs=1e-6)


def test_the_last_step_explains_the_end_and_bad_targets_are_refused(bundle):
    ex = explain.of(bundle, "sample 1", "1:9", ("occlusion",))
    assert ex["target"] == "P(caption 1 word 9 = </s>)" and len(ex["units"]) == 2 + 9 + 6
    # what ends the sentence is its last word: "left" matters more than anything else read
    occ = np.array(ex["importance"]["occlusion"])
    assert ex["units"][int(occ.argmax())] == "1: left"
    for bad in ("3:1", "1:10", "2:0", "one", "1"):
        with pytest.raises(SeqvizError, match="head 1 has words 1 to 9, head 2 has 1 to 6"):
            explain.of(bundle, "sample 1", bad)
    with pytest.raises(SeqvizError, match="one vector of 4096 features"):
        captioning.explainable(bundle, np.zeros(3, np.float32))


def test_explanations_of_a_randomised_captioner_differ_from_the_trained_ones(bundle, sample):
    """The model-randomisation check, the random captioner reading the trained one's captions."""
    x, captions = sample
    random = checks.random_twin(bundle, captioning, seed=3)
    targets = ("1:3", "1:5", "1:8", "2:2", "2:4", "2:5")
    checks.randomised([captioning.explainable(bundle, x, t, captions) for t in targets],
                      [captioning.explainable(random, x, t, captions) for t in targets])
