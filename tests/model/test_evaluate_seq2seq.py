"""Seq2seq's held-out set decoded pair by pair (seqviz.evaluate through seq2seq's heldout_data and
score_examples): the stored exact match and token accuracy reproduced, the per-length curve where the one-vector
basic decoder fails, a file of pairs scored with the ones the model cannot read left out, and a model of your
pairs keeping its held-out ones."""
import json

import pytest

from seqviz import cli, evaluate, seq2seq, store, training


@pytest.mark.parametrize("mode", ["basic", "attention"])
def test_the_stored_metrics_are_reproduced_pair_by_pair(mode):
    b = store.load("seq2seq", f"default-{mode}")
    scored = evaluate.score(b)
    r = evaluate.report(scored)
    assert r["overall"]["n"] == b.metrics["n_val"]
    assert r["overall"]["accuracy"] == pytest.approx(b.metrics["val_exact"])
    assert r["overall"]["token accuracy"] == pytest.approx(b.metrics["val_token_accuracy"])
    assert scored.vectors.shape == (b.metrics["n_val"], b.params["units"])
    one = next(x for x in r["examples"] if not x["correct"]) if mode == "basic" else r["examples"][0]
    again = seq2seq.predict(b, one["input"], beam=1, exposure=False)
    assert " ".join(again["output"]) == one["pred"]


def test_the_one_vector_decoder_fails_on_long_inputs_and_attention_does_not():
    curves = {m: {x["value"]: x for x in evaluate.heldout_report(store.load("seq2seq", f"default-{m}"))["slices"]
                  ["input length"]} for m in ("basic", "attention")}
    basic, attention = curves["basic"], curves["attention"]
    assert basic["3 tokens"]["accuracy"] == 1.0 and basic["10 tokens"]["accuracy"] < 0.2
    assert basic["10 tokens"]["token accuracy"] > basic["10 tokens"]["accuracy"]      # most tokens still right
    assert min(x["accuracy"] for x in attention.values()) == 1.0


def test_a_file_of_pairs_is_scored_and_what_the_model_cannot_read_is_named(tmp_path, capsys):
    rows = ["source,target", "3 1 4,three one four", "1 5 9 2,one five nine two",
            "1 2 3 4 5 6 7 8 9 0 1 2,one two three four five six seven eight nine zero one two"]
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(rows + [f"{i % 10} {(i + 3) % 10},x y" for i in range(20)]) + "\n")
    assert cli.main(["evaluate", "seq2seq", "--data", str(path)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["notes"] == ["1 pair(s) are longer than the model reads (10 input, 10 output tokens) or empty: left "
                          "out, the rest scored."]
    assert r["overall"]["n"] == 22 and r["examples"][0]["correct"] and not r["examples"][5]["correct"]


def test_a_model_of_your_pairs_keeps_its_held_out_ones(tmp_store):
    csv = "source,target\n" + "\n".join(f"{a}+{b},{a + b}" for a in range(12) for b in range(12))
    training.train(training.plan("seq2seq", {"epochs": 1, "units": 16, "tokens": "char", "max_len": 6},
                                 csv.encode(), "sums.csv", "sums"))
    b = store.load("seq2seq", "sums")
    data = seq2seq.heldout_data(b)
    assert len(data.sources) == b.metrics["n_val"] and all("+" in s for s in data.sources)
    r = evaluate.run(b)
    assert r["overall"]["accuracy"] == pytest.approx(b.metrics["val_exact"])
    assert r["overall"]["token accuracy"] == pytest.approx(b.metrics["val_token_accuracy"])
