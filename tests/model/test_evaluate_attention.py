"""The attention classifier's held-out set scored example by example (seqviz.evaluate through attention's
heldout_data and score_examples): the stored metrics reproduced, a labelled file scored with its unseen labels left
out in one sentence, a model of your file keeping its held-out rows, and the CLI."""
import json

import numpy as np
import pytest

from seqviz import attention, cli, evaluate, store, training
from seqviz.errors import SeqvizError


@pytest.mark.parametrize("name", ["default", "default-seed"])
def test_the_stored_accuracy_is_reproduced_example_by_example(name):
    b = store.load("attention", name)
    scored = evaluate.score(b)
    r = evaluate.report(scored)
    assert r["overall"]["n"] == b.metrics["n_val"] and r["overall"]["accuracy"] == b.metrics["val_accuracy"]
    assert scored.vectors.shape == (b.metrics["n_val"], 2 * b.params["units"])
    one = r["examples"][0]
    again = attention.predict(b, one["input"])
    assert one["pred"] == again["label"] and one["confidence"] == pytest.approx(again["probs"][again["label"]],
                                                                                 abs=1e-5)
    assert {s["value"] for s in r["slices"]["negation"]} == {"with a negation", "without"}
    assert sum(s["n"] for s in r["slices"]["length"]) == r["overall"]["n"]


def test_a_labelled_file_is_scored_and_labels_it_never_saw_are_left_out_in_one_sentence(tmp_path, capsys):
    toy = attention.make_toy(30, seed=9)
    rows = [f"{t},{label}" for t, label in zip(toy.texts, toy.labels)] + ["the pasta was great,cooking"] * 3
    path = tmp_path / "mine.csv"
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    assert cli.main(["evaluate", "attention", "--data", str(path), "--no-examples"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["overall"]["n"] == 30 and "examples" not in r
    assert r["notes"] == ["3 row(s) have labels the model has never seen ('cooking'): left out, the rest scored."]
    assert sum(map(sum, r["overall"]["confusion"]["matrix"])) == 30
    only = tmp_path / "only.csv"
    only.write_text("text,label\n" + "\n".join([f"word {i} here,cooking" if i % 2 else f"w {i},baking"
                                                 for i in range(12)]) + "\n")
    assert cli.main(["evaluate", "attention", "--data", str(only)]) == 2
    assert "None of the rows has a label the model knows" in capsys.readouterr().err


def test_a_model_of_your_file_keeps_its_held_out_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVIZ_MODELS", str(tmp_path / "models"))
    toy = attention.make_toy(200, seed=4)
    csv = ("text,label\n" + "\n".join(f"{t},{label}" for t, label in zip(toy.texts, toy.labels)) + "\n").encode()
    training.train(training.plan("attention", {"epochs": 1, "units": 8}, csv, "mine.csv", "mine"))
    b = store.load("attention", "mine")
    data = attention.heldout_data(b)
    assert len(data.texts) == b.metrics["n_val"] == 30 and set(data.texts) <= set(toy.texts)
    r = evaluate.run(b)
    assert r["overall"]["n"] == 30 and r["overall"]["accuracy"] == pytest.approx(b.metrics["val_accuracy"])
    old = store.Bundle(b.arch, "old", b.params, b.model, b.vocabs, b.metrics, b.data, heldout=None)
    with pytest.raises(SeqvizError, match="keeps no held-out rows"):
        attention.heldout_data(old)
    assert np.isfinite(evaluate.project(evaluate.score(b).vectors, "pca")).all()
