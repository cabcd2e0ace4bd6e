"""`python -m seqviz export`: a SavedModel whose signature takes raw inputs and runs where seqviz is absent.

Each architecture's shipped default is exported, then loaded in a separate Python process that refuses to
import seqviz (a meta-path hook raises on it, and the process asserts it never got in); its outputs on
several inputs, unknown words among them, are compared with `predict` on the same inputs here.

The tests here need no model; those that train or load one are in tests/model/test_export.py."""
import random

import pytest

from seqviz import cli, export
from seqviz.vocab import tokenize


@pytest.mark.parametrize("text", [
    "Hello, World!", "don't stop'n go", "'quoted' words''here", "a''b x ' y", "Ünïcödé ÉCOLE straße", "İstanbul",
    "snake_case and 3.14 and ½ ²", "tabs\tand\nnewlines", "émoji 😀 ok", "'", "", "rock'n'roll l'été ’curly’",
    "中文字 测试", "a-b/c x' 'x it's'"])
def test_the_graph_tokenizer_is_seqviz_tokenizer(text):
    assert [t.decode() for t in export.tokenize(text).numpy()] == tokenize(text)


def test_the_graph_tokenizer_on_random_text():
    rng = random.Random(0)
    alphabet = "aZé'’ _-.,!?\t\n0½中😀İ\u0301ß"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(300)]
    got = export.tokenize(texts)
    assert [[t.decode() for t in row] for row in got.to_list()] == [tokenize(t) for t in texts]


@pytest.mark.parametrize("argv, words", [
    (["export", "attention"], "--out"),
    (["export", "nope", "--out", "{tmp}/x"], "Unknown architecture 'nope'"),
    (["export", "attention", "--model", "nope", "--out", "{tmp}/x"], "No attention model named 'nope'"),
    (["export", "attention", "--model", "../up", "--out", "{tmp}/x"], "not allowed"),
    (["export", "attention", "--out", "{tmp}/full"], "exists and is not empty"),
    (["export", "attention", "--out", "{tmp}/file.txt"], "is a file"),
    (["export", "attention", "--out", "{tmp}/no/such/x"], "does not exist"),
])
def test_bad_export_requests_exit_2_and_write_nothing(store_with_defaults, tmp_path, capsys, argv, words):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = cli.main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before     # nothing written, nothing replaced
