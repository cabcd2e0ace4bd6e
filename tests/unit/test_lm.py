"""The language model: one set of output weights for both softmaxes, sparse sampled gradients and updates,
the corpora, generation, the default model against a unigram baseline, the race's plan, the CLI and the benchmark.

The tests here need no model; those that train or load one are in tests/model/test_lm.py."""
import sys

import numpy as np
import pytest
import tensorflow as tf

from seqviz import cli, lm, training
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.vocab import Vocab
from tests.conftest import store_entry


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


def test_race_summary_compares_the_two_sides_after_the_same_number_of_epochs():
    def trace(step_s, ppls):
        return lm.RaceTrace([{"t": 0, "step_s": 5.0, "loss": 1}] + [{"t": 0, "step_s": s, "loss": 1} for s in step_s],
                            [{"t": 0, "val_perplexity": p} for p in ppls], 800.0)

    s = lm.race_summary({"sampled": trace([0.01, 0.02, 0.03], [300, 250, 240]),
                         "full": trace([0.2, 0.1, 0.3], [280])})
    assert s["speedup"] == pytest.approx(0.2 / 0.02)      # medians, the first (graph-building) step left out
    assert s["epochs"] == 1 and s["ppl_ratio"] == pytest.approx(300 / 280)
    assert s["val_perplexity"] == {"sampled": 240, "full": 280} and s["unigram_perplexity"] == 800


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


def test_choose_applies_temperature_and_top_k():
    p = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    rng = np.random.default_rng(0)
    assert lm.choose(p, 0, 0, rng) == 4 and lm.choose(p, 0, 0, rng, banned=[4]) == 3
    draws = [lm.choose(p, 1.0, 2, rng) for _ in range(400)]
    assert set(draws) == {3, 4}                                        # top-2 only
    assert abs(np.mean(np.array(draws) == 4) - 0.4 / 0.7) < 0.08
    cold = [lm.choose(p, 0.2, 0, rng) for _ in range(400)]             # p^5: word 4 dominates
    assert np.mean(np.array(cold) == 4) > 0.7


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


def test_the_lm_race_is_planned_once_per_setting(tmp_store):
    knobs = lm.race_knobs()
    assert "softmax" not in [p.name for p in knobs] and next(p for p in knobs if p.name == "epochs").default == 1
    values = {p.name: p.default for p in knobs} | {"corpus": "zipf", "vocab_size": 300, "num_sampled": 20}
    race = lm.plan_race(values)
    assert lm.race_key(race.key) == race.key and not race.ran
    assert {side: p.params["softmax"] for side, p in race.runs.items()} == {"sampled": "sampled", "full": "full"}
    assert {p.name for p in race.runs.values()} == {f"race-{race.key}-sampled", f"race-{race.key}-full"}
    assert lm.plan_race(values).key == race.key != lm.plan_race({**values, "seed": 1}).key
    with pytest.raises(SeqvizError, match="num_sampled"):
        lm.plan_race({**values, "num_sampled": 300})
    for side in lm.RACE_SIDES:     # both models saved: the same settings show that race instead of running it
        store_entry("lm", lm.race_name(race.key, side), {"params": {}}, {})
    assert lm.plan_race(values).ran
    assert lm.race_traces({}, race.key) == {"sampled": None, "full": None}      # saved without a trace
    assert lm.race_traces({}, "") == {} and lm.race_jobs(race.key) == {}
    assert lm.race_key("0123456789") == "0123456789"
    assert [lm.race_key(k) for k in ("012345678", "0123456789a", "ABCDEF0123", "²123456789", None)] == [""] * 5
