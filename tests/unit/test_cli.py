"""`python -m seqviz`: JSON on stdout, exit 2 and one line on stderr for bad input.

The tests here need no model; those that train or load one are in tests/model/test_cli.py."""
import json

import pytest

from seqviz import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, words", [
    (["predict", "attention", "--text", ""], "empty"),
    (["predict", "attention", "--text", "x" * 10_001], "limit is 2,000"),
    (["predict", "attention"], "--text TEXT, --file FILE or --data FILE"),
    (["predict", "attention", "--file", "/no/such/file.txt"], "Cannot read /no/such/file.txt"),
    (["predict", "attention", "--model", "nope", "--text", "hi"], "No attention model named 'nope'"),
    (["predict", "lstm-crf", "--text", "hi"], "Unknown architecture 'lstm-crf'"),
    (["train", "attention", "--set", "epochs=0"], "epochs must be between 1 and 50"),
    (["train", "attention", "--set", "units"], "key=value"),
    (["train", "attention", "--name", "../up"], "not allowed"),
    (["bench", "nope"], "Unknown benchmark"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(store_with_defaults, capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err


def test_list_shows_the_default_model_and_its_metrics(store_with_defaults, capsys):
    code, out, _ = run(capsys, "list")
    archs = {a["arch"]: a for a in json.loads(out)["archs"]}
    default = archs["attention"]["models"][0]
    assert default["name"] == "default" and default["metrics"]["val_accuracy"] >= 0.95
