"""The language model: one set of output weights for both softmaxes, sparse sampled gradients and updates,
the corpora, generation, the default model against a unigram baseline, the CLI and the benchmark."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from seqviz import bench, cli, lm, store, training
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.vocab import Vocab
from tests.conftest import ROOT

V, H = 60, 8
TINY = {"vocab_size": 200, "num_sampled": 16, "embed_dim": 8, "units": 8, "seq_len": 10, "epochs": 1,
        "batch_size": 64, "corpus": "zipf"}


def _model(softmax="sampled", num_sampled=10):
    tf.keras.utils.set_random_seed(3)
    params = resolve(lm.PARAMS, {"vocab_size": V, "num_sampled": num_sampled, "embed_dim": 6, "units": H,
                                 "softmax": softmax})
    model = lm.build(params, {"words": Vocab([f"w{i}" for i in range(V - 3)], specials=lm.SPECIALS)})
    model.compile(lm.optimizer(params))
    return model


def _batch(seed=0, b=4, t=5):
    rng = np.random.default_rng(seed)
    return rng.integers(3, V, (b, t)).astype(np.int32), rng.integers(3, V, (b, t)).astype(np.int32)


# ---------------------------------------------------------------------------------------------
# One set of weights, sparse sampled gradients
# ---------------------------------------------------------------------------------------------
def test_sampled_and_full_paths_use_the_very_same_variable_objects(monkeypatch):
    model = _model()
    x, y = _batch()
    W, b = model.projection.kernel, model.projection.bias
    assert W.shape == (V, H) and b.shape == (V,)
    # exactly one V x H matrix in the model: no copy for inference
    assert [v for v in model.trainable_variables if v.shape == (V, H)] == [W]

    seen = {}
    real = tf.nn.sampled_softmax_loss

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(tf.nn, "sampled_softmax_loss", spy)
    out, _ = model.hidden(x)
    model.projection.sampled_loss(out, y, model.sampler, [0, 1])
    assert seen["weights"] is W and seen["biases"] is b          # identity, not equal values
    assert seen["num_sampled"] == 10 and seen["num_classes"] == V
    assert seen["sampled_values"][0].shape == (10,)               # our stateless sampler's words

    with tf.GradientTape() as tape:
        logits = model(x)                                          # the full softmax of evaluation/generation
    watched = tape.watched_variables()
    assert any(v is W for v in watched) and any(v is b for v in watched)
    # the full logits are h·Wᵀ + b with those variables
    out, _ = model.hidden(x)
    expected = out.numpy() @ W.numpy().T + b.numpy()
    np.testing.assert_allclose(logits.numpy(), expected, atol=1e-5)


def test_full_loss_is_the_softmax_cross_entropy_over_all_words():
    model = _model()
    x, y = _batch(1)
    out, _ = model.hidden(x)
    logits = out.numpy() @ model.projection.kernel.numpy().T + model.projection.bias.numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(logp, y[..., None], -1).mean()
    assert float(model.projection.full_loss(out, y)) == pytest.approx(expected, rel=1e-5)


def test_sampled_loss_gradient_reaches_the_projection_as_sparse_rows():
    model = _model(num_sampled=10)
    x, y = _batch(2)
    W, b, E = model.projection.kernel, model.projection.bias, model.embedding.embeddings
    with tf.GradientTape() as tape:
        out, _ = model.hidden(x)
        loss = model.projection.sampled_loss(out, y, model.sampler, [0, 7])
    gW, gb, gE = tape.gradient(loss, [W, b, E])
    for g in (gW, gb, gE):
        assert isinstance(g, tf.IndexedSlices)
    rows = set(gW.indices.numpy().tolist())
    assert set(y.ravel().tolist()) <= rows                                    # every true word's row
    assert len(rows) <= len(set(y.ravel().tolist())) + model.num_sampled        # plus at most the samples
    assert float(tf.reduce_sum(tf.abs(gW.values))) > 0                          # the gradient is not zero
    assert set(gE.indices.numpy().tolist()) == set(x.ravel().tolist())

    with tf.GradientTape() as tape:
        loss = model.projection.full_loss(model.hidden(x)[0], y)
    gW_full = tape.gradient(loss, W)
    assert isinstance(gW_full, tf.Tensor)                                     # dense: every row gets some
    assert np.count_nonzero(np.abs(gW_full.numpy()).sum(1)) == V


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


def test_the_sampler_draws_what_tensorflows_unique_log_uniform_sampler_draws_but_statelessly():
    v, k, n = 60, 10, 600
    sampler = lm.LogUniformSampler(v, k)
    labels = tf.constant([[0], [5], [59]], tf.int64)
    ours = np.zeros(v)
    for i in range(n):
        sampled, true_p, sampled_p = sampler(labels, [3, i])
        ids = sampled.numpy()
        assert len(set(ids.tolist())) == k and ids.min() >= 0 and ids.max() < v       # k distinct words
        ours[ids] += 1
    again = sampler(labels, [3, 17])[0].numpy()
    assert again.tolist() == sampler(labels, [3, 17])[0].numpy().tolist()               # same seed, same words
    assert again.tolist() != sampler(labels, [3, 18])[0].numpy().tolist()
    assert float(tf.reduce_sum(sampler.inclusion)) == pytest.approx(k, rel=1e-4)
    # the reference: TensorFlow's own sampler, same distribution, inclusion frequency per word
    theirs, expected = np.zeros(v), np.zeros(v)
    for i in range(n):
        ids, _, counts = tf.random.log_uniform_candidate_sampler(labels, 1, k, True, v, seed=i)
        theirs[ids.numpy()] += 1
        expected[ids.numpy()] += counts.numpy()
    assert np.abs(ours / n - theirs / n).max() < 0.08
    np.testing.assert_allclose(sampler.inclusion.numpy()[:5], (expected / np.maximum(theirs, 1))[:5], rtol=0.1)
    np.testing.assert_allclose(sampler.inclusion.numpy()[:5], ours[:5] / n, atol=0.06)


# ---------------------------------------------------------------------------------------------
# Corpora and uploads
# ---------------------------------------------------------------------------------------------
def test_python_corpus_is_real_english_from_docstrings_without_importing_anything():
    fresh = {"this", "antigravity", "turtle", "tkinter", "idlelib"} - set(sys.modules)
    corpus = lm.python_corpus()
    assert lm.python_corpus() is corpus                                      # cached in-process
    assert fresh.isdisjoint(sys.modules)                                      # parsed, never imported
    words = [w for d in corpus.docs for w in d]
    types = set(words)
    print(f"python corpus: {len(corpus.docs)} documents, {len(words):,} tokens, {len(types):,} types")
    assert len(words) > 250_000 and 8_000 < len(types) < 20_000
    assert all(w == w.lower() and not w.startswith("'") for w in list(types)[:2000])
    assert {"return", "the", "string", "object", "file"} <= types


def test_zipf_corpus_has_zipfian_frequencies_and_a_fixed_vocabulary():
    corpus = lm.make_zipf(1003, n_tokens=50_000, seed=1)
    assert corpus.words[:3] == ["w1", "w2", "w3"] and len(corpus.words) == 1000
    counts = np.bincount(lm.zipf_ids(1000, 50_000, seed=1), minlength=1000)
    assert counts[0] > counts[9] > counts[99]                                  # rank 1 most frequent
    vocab = lm.make_vocab(corpus, corpus.docs, 1003)
    assert len(vocab) == 1003 and vocab.tokens[:4] == ["<pad>", "<unk>", "<eos>", "w1"]


def test_read_upload_splits_a_text_file_into_documents():
    text = "\n\n".join(f"Paragraph {i}: the cat sat on the mat, and it's happy." for i in range(60))
    corpus = lm.read_upload(text.encode(), "mine.txt")
    assert len(corpus.docs) == 60 and corpus.docs[0][:3] == ["paragraph", "0", "the"]
    assert "it's" in corpus.docs[0]


@pytest.mark.parametrize("raw, words", [
    (b"", "empty"),
    (b"  \n\n ", "empty"),
    (b"\x00\x01\x02binary" * 100, "binary"),
    ("caf\xe9 ".encode("latin-1") * 300, "not UTF-8"),
    (b"only a few words here", "at least 500 words"),
    (b"x" * (6 * 2**20), "limit is 5 MB"),
])
def test_read_upload_refuses_bad_files_with_a_sentence(raw, words, monkeypatch):
    monkeypatch.setenv("SEQVIZ_MAX_FILE_MB", "5")
    with pytest.raises(SeqvizError, match=words):
        lm.read_upload(raw, "bad.txt")


def test_num_sampled_must_be_smaller_than_the_vocabulary(tmp_store):
    with pytest.raises(SeqvizError, match=r"num_sampled \(512\) must be smaller than the vocabulary \(V = 100"):
        lm.check(resolve(lm.PARAMS, {"vocab_size": 100, "num_sampled": 512}))
    with pytest.raises(SeqvizError, match="vocab_size must be between 10 and 100000"):
        training.plan("lm", {"vocab_size": 200_000})
    with pytest.raises(SeqvizError, match="num_sampled must be between 1 and 16384"):
        training.plan("lm", {"num_sampled": 0})
    # V after building the vocabulary: an upload with fewer word types than num_sampled
    text = " ".join(f"w{i % 40}" for i in range(2000)).encode()
    p = training.plan("lm", {**TINY, "num_sampled": 100}, text, "small.txt")
    with pytest.raises(SeqvizError, match=r"must be smaller than the vocabulary \(V = 4\d words\)"):
        training.train(p)


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


def test_race_summary_compares_the_two_sides_after_the_same_number_of_epochs():
    def trace(step_s, ppls):
        return lm.RaceTrace([{"t": 0, "step_s": 5.0, "loss": 1}] + [{"t": 0, "step_s": s, "loss": 1} for s in step_s],
                            [{"t": 0, "val_perplexity": p} for p in ppls], 800.0)

    s = lm.race_summary({"sampled": trace([0.01, 0.02, 0.03], [300, 250, 240]),
                         "full": trace([0.2, 0.1, 0.3], [280])})
    assert s["speedup"] == pytest.approx(0.2 / 0.02)      # medians, the first (graph-building) step left out
    assert s["epochs"] == 1 and s["ppl_ratio"] == pytest.approx(300 / 280)
    assert s["val_perplexity"] == {"sampled": 240, "full": 280} and s["unigram_perplexity"] == 800


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


def test_the_held_out_split_is_by_content_so_it_survives_a_changed_corpus():
    docs = [[f"w{i}", f"x{i % 7}", "the"] for i in range(400)]
    train, val = lm.split(lm.Corpus(docs, "t"), seed=0)
    assert 30 < len(val) < 90 and len(train) + len(val) == 400 and not set(map(tuple, train)) & set(map(tuple, val))
    # a document more at the front, one less somewhere: every other document stays on its side
    train2, val2 = lm.split(lm.Corpus([["new", "doc"]] + docs[:100] + docs[101:], "t"), seed=0)
    assert set(map(tuple, val2)) - {("new", "doc")} == set(map(tuple, val)) - {tuple(docs[100])}
    assert lm.split(lm.Corpus(docs, "t"), seed=1)[1] != val                 # another seed, another split
    tiny = lm.split(lm.Corpus(docs[:3], "t"), seed=0)
    assert len(tiny[1]) >= 1 and len(tiny[0]) + len(tiny[1]) == 3


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


def test_choose_applies_temperature_and_top_k():
    p = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    rng = np.random.default_rng(0)
    assert lm.choose(p, 0, 0, rng) == 4 and lm.choose(p, 0, 0, rng, banned=[4]) == 3
    draws = [lm.choose(p, 1.0, 2, rng) for _ in range(400)]
    assert set(draws) == {3, 4}                                        # top-2 only
    assert abs(np.mean(np.array(draws) == 4) - 0.4 / 0.7) < 0.08
    cold = [lm.choose(p, 0.2, 0, rng) for _ in range(400)]             # p^5: word 4 dominates
    assert np.mean(np.array(cold) == 4) > 0.7


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


@pytest.mark.parametrize("argv, words", [
    (["predict", "lm", "--text", ""], "empty"),
    (["predict", "lm", "--text", "qwertyzzz zzzqqq"], "None of the prompt's words"),
    (["predict", "lm", "--text", "the", "--set", "temperature=-1"], "temperature must be between 0 and 5"),
    (["train", "lm", "--set", "num_sampled=20000"], "num_sampled must be between 1 and 16384"),
    (["train", "lm", "--set", "vocab_size=5"], "vocab_size must be between 10 and 100000"),
])
def test_cli_bad_input_exits_2_with_one_line(store_with_defaults, capsys, argv, words):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err


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


def test_keep_top_k_keeps_what_a_stable_sort_keeps():
    """The O(V) top-k cut keeps exactly the words a stable descending sort would (ties: lowest ids)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        v = int(rng.integers(2, 60))
        logp = rng.choice([-np.inf, -3.0, -2.0, -1.0, 0.0], size=v) + rng.random(v) * (rng.random() < 0.5)
        k = int(rng.integers(1, v))
        expected = logp.copy()
        expected[np.argsort(-expected, kind="stable")[k:]] = -np.inf
        assert np.array_equal(lm.keep_top_k(logp, k), expected)


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
