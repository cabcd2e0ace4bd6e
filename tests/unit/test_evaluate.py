"""seqviz.evaluate without a model: the metrics against scikit-learn's on the same predictions, the confusion
matrix's rows summing to the gold counts, slices, the map's sample and projections, and the store's bounded
held-out rows (seqviz.heldout.keep)."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from seqviz import evaluate
from seqviz.heldout import keep


def _predictions(seed=0, n=400):
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d"]
    gold = [labels[i] for i in rng.integers(0, 3, n)]                  # "d" never gold: support 0
    pred = [g if rng.random() < 0.7 else labels[rng.integers(0, 4)] for g in gold]
    return labels, gold, pred


def test_metrics_equal_scikit_learns():
    labels, gold, pred = _predictions()
    s = evaluate.summary(gold, pred, labels)
    assert s["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    m = np.array(s["confusion"]["matrix"])
    np.testing.assert_array_equal(m, confusion_matrix(gold, pred, labels=labels))
    assert list(m.sum(1)) == [gold.count(k) for k in labels]          # rows: the gold counts
    p, r, f, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    rows = s["per_class"]
    np.testing.assert_allclose([x["precision"] for x in rows], p)
    np.testing.assert_allclose([x["recall"] for x in rows], r)
    np.testing.assert_allclose([x["f1"] for x in rows], f)
    assert [x["support"] for x in rows] == list(support)
    present = ["a", "b", "c"]                                          # macro F1 over the classes that occur
    assert s["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=present, average="macro", zero_division=0))


def test_slices_and_report():
    scored = evaluate.Scored("sentence", ["x"] * 5, ["a", "a", "b", "b", "b"], ["a", "b", "b", "b", "a"],
                             np.array([0.9, 0.6, 0.8, 0.7, 0.5]), ["a", "b"],
                             slices={"length": [evaluate.bucket(n, (5, 10), "words") for n in (3, 12, 7, 7, 4)]},
                             also={"argmax": ["a", "a", "a", "b", "b"]})
    r = evaluate.report(scored)
    assert r["overall"]["accuracy"] == pytest.approx(0.6) and r["also"]["argmax"]["accuracy"] == pytest.approx(0.8)
    assert [s["value"] for s in r["slices"]["length"]] == ["1-5 words", "6-10 words", "over 10 words"]
    assert [(s["n"], s["accuracy"], s["argmax_accuracy"]) for s in r["slices"]["length"]] == \
        [(2, 0.5, 1.0), (2, 1.0, 0.5), (1, 0.0, 1.0)]
    assert "inputs" in r and r["examples"][1] == {"input": 0, "shown": "x", "gold": "a", "pred": "b", "confidence": 0.6,
                                "correct": False, "length": "over 10 words", "argmax": "a"}


def test_the_map_keeps_every_error_and_projects_to_two_dimensions():
    wrong = np.zeros(10_000, bool)
    wrong[::97] = True
    keep_i = evaluate.map_sample(wrong, 500)
    assert len(keep_i) == 500 and set(np.flatnonzero(wrong)) <= set(keep_i) and list(keep_i) == sorted(keep_i)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(8, 1, (60, 8))])   # two clusters
    for method in ("pca", "tsne"):
        y = evaluate.project(x, method)
        assert y.shape == (120, 2)
        a, b = y[:60].mean(0), y[60:].mean(0)
        spread = np.linalg.norm(y[:60] - a, axis=1).mean()
        assert np.linalg.norm(a - b) > 3 * spread                                  # the clusters stay apart
    with pytest.raises(evaluate.SeqvizError, match="Unknown projection"):
        evaluate.project(x, "umap")


def test_kept_held_out_rows_fit_the_bound():
    texts = [f"sentence {i} " + "word " * (i % 50) for i in range(20_000)]
    kept = keep({"text": texts, "label": ["x"] * 20_000}, max_bytes=1_000_000)
    n = len(kept["text"])
    assert 0 < n < 20_000 and kept["text"].nbytes + kept["label"].nbytes <= 1_000_000
    assert list(kept["text"]) == texts[:n]
    assert len(keep({"text": ["a", "b"], "label": ["x", "y"]})["text"]) == 2


def test_compare_matches_rows_even_where_one_model_left_some_out():
    a = evaluate.Scored("s", ["x", "y", "z", "w"], ["p", "q", "p", "r"], ["p", "p", "q", "r"], np.ones(4), None)
    b = evaluate.Scored("s", ["x", "y", "z"], ["p", "q", "p"], ["q", "q", "q"], np.ones(3), None)   # no "w": left out
    c = evaluate.compare(a, b)
    assert c["b_pred"] == ["q", "q", "q", None] and c["n"] == 3
    assert c["a_only"] == [0] and c["b_only"] == [1] and c["both_wrong"] == 1
    assert c["b_accuracy"] == pytest.approx(1 / 3)
