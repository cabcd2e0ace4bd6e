"""`python -m seqviz`: JSON on stdout, exit 2 and one line on stderr for bad input.

The tests here train or load a model; those that need none are in tests/unit/test_cli.py."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TINY
from tests.unit.test_cli import run


def test_predict_attention_prints_the_design_json(store_with_defaults, capsys):
    code, out, err = run(capsys, "predict", "attention", "--text", "the storm and the rain came again")
    assert code == 0
    r = json.loads(out.strip().splitlines()[-1])
    assert set(r) >= {"tokens", "attention", "label", "probs"}
    assert r["tokens"] == ["the", "storm", "and", "the", "rain", "came", "again"]
    assert r["label"] == "weather" and abs(sum(r["probs"].values()) - 1) < 1e-5
    assert len(r["attention"]) == 7 and abs(sum(r["attention"]) - 1) < 1e-5


def test_predict_reads_a_text_file(store_with_defaults, capsys, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("my brother loved the guitar and the piano", encoding="utf-8")
    code, out, _ = run(capsys, "predict", "attention", "--file", str(f))
    assert code == 0 and json.loads(out)["label"] == "music"


def test_train_on_a_csv_then_predict_with_it(tmp_store, capsys, tmp_path):
    data = tmp_path / "mine.csv"
    rows = [f"{w} {w} is here,{lab}" for lab, ws in [("x", ["alpha", "beta"]), ("y", ["gamma", "delta"])] for w in ws]
    data.write_text("text,label\n" + "\n".join(rows * 10), encoding="utf-8")
    sets = [a for k, v in {**TINY, "epochs": 12, "learning_rate": 0.03}.items() for a in ("--set", f"{k}={v}")]
    code, out, _ = run(capsys, "train", "attention", "--data", str(data), "--name", "mine", *sets)
    lines = out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert code == 0 and lines[0].startswith("epoch 1:") and len(lines) == 13
    assert summary["name"] == "mine" and summary["data"]["filename"] == "mine.csv"
    assert summary["params"]["epochs"] == 12 and summary["metrics"]["train_seconds"] > 0
    code, out, _ = run(capsys, "predict", "attention", "--model", "mine", "--text", "gamma is here")
    assert code == 0 and json.loads(out)["label"] == "y"


def test_module_entry_point_is_quiet_on_bad_input(store_with_defaults):
    """The real `python -m seqviz`: no traceback, no TensorFlow log noise, one line."""
    p = subprocess.run([sys.executable, "-m", "seqviz", "predict", "attention", "--text", "?!"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == ["error: The text has no words (only punctuation, symbols or spaces); "
                                             "type a sentence."]


def test_predict_compare_prints_both_results_and_what_differs(store_with_defaults, capsys):
    text = "no pizza but the concert was great"
    code, out, err = run(capsys, "predict", "attention", "--text", text, "--compare", "default-seed")
    assert code == 0, err
    r = json.loads(out)
    assert set(r) == {"a", "b", "diff"}
    code, alone, _ = run(capsys, "predict", "attention", "--text", text)   # a is what predict alone prints
    assert r["a"] == json.loads(alone)
    d = r["diff"]
    assert d["attention_a_minus_b"] == pytest.approx([x - y for x, y in zip(r["a"]["attention"], r["b"]["attention"])])
    assert d["same_label"] == (r["a"]["label"] == r["b"]["label"]) and d["labels"]["only_a"] == []


def test_predict_compare_works_across_seq2seq_modes_and_for_a_file(store_with_defaults, capsys, tmp_path):
    code, out, err = run(capsys, "predict", "seq2seq", "--text", "4 7 1", "--compare", "default-basic")
    assert code == 0, err
    d = json.loads(out)["diff"]
    assert d["modes"] == ["attention", "basic"] and d["correct"][0] is True
    f = tmp_path / "d.txt"
    f.write_text("A: do you like jazz\nB: yeah\nA: bye", encoding="utf-8")
    code, out, err = run(capsys, "predict", "dialogue-acts", "--file", str(f), "--compare", "default")
    assert code == 0, err
    r = json.loads(out)
    assert r["a"] == r["b"] and r["diff"]["differs"] == [] and r["diff"]["agreement"] == 1.0


def test_predict_compare_with_a_missing_model_exits_2(store_with_defaults, capsys):
    code, out, err = run(capsys, "predict", "attention", "--text", "hi there", "--compare", "nope")
    assert code == 2 and out == "" and "No attention model named 'nope'" in err
