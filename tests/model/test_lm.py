"""The language model: one set of output weights for both softmaxes, sparse sampled gradients and updates,
the corpora, generation, the default model against a unigram baseline, the CLI and the benchmark.

The tests here train or load a model; those that need none are in tests/unit/test_lm.py."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from seqviz import bench, cli, lm, store, training
from seqviz.errors import SeqvizError
from tests.conftest import ROOT
from tests.unit.test_lm import TINY, V, _batch, _model


def test_a_sampled_step_updates_only_the_gathered_rows_and_a_full_step_all_of_them():
    model = _model(num_sampled=5)
    x, y = _batch(3, b=2, t=3)
    before = model.projection.kernel.numpy().copy()
    emb_before = model.embedding.embeddings.numpy().copy()
    logits_before = model(x).numpy()
    model.train_on_batch(x, y)
    changed = np.flatnonzero(np.abs(model.projection.kernel.numpy() - before).sum(1))
    assert set(y.ravel().tolist()) <= set(changed.tolist())
    assert len(changed) <= len(set(y.ravel().tolist())) + 5                  # LazyAdam: the other rows untouched
    emb_changed = np.flatnonzero(np.abs(model.embedding.embeddings.numpy() - emb_before).sum(1))
    assert set(emb_changed.tolist()) == set(x.ravel().tolist())
    assert not np.allclose(model(x).numpy(), logits_before)                   # evaluation sees the update

    full = _model("full")
    before = full.projection.kernel.numpy().copy()
    full.train_on_batch(x, y)
    assert np.count_nonzero(np.abs(full.projection.kernel.numpy() - before).sum(1)) == V


# ---------------------------------------------------------------------------------------------
# Training: the live trace, the store round trip
# ---------------------------------------------------------------------------------------------
def test_tiny_training_records_the_race_trace_and_round_trips_through_the_store(tmp_store):
    p = training.plan("lm", TINY, name="tiny")
    events = []
    bundle = training.train(p, on_event=events.append)
    # the trace travels as records (from a worker process, to the page): rebuilt here as a Job would
    records = {}
    for e in events:
        if e["type"] == "record":
            records.setdefault(e["key"], []).append(e["value"])
    trace = lm.live(records)
    (begin,) = [e for e in events if e["type"] == "begin"]
    assert trace is not None and len(trace.steps) == begin["steps"] and len(trace.epochs) == 1
    assert lm.live({}) is None
    saved = lm.saved_trace(bundle.metrics)        # kept with the model: a finished race survives a reload
    assert saved == trace and lm.saved_trace(store.read_json("lm", "tiny")) == trace
    assert lm.saved_trace({"race_trace": "junk"}) is None and lm.saved_trace({}) is None
    clock = [s["t"] for s in trace.steps]
    assert clock == sorted(clock) and clock[-1] == pytest.approx(trace.clock)
    monitored = [s for s in trace.steps if "full_loss" in s]
    assert len(monitored) >= 5 and all(np.isfinite([s["full_loss"], s["sampled_loss"]]).all() for s in monitored)
    # the epoch logs carry the validation perplexity, not the per-batch value
    (epoch,) = [e for e in events if e["type"] == "epoch"]
    assert set(epoch["logs"]) == {"loss", "val_loss", "val_perplexity"}
    assert epoch["logs"]["val_perplexity"] == pytest.approx(math.exp(epoch["logs"]["val_loss"]))
    m = bundle.metrics
    assert m["val_perplexity"] == pytest.approx(trace.epochs[-1]["val_perplexity"])
    assert m["vocab_size"] == 200 and m["corpus"] == "zipf" and set(m["history"]) == set(epoch["logs"])

    loaded = store.load("lm", "tiny")
    assert loaded.vocabs["words"] == bundle.vocabs["words"]
    x = np.array([[5, 6, 7, 8]], dtype=np.int32)
    np.testing.assert_allclose(loaded.model(x).numpy(), bundle.model(x).numpy(), atol=1e-6)
    assert loaded.model.projection.kernel.shape == (200, 8)


# ---------------------------------------------------------------------------------------------
# The default model
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_bundle():
    return store.load("lm", "default")


def test_default_model_beats_the_unigram_baseline_on_held_out_python_text(default_bundle):
    b = default_bundle
    corpus = lm.python_corpus()
    train_docs, val_docs = lm.split(corpus, b.params["seed"])
    vocab = b.vocabs["words"]
    x, _ = lm.windows(lm.stream(vocab, train_docs), b.params["seq_len"])
    xv, yv = lm.windows(lm.stream(vocab, val_docs)[:lm.MAX_VAL_TOKENS + 1], b.params["seq_len"])
    ppl = lm.perplexity(b.model, xv, yv)
    uni = lm.unigram_perplexity(x, yv, len(vocab))
    print(f"default lm: held-out perplexity {ppl:.1f} (full softmax), unigram {uni:.1f}, "
          f"{yv.size:,} held-out words of {len(val_docs):,} documents")
    if lm.fingerprint(corpus) == b.metrics["corpus_fingerprint"]:   # the Python the default was trained on
        assert vocab == lm.make_vocab(corpus, train_docs, b.params["vocab_size"])  # the same split and words
        assert ppl == pytest.approx(b.metrics["val_perplexity"], rel=1e-3)     # what metrics.json says
        assert uni == pytest.approx(b.metrics["unigram_perplexity"], rel=1e-6)
    assert ppl < 0.5 * uni                                                   # a wide margin
    assert b.params["softmax"] == "sampled"


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def test_generation_is_deterministic_and_greedy_at_temperature_zero(default_bundle):
    b = default_bundle
    r1 = lm.predict(b, "return the", n_words=12, temperature=0, seed=1)
    r2 = lm.predict(b, "return the", n_words=12, temperature=0, seed=99)
    assert r1 == r2 and len(r1["tokens"]) == 12 and r1["continuation"] == " ".join(r1["tokens"])
    # greedy: re-reading prompt + continuation in one pass, each generated word is the argmax there
    vocab = b.vocabs["words"]
    ids = vocab.encode(["return", "the"] + r1["tokens"])
    probs = tf.nn.softmax(b.model(np.array([ids], dtype=np.int32))).numpy()[0]
    probs[:, [vocab.index[s] for s in lm.SPECIALS]] = 0
    assert probs[1:-1].argmax(-1).tolist() == ids[2:]
    np.testing.assert_allclose(r1["token_probs"], probs[np.arange(1, len(ids) - 1), ids[2:]], rtol=1e-4)


def test_sampling_is_reproducible_per_seed_and_next_word_is_the_full_softmax(default_bundle):
    b = default_bundle
    a = lm.predict(b, "the file", n_words=15, temperature=1.0, top_k=0, seed=5)
    assert a == lm.predict(b, "the file", n_words=15, temperature=1.0, top_k=0, seed=5)
    assert a["tokens"] != lm.predict(b, "the file", n_words=15, temperature=1.0, top_k=0, seed=6)["tokens"]
    assert not set(a["tokens"]) & set(lm.SPECIALS)
    probs = list(a["next_word"].values())
    assert len(probs) == 10 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    top1 = lm.predict(b, "the file", n_words=5, temperature=1.5, top_k=1, seed=3)
    assert top1["tokens"] == lm.predict(b, "the file", n_words=5, temperature=0)["tokens"]


def test_prompt_words_outside_the_vocabulary_are_named(default_bundle):
    r = lm.predict(default_bundle, "Return the qwertyzzz value", n_words=3, temperature=0)
    assert r["prompt"] == ["return", "the", "qwertyzzz", "value"] and r["unknown"] == ["qwertyzzz"]


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("  \n ", "empty"), ("?!? ... ---", "no words"),
    ("qwertyzzz zzzqqq", "None of the prompt's words"), ("the " * 600, "limit is 2,000"),
])
def test_predict_refuses_bad_prompts_with_a_sentence(default_bundle, text, words):
    with pytest.raises(SeqvizError, match=words):
        lm.predict(default_bundle, text)


# ---------------------------------------------------------------------------------------------
# CLI and benchmark
# ---------------------------------------------------------------------------------------------
def test_cli_predict_lm_prints_the_design_json(store_with_defaults, capsys):
    code = cli.main(["predict", "lm", "--text", "return the", "--set", "temperature=0", "--set", "n_words=8"])
    out, err = capsys.readouterr()
    assert code == 0
    r = json.loads(out.strip().splitlines()[-1])
    assert set(r) >= {"continuation", "next_word"} and len(r["continuation"].split()) == 8
    assert all(isinstance(p, float) for p in r["next_word"].values()) and len(r["next_word"]) == 10
    code = cli.main(["predict", "lm", "--text", "return the", "--set", "temperature=0", "--set", "n_words=8"])
    assert json.loads(capsys.readouterr()[0])["continuation"] == r["continuation"]


def test_cli_train_refuses_num_sampled_not_below_v_before_training(tmp_store, tmp_path):
    p = subprocess.run([sys.executable, "-m", "seqviz", "train", "lm", "--set", "vocab_size=300",
                        "--set", "num_sampled=300", "--set", "corpus=zipf"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        "error: num_sampled (300) must be smaller than the vocabulary (V = 300 words); "
        "lower num_sampled or raise vocab_size."]


def test_bench_sampled_softmax_times_both_sides_on_the_same_batches(capsys):
    r = bench.sampled_softmax(sizes=(400, 2000), hidden=16, num_sampled=32, warmup=1, timed=3)
    assert [row["V"] for row in r["results"]] == [400, 2000] and r["ratio_50k"] is None
    for row in r["results"]:
        assert list(row) == ["V", "full_s", "sampled_s", "ratio"]
        assert row["full_s"] > 0 and row["sampled_s"] > 0
        assert row["ratio"] == pytest.approx(row["full_s"] / row["sampled_s"], rel=0.02)
    err = capsys.readouterr().err
    assert "V=    400: full" in err and "V=  2,000: full" in err


def test_prompt_perplexity_is_the_models_surprise_at_each_word_after_the_first(default_bundle):
    b = default_bundle
    vocab, model = b.vocabs["words"], b.model
    r = lm.predict(b, "return the value of the zzqx file", n_words=0)
    ids = vocab.encode(lm.tokenize("return the value of the zzqx file"))
    logits = model(np.array([ids], np.int32))[0].numpy().astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    scored = [t for t in range(1, len(ids)) if ids[t] != vocab.unk_id]         # "zzqx" is skipped as a target
    assert len(scored) == len(ids) - 2
    want = np.exp(-np.mean([logp[t - 1, ids[t]] for t in scored]))
    assert r["prompt_perplexity"] == pytest.approx(want, rel=1e-4)
    assert lm.predict(b, "return", n_words=0)["prompt_perplexity"] is None     # one word: nothing to score
