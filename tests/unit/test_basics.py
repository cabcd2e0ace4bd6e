"""Vocabulary, parameter specs, uploads and figures: the small shared pieces."""
import json
from pathlib import Path

import numpy as np
import pytest

from seqviz import figures
from seqviz.errors import SeqvizError
from seqviz.params import Param, parse_sets, resolve
from seqviz.uploads import decode_text, read_csv
from seqviz.vocab import PAD, UNK, Vocab, tokenize


def test_tokenize_keeps_words_drops_punctuation():
    assert tokenize("Don't PANIC!! 42 times, ok?") == ["don't", "panic", "42", "times", "ok"]
    assert tokenize("... !!! ???") == []


def test_vocab_ids_padding_unknown_and_json_round_trip():
    v = Vocab.build([["b", "a", "b"], ["c", "b", "a"]])
    assert v.tokens[:2] == [PAD, UNK] and v.tokens[2:] == ["b", "a", "c"]  # by frequency, then alphabet
    assert v.encode(["a", "zzz"]) == [3, 1]
    assert v.decode([2, 4]) == ["b", "c"]
    assert Vocab.from_json(v.to_json()) == v
    capped = Vocab.build([["b", "a", "b"], ["c"]], max_size=3)
    assert capped.tokens == [PAD, UNK, "b"]
    labels = Vocab(["x", "y"], specials=())
    assert labels.encode(["y"]) == [1]
    with pytest.raises(KeyError):
        labels.encode(["nope"])


def test_params_coerce_and_reject_with_sentences():
    ps = [Param("epochs", 5, 1, 50), Param("lr", 0.01, 1e-5, 1.0), Param("mode", "a", choices=("a", "b")),
          Param("flag", False)]
    assert resolve(ps, {"epochs": "7", "lr": "0.1", "mode": "b", "flag": "true"}) == \
        {"epochs": 7, "lr": 0.1, "mode": "b", "flag": True}
    for bad, words in [({"epochs": "0"}, "between 1 and 50"), ({"epochs": "2.5"}, "whole number"),
                       ({"lr": "fast"}, "a number"), ({"mode": "c"}, "one of a, b"),
                       ({"flag": "maybe"}, "true or false"), ({"nope": 1}, "Unknown setting 'nope'")]:
        with pytest.raises(SeqvizError, match=words):
            resolve(ps, bad)
    assert parse_sets(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(SeqvizError, match="key=value"):
        parse_sets(["novalue"])


def test_uploads_refuse_bad_files_with_clear_messages():
    with pytest.raises(SeqvizError, match="not UTF-8"):
        decode_text("caf\xe9".encode("latin-1"), "x.csv")
    with pytest.raises(SeqvizError, match="binary"):
        decode_text(b"\x89PNG\x00\x00\x01", "x.txt")
    with pytest.raises(SeqvizError, match="empty"):
        decode_text(b"  \n", "x.txt")
    with pytest.raises(SeqvizError, match="limit is 1 MB"):
        decode_text(b"a" * (2**20 + 1), "big.txt", max_bytes=2**20)
    with pytest.raises(SeqvizError, match="missing label"):
        read_csv(b"text,other\nhi,1\n", "x.csv", ["text", "label"])
    df = read_csv(b"\xef\xbb\xbf Text , LABEL\n hello , a\n", "x.csv", ["text", "label"])  # BOM, case, spaces
    assert df.to_dict("list") == {"text": ["hello"], "label": ["a"]}


def test_heatmap_keeps_repeated_tokens_as_separate_columns():
    fig = figures.heatmap(np.array([[0.1, 0.2, 0.7]]), ["the", "cat", "the"], ["attention"], value_name="weight")
    hm = fig.data[0]
    assert list(fig.layout.xaxis.ticktext) == ["the", "cat", "the"]
    assert list(hm.x) == [0, 1, 2] and np.asarray(hm.z).shape == (1, 3)
    assert "weight: 0.7" in hm.hovertext[0][2]
    with pytest.raises(ValueError, match="shape"):
        figures.heatmap(np.zeros((2, 3)), ["a", "b", "c"], ["only one row"])


def test_bars_mark_the_chosen_and_muted_items():
    fig = figures.bars(["a", "b", "c"], [0.2, 0.5, 0.3], highlight=1, muted=[True, False, False])
    colors = list(fig.data[0].marker.color)
    assert colors[1] != colors[2] and colors[0] not in (colors[1], colors[2])
    assert list(fig.data[0].y) == [0.2, 0.5, 0.3]
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "c"]


def test_loss_curve_has_epoch_series_and_batch_losses():
    fig = figures.loss_curve({"loss": [1.0, 0.5], "val_probs_accuracy": [0.6, 0.9]}, [1.2, 1.0, 0.8, 0.6], 2)
    names = [t.name for t in fig.data]
    assert names == ["batch loss", "loss", "val_probs_accuracy"]
    assert list(fig.data[0].x) == [0.5, 1.0, 1.5, 2.0]
    assert fig.data[2].yaxis == "y2"  # accuracies on the right-hand 0..1 axis


def test_user_text_is_escaped_for_markdown_and_plotly():
    from seqviz.ui import md
    assert md("[click](http://evil.example) *x*") == r"\[click\]\(http\://evil\.example\) \*x\*"
    fig = figures.bars(["<a href='x'>a</a>", "b"], [0.5, 0.5])
    assert list(fig.layout.xaxis.ticktext)[0] == "&lt;a href=&#x27;x&#x27;&gt;a&lt;/a&gt;"
    assert "<a" not in fig.data[0].hovertext[0]


def test_every_shipped_model_is_in_the_registry_and_committed():
    from seqviz import archs, seq2seq, store
    root = Path(__file__).resolve().parents[2] / "models"
    assert archs._MODES == seq2seq.MODES
    for a in archs.ARCHS.values():
        for name, overrides in a.defaults.items():
            assert (root / a.id / name / "config.json").is_file(), f"{a.id}/{name} is not committed"
            assert store.is_default(name, a.id)
            trained = json.loads((root / a.id / name / "config.json").read_text())["params"]
            assert {k: trained[k] for k in overrides} == overrides     # the registry says how it was trained
        assert not store.is_default("default-evil", a.id)
    tasks = {(p["task"], p["mode"]) for p in (json.loads((root / "seq2seq" / n / "config.json").read_text())["params"]
                                              for n in store.shipped("seq2seq"))}
    assert tasks == {(t, m) for t in seq2seq.TASKS for m in seq2seq.MODES}   # every task in every mode


def test_the_server_skips_streamlits_per_rerun_collection_and_file_watcher():
    # Streamlit's gc.collect(2) per rerun walks TensorFlow's ~500,000 objects with the GIL held (~0.3 s a rerun);
    # its file watcher walks every loaded module per session and per rerun (bench class: p95 0.44 s against 0.13 s)
    import tomllib
    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"


def test_the_server_hands_the_interpreter_between_sessions_every_millisecond(tmp_store, monkeypatch):
    import asyncio
    import sys

    import app
    monkeypatch.setenv("SEQVIZ_WARMUP", "0")
    before = sys.getswitchinterval()

    async def start():
        async with app.lifespan(None):
            return sys.getswitchinterval()
    try:
        assert asyncio.run(start()) == 0.001
    finally:
        sys.setswitchinterval(before)
