"""The dialogue-acts held-out set scored utterance by utterance (seqviz.evaluate through dialogue_acts'
heldout_data and score_examples): the stored Viterbi and argmax accuracies reproduced, the CRF's gain per tag and
on the ambiguous replies, a Switchboard-shaped file scored (its unseen tags left out in one sentence), and a model
of your file keeping its held-out dialogues."""
import json

import numpy as np
import pytest

from seqviz import cli, dialogue_acts as da, evaluate, store, training
from tests.model.test_dialogue_acts import TINY, _swda_like_csv


def test_the_stored_accuracies_are_reproduced_and_the_crf_gains_on_the_ambiguous_replies():
    b = store.load("dialogue-acts", "default")
    scored = evaluate.score(b)
    r = evaluate.report(scored)
    assert r["overall"]["accuracy"] == b.metrics["val_accuracy"]
    assert r["also"]["per-utterance argmax"]["accuracy"] == pytest.approx(b.metrics["val_greedy_accuracy"])
    reply = {x["value"]: x for x in r["slices"]["reply"]}
    assert reply["ambiguous reply"]["n"] == b.metrics["n_val_ambiguous"]
    assert reply["ambiguous reply"]["per-utterance argmax_accuracy"] == \
        pytest.approx(b.metrics["val_ambiguous_greedy_accuracy"])
    # per tag, the CRF's F1 against the argmax's: a tag an ambiguous reply ("yeah", "okay", "right") takes gains most
    crf_f1 = {c["label"]: c["f1"] for c in r["overall"]["per_class"]}
    arg_f1 = {c["label"]: c["f1"] for c in r["also"]["per-utterance argmax"]["per_class"]}
    gain = max(crf_f1, key=lambda k: crf_f1[k] - arg_f1[k])
    assert gain in ("backchannel", "yes_answer", "no_answer") and crf_f1[gain] - arg_f1[gain] > 0.2
    # every utterance once, opening its dialogue; the state of the dialogue BiLSTM as its vector
    assert len(r["inputs"]) == b.metrics["n_val_dialogues"] and r["overall"]["n"] == len(scored.gold)
    first = r["examples"][0]
    assert evaluate.input_of(r, first).splitlines()[0] == first["shown"] and first["turn"] == 1
    assert scored.vectors.shape == (len(scored.gold), 2 * b.params["context_units"])
    again = da.predict(b, evaluate.input_of(r, first))
    assert again["tags"][0] == first["pred"]


def test_a_switchboard_shaped_file_is_scored_and_unseen_tags_are_named(tmp_path, capsys):
    lines = _swda_like_csv().decode().splitlines()
    lines += ["convX,uh-huh,acknowledge,A", "convX,right,acknowledge,B", "convX,okay,statement,A"]
    path = tmp_path / "swda.csv"
    path.write_text("\n".join(lines) + "\n")
    assert cli.main(["evaluate", "dialogue-acts", "--data", str(path), "--no-examples"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["notes"] == ["2 utterance(s) have tags the model has never seen ('acknowledge'): left out, the rest "
                          "scored."]
    assert r["overall"]["n"] == len(lines) - 1 - 2 and r["overall"]["accuracy"] > 0.9
    assert "per-utterance argmax" in r["also"] and {s for s in r["slices"]} == {"position in the dialogue",
                                                                                 "speaker"}


def test_a_model_of_your_file_keeps_its_held_out_dialogues(tmp_store):
    training.train(training.plan("dialogue-acts", {**TINY, "epochs": 2}, _swda_like_csv(), "swda.csv", "swda"))
    b = store.load("dialogue-acts", "swda")
    data = da.heldout_data(b)
    assert len(data.utterances) == b.metrics["n_val_dialogues"] and data.speakers[0][0] in ("A", "B")
    r = evaluate.run(b)
    assert r["overall"]["accuracy"] == pytest.approx(b.metrics["val_accuracy"])
    assert np.isfinite(evaluate.project(evaluate.score(b).vectors, "pca")).all()
