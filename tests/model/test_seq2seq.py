"""seq2seq: the four decoder modes build, train and decode; beams are honest; the defaults do the job.

The tests here train or load a model; those that need none are in tests/unit/test_seq2seq.py."""
import json
import subprocess
import sys

import numpy as np
import pytest

from seqviz import seq2seq, store
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.run import Run
from tests import reference_decoding as reference
from tests.conftest import ROOT


TINY = {"n_train": 300, "epochs": 2, "embed_dim": 8, "units": 16, "batch_size": 64, "max_len": 5}


def _forced(inf, src, tokens, start):
    """The reference: teacher forcing one row at a time through the step model, <s> + tokens fed in turn;
    per-step log-probs (len+1, V) and alignment (len+1, S) or None."""
    alignment: list = []
    step, state = seq2seq.step_fn(inf, alignment), seq2seq.start_state(inf, src)
    rows = []
    for tok in [start] + list(tokens):
        log_probs, state = step(np.array([tok]), state)
        rows.append(log_probs[0])
    return np.stack(rows), (np.stack([a[0] for a in alignment]) if alignment else None)


def _fit(**overrides):
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    params = resolve(seq2seq.PARAMS, {**TINY, **overrides})
    run = Run()                 # what the training service hands fit: it keeps Keras' history
    model, vocabs, metrics = seq2seq.fit(params, None, run)
    return store.Bundle("seq2seq", "tiny", params, model, vocabs, {**metrics, "history": run.history})


@pytest.fixture(scope="module")
def defaults():
    return {mode: store.load("seq2seq", f"default-{mode}") for mode in seq2seq.MODES}


# ---------------------------------------------------------------------------------------------
# The four modes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", seq2seq.MODES)
def test_each_mode_builds_trains_and_decodes(mode):
    b = _fit(mode=mode)
    loss = b.metrics["history"]["loss"]
    assert len(loss) == 2 and loss[1] < loss[0]          # it learns something in two epochs
    layers = {layer.name for layer in b.model.layers}
    assert ("attention" in layers) == (mode == "attention")
    assert ("tgt_embed" in layers) == (mode != "basic")  # basic never reads its own words
    r = seq2seq.predict(b, "3 1 4", beam=2)
    targets = set(b.vocabs["target"].tokens)
    assert r["mode"] == mode and r["gold"] == ["three", "one", "four"]
    assert set(r["output"]) <= targets and len(r["beams"]) == 2
    assert (r["attention"] is None) == (mode != "attention")
    for key in ("val_exact", "exact_short", "exact_long", "token_accuracy_long"):
        assert 0.0 <= b.metrics[key] <= 1.0


@pytest.mark.parametrize("overrides", [
    {"mode": "peek", "depth": 2},
    {"mode": "feedback", "depth": 2, "teacher_force": False},
    {"mode": "attention", "depth": 2},
    {"mode": "attention", "teacher_force": False},
])
def test_deeper_and_free_running_configurations_fit_one_epoch(overrides):
    b = _fit(epochs=1, n_train=100, **overrides)
    assert len(b.metrics["history"]["loss"]) == 1 and np.isfinite(b.metrics["history"]["loss"][0])
    lstms = [layer for layer in b.model.layers if "lstm" in layer.name]
    assert len(lstms) == 2 * overrides.get("depth", 1)
    r = seq2seq.predict(b, "12", beam=3)
    assert r["beams"] == sorted(r["beams"], key=lambda x: -x["logprob"])


def test_free_running_training_feeds_back_its_own_argmax():
    """With teacher forcing off, the training model ignores the gold decoder input after <s>: by its graph,
    so untrained weights show it (the configurations test trains one)."""
    vocabs = seq2seq.vocabularies("digits")
    src, tgt_in, _ = seq2seq.encode(seq2seq.make_pairs("digits", 8, 3, 5, seed=3), vocabs, 5, "digits")
    scrambled = tgt_in.copy()
    scrambled[:, 1:] = np.random.default_rng(0).integers(4, 14, size=scrambled[:, 1:].shape)
    for teacher_force in (False, True):
        params = resolve(seq2seq.PARAMS, {**TINY, "mode": "feedback", "teacher_force": teacher_force})
        model = seq2seq.build(params, vocabs)
        same = np.allclose(model([src, tgt_in]).numpy(), model([src, scrambled]).numpy())
        assert same == (not teacher_force)


