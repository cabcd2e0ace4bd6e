"""seq2seq: the four decoder modes build, train and decode; beams are honest; the defaults do the job; the
stored models grouped by task for the page.

The tests here need no model; those that train or load one are in tests/model/test_seq2seq.py."""
import os

import numpy as np
import pytest
import tensorflow as tf

from seqviz import seq2seq, store
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from tests.conftest import store_entry


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------
def test_tasks_make_the_right_targets():
    assert seq2seq.target("digits", list("471")) == ["four", "seven", "one"]
    assert seq2seq.target("sort", list("4719")) == list("1479")
    assert [seq2seq.pig_latin(w) for w in ["string", "apple", "queen", "squeal", "happy"]] == \
        ["ingstray", "appleway", "eenquay", "ealsquay", "appyhay"]
    words = seq2seq.english_words()
    assert len(words) > 2000 and {"function", "class", "module"} <= set(words)


def test_pairs_respect_lengths_are_distinct_and_exclude():
    pairs = seq2seq.make_pairs("digits", 500, 2, 6, seed=0)
    sources = [tuple(s) for s, _ in pairs]
    assert len(pairs) == 500 and len(set(sources)) == 500
    assert all(2 <= len(s) <= 6 for s in sources)
    held = seq2seq.make_pairs("digits", 200, 2, 6, seed=1, exclude=set(sources))
    assert not {tuple(s) for s, _ in held} & set(sources)
    # a small space is exhausted, not looped over forever: 10 one-digit inputs exist
    assert len(seq2seq.make_pairs("sort", 50, 1, 1, seed=0)) == 10


def test_piglatin_input_is_one_word_of_letters():
    vocab = seq2seq.vocabularies("piglatin")["source"]
    params = resolve(seq2seq.PARAMS, {"task": "piglatin"})
    assert seq2seq.parse_source("String", params, vocab) == list("string")
    with pytest.raises(SeqvizError, match="one word"):
        seq2seq.parse_source("two words", params, vocab)
    with pytest.raises(SeqvizError, match="'3'"):
        seq2seq.parse_source("abc3", params, vocab)


# ---------------------------------------------------------------------------------------------
# Variants: attention=bahdanau, encoder_depth / decoder_depth
# ---------------------------------------------------------------------------------------------
def test_bahdanau_score_equals_its_formula_in_numpy():
    """score(s_t, h_j) = v · tanh(W_s s_t + W_h h_j); padded source tokens get weight 0."""
    tf.keras.utils.set_random_seed(2)
    layer = seq2seq.BahdanauAttention(6)
    dec, enc = tf.random.normal((2, 3, 5)), tf.random.normal((2, 4, 5))
    src = tf.constant([[3, 4, 5, 0], [3, 4, 5, 6]])
    out, weights = layer([dec, enc, src])
    Ws, Wh, v = layer.W_s.numpy(), layer.W_h.numpy(), layer.v.numpy()
    scores = np.tanh((dec.numpy() @ Ws)[:, :, None, :] + (enc.numpy() @ Wh)[:, None, :, :]) @ v   # (B, t, S)
    scores = np.where(src.numpy()[:, None, :] != 0, scores, -np.inf)
    want = np.exp(scores - scores.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    assert np.abs(weights.numpy() - want).max() < 1e-5 and out.shape == (2, 3, 6)
    one, w1 = layer([dec[:, 0], enc, src])                      # one decoder step: no time axis
    assert np.abs(w1.numpy() - want[:, 0]).max() < 1e-5 and one.shape == (2, 6)


def test_a_decoder_deeper_than_its_encoder_starts_its_extra_layers_from_the_top_encoder_layer():
    enc = ["h0", "c0", "h1", "c1"]
    assert seq2seq._start_states(enc, 2) == enc
    assert seq2seq._start_states(enc, 3) == enc + ["h1", "c1"]
    assert seq2seq._start_states(enc, 1) == ["h0", "c0"]
    assert seq2seq._depths({"depth": 2, "encoder_depth": 0, "decoder_depth": 3}) == (2, 3)


def test_seq2seq_models_are_grouped_by_task_and_mode(store_with_defaults):
    pairs = {"params": {"task": "file", "mode": "peek", "depth": 1},
             "data": {"filename": "sums.csv", "sha1": "0123456789abcdef"}}
    store_entry("seq2seq", "run-sums", pairs, {"examples": [["1+2", "3"], ["2+2", "4"]], "val_exact": 0.5, "n_val": 2})
    store_entry("seq2seq", "run-sums-2", {**pairs, "params": {**pairs["params"], "mode": "basic"}}, {"val_exact": 0.25})
    store_entry("seq2seq", "run-broken", {"params": "not a dict"}, {})
    os.utime(store.root() / "seq2seq" / "run-sums", (2e9, 2e9))    # the newest: the file's first model
    groups = seq2seq.group_by_task()
    assert "run-broken" not in groups.configs
    assert groups.tasks == ["digits", "sort", "piglatin", "file:0123456789"]   # every model of one file: one entry
    assert groups.label("digits") == "digits → words" and groups.label("file:0123456789") == "your pairs: sums.csv"
    assert groups.models("digits", "attention") == ["default-attention"]
    assert groups.models("sort") == ["default-sort", "default-sort-basic", "default-sort-feedback", "default-sort-peek"]
    assert groups.models("file:0123456789", "peek") == ["run-sums"]
    assert groups.models("file:0123456789") == ["run-sums", "run-sums-2"]
    assert groups.examples("digits") == [] and groups.examples("file:0123456789") == [["1+2", "3"], ["2+2", "4"]]
    rows = groups.accuracy("digits")
    assert [r["model"] for r in rows] == [f"default-{m}" for m in seq2seq.MODES]
    assert all(f"exact @ {store.read_json('seq2seq', r['model'])['len_long']}" in r for r in rows)
    mine = {r["model"]: r for r in groups.accuracy("file:0123456789")}
    assert mine["run-sums"]["exact (all)"] == 0.5 and not any(k.startswith("exact @") for k in mine["run-sums"])


def test_the_exposure_view_marks_wrong_steps_and_says_whose_error_it_is():
    from seqviz import seq2seq
    r = {"gold": ["one", "two"], "teacher_forced": ["one", "two", "</s>"], "free_running": ["one", "two", "</s>"]}
    view = seq2seq.exposure(r)
    assert view["split"] is None and view["says"] == "The two agree at every step, and both are right."
    assert view["columns"]["gold"] == ["one", "two", "</s>"] and view["columns"]["where"] == [""] * 3
    wrong = ["one", "six", "</s>"]
    both_wrong = seq2seq.exposure({**r, "teacher_forced": wrong, "free_running": wrong})
    assert both_wrong["split"] is None and "both are wrong from step 2" in both_wrong["says"]
    assert both_wrong["columns"]["teacher-forced"] == ["one", "six ✗", "</s>"]
    parted = seq2seq.exposure({**r, "free_running": ["one", "six", "six", "</s>"]})
    assert parted["split"] == 1 and parted["says"].startswith("They part at step 2")
    assert parted["columns"]["where"] == ["", "◀ first divergence", "", ""]            # n = the longest decode
    assert parted["columns"]["free-running"] == ["one", "six ✗", "six ✗", "</s> ✗"]
    assert parted["columns"]["gold"] == ["one", "two", "</s>", ""]
    assert all(name for name in parted["columns"])                                    # no unnamed column
    assert seq2seq.exposure({**r, "teacher_forced": None}) is None