# ---------------------------------------------------------------------------------------------
# Decoding with the shipped models
# ---------------------------------------------------------------------------------------------
def test_beam_width_1_equals_greedy(defaults):
    for mode, b in defaults.items():
        for text in ["4 7 1 9", "0 0 5 3 8 8 2 1 6 9", "7"]:
            r = seq2seq.predict(b, text, beam=1)
            inf = seq2seq.inference(b.model, b.params)
            src = np.array([b.vocabs["source"].encode(text.split())], np.int32)
            tv = b.vocabs["target"]
            g = reference.greedy(seq2seq.step_fn(inf), seq2seq.start_state(inf, src), tv.index["<s>"],
                                 tv.index["</s>"], 11)
            assert r["beams"][0]["tokens"] == [t for t in tv.decode(g.tokens) if t != "</s>"], mode
            assert r["beams"][0]["logprob"] == pytest.approx(g.logprob, abs=1e-5)
            assert tv.decode(g.tokens) == r["free_running"]


def test_beams_are_sorted_and_their_scores_add_up(defaults):
    b = defaults["attention"]
    tv = b.vocabs["target"]
    inf = seq2seq.inference(b.model, b.params)
    src = np.array([b.vocabs["source"].encode(list("58203"))], np.int32)
    r = seq2seq.predict(b, "5 8 2 0 3", beam=6)
    scores = [x["logprob"] for x in r["beams"]]
    assert len(r["beams"]) == 6 and scores == sorted(scores, reverse=True)
    for beam in r["beams"]:
        assert beam["logprob"] == pytest.approx(sum(beam["step_logprobs"]), abs=1e-9)
        # a reference: re-score the beam's tokens by teacher forcing
        ids = tv.encode(beam["tokens"]) + ([tv.index["</s>"]] if beam["finished"] else [])
        log_probs, _ = _forced(inf, src, ids, tv.index["<s>"])
        assert sum(log_probs[t, i] for t, i in enumerate(ids)) == pytest.approx(beam["logprob"], abs=1e-4)


def test_attention_rows_sum_to_one_over_real_source_tokens(defaults):
    b = defaults["attention"]
    r = seq2seq.predict(b, "9 1 8", beam=2)
    att = np.array(r["attention"])
    assert att.shape == (len(r["output"]) + 1, 3)           # output tokens and </s> x source tokens
    assert np.allclose(att.sum(1), 1.0, atol=1e-5)
    # inside the model the source is padded to max_len: padding gets exactly zero weight
    inf = seq2seq.inference(b.model, b.params)
    padded = np.zeros((1, b.params["max_len"]), np.int32)
    padded[0, :3] = b.vocabs["source"].encode(list("918"))
    align = []
    step = seq2seq.step_fn(inf, align)
    step(np.array([2]), seq2seq.start_state(inf, padded))
    assert np.allclose(align[0][0, 3:], 0.0) and align[0][0, :3].sum() == pytest.approx(1.0, abs=1e-5)
    # digits -> words is monotonic: each output word attends most to its own digit
    assert list(att[:3].argmax(1)) == [0, 1, 2]


def _heldout(b, n, lo, hi, seed):
    p = b.params
    seen = {tuple(s) for s, _ in seq2seq.make_pairs(p["task"], p["n_train"], p["min_len"], p["max_len"], p["seed"])}
    return seq2seq.make_pairs(p["task"], n, lo, hi, seed, exclude=seen)


def test_default_attention_model_is_exact_on_heldout_digits(defaults):
    b = defaults["attention"]
    pairs = _heldout(b, 600, 1, b.params["max_len"], seed=987654)
    r = seq2seq.evaluate(b.model, b.params, b.vocabs, pairs)
    assert r["n"] >= 590 and r["exact"] >= 0.99, r


def test_default_basic_model_is_worse_than_attention_on_long_inputs(defaults):
    long = _heldout(defaults["attention"], 300, 10, 10, seed=424242)
    scores = {m: seq2seq.evaluate(defaults[m].model, defaults[m].params, defaults[m].vocabs, long)["exact"]
              for m in ("basic", "attention")}
    assert scores["attention"] >= 0.95 and scores["basic"] <= scores["attention"] - 0.3, scores
    # the stored metrics say the same
    assert defaults["basic"].metrics["exact_long"] < defaults["attention"].metrics["exact_long"] - 0.3


def test_pinned_decode_starts_with_the_prefix(defaults):
    b = defaults["feedback"]
    free = seq2seq.predict(b, "4 7 1", beam=3)
    assert free["output"] == ["four", "seven", "one"]
    pinned = seq2seq.predict(b, "4 7 1", beam=3, prefix="four two")
    for beam in pinned["beams"]:
        assert beam["tokens"][:2] == ["four", "two"]
    assert pinned["beams"][0]["logprob"] < free["beams"][0]["logprob"]   # pinning a wrong word costs
    # a re-decode without the exposure-bias view: the same beams, the view left out
    bare = seq2seq.predict(b, "4 7 1", beam=3, prefix="four two", exposure=False)
    assert bare["beams"] == pinned["beams"] and bare["steps"] == pinned["steps"]
    assert bare["teacher_forced"] is bare["free_running"] is None
    assert pinned["teacher_forced"] == free["teacher_forced"] and pinned["free_running"] == free["free_running"]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, options, words", [
    ("4 x 7", {}, ["'x'", "digits 0-9"]),
    ("4 7 🙂", {}, ["'🙂'", "vocabulary"]),
    ("", {}, ["empty"]),
    ("   ", {}, ["empty"]),
    ("1 2 3 4 5 6 7 8 9 0 1", {}, ["11 tokens", "at most 10"]),
    ("4 7", {"prefix": "four banana"}, ["'banana'"]),
    ("4 7", {"mode": "basic"}, ["attention model", "default-basic"]),
])
def test_bad_inputs_get_clear_errors(defaults, text, options, words):
    with pytest.raises(SeqvizError) as e:
        seq2seq.predict(defaults["attention"], text, **options)
    for w in words:
        assert w in str(e.value), str(e.value)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "seqviz", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def test_cli_predict_json_per_mode(store_with_defaults, capsys):
    from seqviz import cli

    def run(*argv):
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    code, out, err = run("predict", "seq2seq", "--text", "4 7 1 9", "--set", "mode=attention", "--set", "beam=3")
    assert code == 0, err
    r = json.loads(out.strip().splitlines()[-1])
    assert r["mode"] == "attention" and r["output"] == ["four", "seven", "one", "nine"] and r["correct"]
    assert len(r["beams"]) == 3 and {"tokens", "logprob"} <= set(r["beams"][0])
    assert np.array(r["attention"]).shape == (5, 4)
    code, out, _ = run("predict", "seq2seq", "--text", "4719", "--set", "mode=basic")
    r = json.loads(out.strip().splitlines()[-1])
    assert r["mode"] == "basic" and r["attention"] is None and r["source"] == list("4719")
    for bad, msg in [(["--set", "beam=0"], "between 1 and 20"), (["--set", "beam=21"], "between 1 and 20"),
                     (["--set", "mode=peeky"], "mode must be one of")]:
        code, _, err = run("predict", "seq2seq", "--text", "4 7", *bad)
        assert code == 2 and msg in err and "Traceback" not in err, err
    # the real entry point, once: exit status 2 and one line, no traceback
    import os
    out = _cli("predict", "seq2seq", "--text", "4 z", env={**os.environ, "SEQVIZ_MODELS": str(store_with_defaults)})
    assert out.returncode == 2 and "'z'" in out.stderr and "Traceback" not in out.stderr


def test_predict_equals_the_step_by_step_reference(defaults):
    """predict's compiled searches give what the numpy reference gives one step call at a time: the beams,
    the best beam's alignment (teacher-forcing its tokens), the gold target's argmax at each step, and the
    free-running greedy decode."""
    for mode, b in defaults.items():
        inf, tv = seq2seq.inference(b.model, b.params), b.vocabs["target"]
        start, end = tv.index["<s>"], tv.index["</s>"]
        for text, beam in [("4 7 1 9", 3), ("0 0 5 3 8 8 2 1 6 9", 5), ("7", 1)]:
            src = np.array([b.vocabs["source"].encode(text.split())], np.int32)
            r = seq2seq.predict(b, text, beam=beam)
            ref = reference.beam_search(seq2seq.step_fn(inf), seq2seq.start_state(inf, src), start, end, beam, 11)
            assert [x["tokens"] for x in r["beams"]] == [[t for t in tv.decode(h.tokens) if t != "</s>"]
                                                         for h in ref], (mode, text)
            assert [x["logprob"] for x in r["beams"]] == pytest.approx([h.logprob for h in ref], abs=1e-4)
            gold = tv.encode(seq2seq.target("digits", text.split()))
            log_probs, _ = _forced(inf, src, gold, start)
            assert r["teacher_forced"] == tv.decode(log_probs.argmax(-1)), (mode, text)
            best = ref[0].tokens[:-1] if ref[0].finished else ref[0].tokens
            _, alignment = _forced(inf, src, best, start)
            assert (r["attention"] is None) == (alignment is None) == (mode != "attention")
            if alignment is not None:
                assert np.allclose(r["attention"], alignment, atol=1e-5)
            g = reference.greedy(seq2seq.step_fn(inf), seq2seq.start_state(inf, src), start, end, 11)
            assert r["free_running"] == tv.decode(g.tokens), (mode, text)


@pytest.mark.parametrize("overrides", [
    {"mode": "attention", "attention": "bahdanau"},
    {"mode": "peek", "encoder_depth": 1, "decoder_depth": 2},
    {"mode": "attention", "encoder_depth": 2, "decoder_depth": 1, "teacher_force": False},
], ids=["bahdanau", "deeper-decoder", "deeper-encoder-free-running"])
def test_each_variant_trains_saves_reloads_bit_exact_and_predicts(tmp_store, overrides):
    from seqviz import training
    p = training.plan("seq2seq", {**TINY, "epochs": 1, **overrides}, name="variant")
    b = training.train(p)
    loaded = store.load("seq2seq", "variant")
    assert {k: loaded.params[k] for k in overrides} == overrides
    for x, y in zip(b.model.get_weights(), loaded.model.get_weights()):
        assert np.array_equal(x, y)
    enc, dec = seq2seq._depths(loaded.params)
    names = {layer.name for layer in loaded.model.layers}
    assert {f"encoder_lstm_{i}" for i in range(enc)} | {f"decoder_lstm_{i}" for i in range(dec)} <= names
    assert f"encoder_lstm_{enc}" not in names and f"decoder_lstm_{dec}" not in names
    kind = seq2seq.BahdanauAttention if overrides.get("attention") == "bahdanau" else seq2seq.LuongAttention
    if overrides["mode"] == "attention":
        assert type(loaded.model.get_layer("attention")) is kind
    r = seq2seq.predict(loaded, "3 1 4", beam=2)
    assert r == seq2seq.predict(b, "3 1 4", beam=2) and len(r["beams"]) == 2
    if overrides["mode"] == "attention":
        np.testing.assert_allclose(np.sum(r["attention"], axis=1), 1.0, rtol=1e-5)
