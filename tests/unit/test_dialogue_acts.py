"""The hierarchical BiLSTM-CRF: corpus, masks at both levels, bucketing, the default model, uploads, CLI."""
import json

import numpy as np
import pytest
import tensorflow as tf

from seqviz import cli, crf, dialogue_acts as da, store, training
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.vocab import Vocab

TINY = {"n_dialogues": 40, "max_utterances": 12, "embed_dim": 8, "word_units": 8, "context_units": 8,
        "epochs": 1, "batch_size": 8}


def test_toy_dialogues_follow_the_chain_and_reuse_ambiguous_replies():
    d = da.make_toy(300, max_utterances=20, seed=3)
    seen_amb = {}
    for utts, tags, amb in zip(d.utterances, d.tags, d.ambiguous):
        assert tags[0] == "greeting" and len(tags) <= 20 and len(utts) == len(tags) == len(amb)
        for a, b in zip(tags, tags[1:]):
            assert da.CHAIN[a].get(b, 0) > 0 or b == "thanks", (a, b)   # thanks: the wrap-up rule
        for u, t, is_amb in zip(utts, tags, amb):
            assert is_amb == (u in da.AMBIGUOUS)
            if is_amb:
                seen_amb.setdefault(u, set()).add(t)
    assert all(seen_amb[w] == {"yes_answer", "backchannel"} for w in da.AMBIGUOUS)  # same words, two acts


def test_parse_reads_speakers_and_refuses_bad_dialogues():
    speakers, utts = da.parse("A: hi there\n\nB:  hello\nno speaker here\nhttp://x.org yes")
    assert speakers == ["A", "B", "", ""] and utts == ["hi there", "hello", "no speaker here", "http://x.org yes"]
    for text, words in [("", "empty"), ("  \n", "empty"), ("A: just one line", "at least two"),
                        ("\n".join(["A: hi"] * 5000), "5,000 utterances; the limit is 1,000"),
                        ("A: hi\nB: ?!?\nA: bye", "Line 2"), ("x" * 60_000, "limit is 50,000")]:
        with pytest.raises(SeqvizError, match=words):
            da.parse(text)


@pytest.mark.parametrize("how, want", [("mean", lambda real: real.mean(0)), ("max", lambda real: real.max(0)),
                                       ("last", lambda real: real[-1])])
def test_masked_pooling_reads_only_the_real_words_and_gives_zeros_for_none(how, want):
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32))
    mask = tf.constant([[True, True, False, False], [False, False, False, False], [True] * 4])
    out = da.MaskedPool(how)(x, mask=mask).numpy()
    np.testing.assert_allclose(out[0], want(x.numpy()[0, :2]), rtol=1e-6)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_allclose(out[2], want(x.numpy()[2]), rtol=1e-6)
    assert da.MaskedPool.from_config(da.MaskedPool(how).get_config()).how == how


def test_batches_are_bucketed_windows_padded_only_to_their_own_size():
    rng = np.random.default_rng(0)
    ids = [[list(rng.integers(2, 50, size=rng.integers(1, 8))) for _ in range(n)] for n in (3, 5, 70, 4, 6, 2)]
    ids[1][2] = list(range(2, 402))                      # one 400-word utterance in dialogue 1
    tags = [list(rng.integers(0, 4, size=len(d))) for d in ids]
    params = {"window": 16, "batch_size": 2}
    ds, n = da.batches(ids, tags, params)
    shapes = [(x.shape, y.shape) for x, y in ds.as_numpy_iterator()]
    assert n == len(shapes) == 5                         # 70 utterances -> 5 windows; 10 windows / 2
    assert sum(y[0] for _, y in shapes) == 10
    assert max(x[1] for x, _ in shapes) == 16            # windows, never the 70-utterance dialogue
    assert sorted(x[2] for x, _ in shapes).count(400) == 1   # only the batch holding the long utterance
    total = sum(int((x != 0).any(-1).sum()) for x, _ in ds.as_numpy_iterator())
    assert total == sum(map(len, ids))                   # every utterance exactly once


def test_padding_at_both_levels_changes_nothing():
    tf.keras.utils.set_random_seed(2)
    vocabs = {"words": Vocab([f"w{i}" for i in range(30)]), "tags": Vocab(["a", "b", "c"], specials=())}
    model = da.build(resolve(da.PARAMS, TINY), vocabs)
    dialogue = [[2, 3, 4], [5], [6, 7]]
    (em, tr), = da.scores(model, [dialogue])
    padded = da.pad([dialogue, [[2] * 9] * 7])[:1]       # 7 utterance slots, 9 word slots
    tags, emissions, lengths, _ = model(padded, training=False)
    assert padded.shape == (1, 7, 9) and int(lengths[0]) == 3
    np.testing.assert_allclose(emissions.numpy()[0, :3], em, atol=1e-5)
    assert tags.numpy()[0, :3].tolist() == crf.viterbi(em, tr).path


@pytest.fixture(scope="module")
def default_bundle():
    return store.load("dialogue-acts", "default")


def test_default_model_tags_held_out_dialogues_and_the_crf_resolves_ambiguous_replies(default_bundle):
    b = default_bundle
    d = da.make_toy(150, b.params["max_utterances"], seed=424_242)
    ids = [da.encode(b.vocabs["words"], u) for u in d.utterances]
    m = da.evaluate(b.model, ids, [b.vocabs["tags"].encode(t) for t in d.tags], d.ambiguous)
    print(f"default dialogue-acts model: tag accuracy CRF {m['val_accuracy']:.4f} vs per-utterance argmax "
          f"{m['val_greedy_accuracy']:.4f}; on {m['n_val_ambiguous']} ambiguous replies CRF "
          f"{m['val_ambiguous_accuracy']:.4f} vs argmax {m['val_ambiguous_greedy_accuracy']:.4f}")
    assert m["val_accuracy"] >= 0.95
    assert m["val_ambiguous_accuracy"] >= 0.95
    assert m["val_ambiguous_accuracy"] >= m["val_ambiguous_greedy_accuracy"] + 0.10  # context decides
    assert m["val_accuracy"] > m["val_greedy_accuracy"]       # the transitions do real work


def test_predict_json_can_be_rechecked_from_emissions_and_transitions(default_bundle):
    r = da.predict(default_bundle, da.EXAMPLE)
    n, k = len(r["utterances"]), len(r["labels"])
    assert n == 12 and r["speakers"][:2] == ["A", "B"]
    em, tr, marg = np.array(r["emissions"]), np.array(r["transitions"]), np.array(r["marginals"])
    assert em.shape == marg.shape == (n, k) and tr.shape == (k, k)
    np.testing.assert_allclose(marg.sum(1), 1.0, atol=1e-9)
    best = crf.viterbi(em, tr)
    assert r["tags"] == [r["labels"][i] for i in best.path] and r["path_score"] == pytest.approx(best.score)
    assert r["greedy_tags"] == [r["labels"][i] for i in em.argmax(1)]
    # the model's own tf2crf decode agrees with the numpy one
    tf_tags = default_bundle.model(da.pad([da.encode(default_bundle.vocabs["words"], r["utterances"])]))[0]
    assert tf_tags.numpy()[0].tolist() == best.path
    # context decides the same word: "yeah" after a yes/no question vs after a statement
    assert (r["tags"][3], r["tags"][5]) == ("yes_answer", "backchannel")


def test_predict_flags_unknown_utterances_and_refuses_all_unknown(default_bundle):
    r = da.predict(default_bundle, "A: hi\nB: zzqx wwqv\nA: bye")
    assert r["unknown_utterances"] == [1]
    with pytest.raises(SeqvizError, match="vocabulary"):
        da.predict(default_bundle, "A: zzqx\nB: wwqv")


@pytest.mark.parametrize("csv, words", [
    (b"conversation_id,text,act\n1,hi,greet\n", "missing utterance"),
    (b"conversation_id,utterance,act\n1,hi,greet\n1,yo,\n2,bye,bye\n", "1 rows have an empty act"),
    (b"conversation_id,utterance,act\n1,hi,greet\n2,yo,greet\n", "single act"),
    (b"conversation_id,utterance,act\n1,hi,greet\n1,bye,bye\n", "at least 2"),
    ("conversation_id,utterance,act\n1,caf\xe9,greet\n".encode("latin-1"), "not UTF-8"),
])
def test_csv_upload_is_validated(csv, words):
    with pytest.raises(SeqvizError, match=words):
        da.read_upload(csv, "swda.csv")


def _swda_like_csv() -> bytes:
    """A Switchboard-style export made from generated dialogues, with a speaker column."""
    d = da.make_toy(60, max_utterances=12, seed=9)
    rows = ["conversation_id,utterance,act,speaker"]
    for c, (utts, tags, spk) in enumerate(zip(d.utterances, d.tags, d.speakers)):
        rows += [f"conv{c},{u},{t},{s}" for u, t, s in zip(utts, tags, spk)]
    return "\n".join(rows).encode()


def test_csv_upload_trains_and_predicts(tmp_store):
    data = da.read_upload(_swda_like_csv(), "swda.csv")
    assert len(data.utterances) == 60 and data.speakers[0][0] == "A"
    p = training.plan("dialogue-acts", {**TINY, "epochs": 6, "learning_rate": 0.02}, _swda_like_csv(),
                      "swda.csv", "swda")
    events = []
    bundle = training.train(p, on_event=events.append)
    begin, *_, last = [e for e in events if e["type"] in ("begin", "batch", "epoch")]   # phases aside
    assert begin["steps"] == 7 and last["progress"] == pytest.approx(1.0)   # 51 dialogues / 8: known steps
    assert max(e.get("progress", 0) for e in events) <= 1.0 + 1e-9
    assert bundle.metrics["val_accuracy"] > 0.5 and bundle.data["filename"] == "swda.csv"
    r = da.predict(store.load("dialogue-acts", "swda"), "A: hello\nB: hi how are you\nA: did you see the game")
    assert r["labels"] == sorted(da.TAGS) and len(r["tags"]) == 3


def test_cli_predict_dialogue_acts(store_with_defaults, capsys):
    code = cli.main(["predict", "dialogue-acts", "--text", "A: hi\nB: hello\nA: is it cold today\nB: yeah"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and set(r) >= {"utterances", "labels", "tags", "greedy_tags", "path_score", "marginals",
                                    "emissions", "transitions"}
    assert r["tags"][2:] == ["yn_question", "yes_answer"]
    code = cli.main(["predict", "dialogue-acts", "--text", "A: only one"])
    assert code == 2 and "at least two" in capsys.readouterr().err


def test_bucketed_scoring_bounds_padding_and_equals_one_dialogue_at_a_time(default_bundle):
    d = da.make_toy(6, seed=31)
    ids = [da.encode(default_bundle.vocabs["words"], u) for u in d.utterances]
    ids[2] = ids[2] + [list(range(2, 80))]                # one long utterance: that dialogue goes alone
    together = da.scores_bucketed(default_bundle.model, ids, max_cells=400)
    for dialogue, (em, tr) in zip(ids, together):
        ((em1, tr1),) = da.scores(default_bundle.model, [dialogue])
        np.testing.assert_allclose(em, em1, atol=1e-5)
        np.testing.assert_array_equal(tr, tr1)


# ---------------------------------------------------------------------------------------------
# Variants: head=softmax (what the CRF buys) and pooling=mean|last|max
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", [{"head": "softmax"}, {"pooling": "last"}, {"pooling": "max"}],
                         ids=["softmax", "last", "max"])
def test_each_variant_trains_saves_reloads_bit_exact_and_predicts(tmp_store, variant):
    p = training.plan("dialogue-acts", {**TINY, **variant}, name="variant")
    bundle = training.train(p)
    loaded = store.load("dialogue-acts", "variant")
    assert {k: loaded.params[k] for k in variant} == variant
    for a, b in zip(bundle.model.get_weights(), loaded.model.get_weights()):
        assert np.array_equal(a, b)
    r = da.predict(loaded, da.EXAMPLE)
    assert r == da.predict(bundle, da.EXAMPLE) and len(r["tags"]) == len(r["utterances"])
    pooling = variant.get("pooling", "mean")
    assert loaded.model.get_layer("encode_utterances").layer.get_layer(f"{pooling}_over_words").how == pooling
    if variant.get("head") == "softmax":   # a CRF without transitions: the per-utterance softmax, exactly
        em = np.array(r["emissions"])
        assert np.all(np.array(r["transitions"]) == 0) and r["tags"] == r["greedy_tags"]
        softmax = np.exp(em - em.max(1, keepdims=True))
        np.testing.assert_allclose(r["marginals"], softmax / softmax.sum(1, keepdims=True), atol=1e-6)
        assert not loaded.model.get_layer("crf").trainable_weights


def test_the_softmax_head_loss_is_the_per_utterance_cross_entropy():
    """tf2crf's CRF loss with the transitions at zero = the summed per-utterance softmax cross-entropy."""
    from tensorflow_addons.text.crf import crf_log_likelihood
    rng = np.random.default_rng(0)
    em = rng.normal(size=(2, 5, 4)).astype(np.float32)
    tags, lengths = rng.integers(0, 4, size=(2, 5)), np.array([5, 3])
    nll = -crf_log_likelihood(em, tags, lengths, tf.zeros((4, 4)))[0].numpy()
    ce = [sum(-(em[b, t, tags[b, t]] - np.log(np.exp(em[b, t]).sum())) for t in range(n))
          for b, n in enumerate(lengths)]
    np.testing.assert_allclose(nll, ce, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# An upload's own split (train / val / test)
# ---------------------------------------------------------------------------------------------
def _split_csv(splits: list[str], extra_test_word: str = "") -> bytes:
    """Generated dialogues as a CSV with a split column: conversation c gets splits[c % len(splits)]."""
    d = da.make_toy(40, max_utterances=10, seed=5)
    rows = ["conversation_id,utterance,act,speaker,split"]
    for c, (utts, tags, spk) in enumerate(zip(d.utterances, d.tags, d.speakers)):
        split = splits[c % len(splits)]
        rows += [f"conv{c},{u}{' ' + extra_test_word if split == 'test' else ''},{t},{s},{split}"
                 for u, t, s in zip(utts, tags, spk)]
    return "\n".join(rows).encode()


def test_a_split_column_trains_on_train_and_reports_on_test(tmp_store):
    raw = _split_csv(["train", "train", "val", "test"], extra_test_word="zebra")
    data = da.read_upload(raw, "swda.csv")
    assert data.split.count("test") == 10 and data.split.count("val") == 10 and data.split.count("train") == 20
    bundle = training.train(training.plan("dialogue-acts", TINY, raw, "swda.csv", "split"))
    m = bundle.metrics
    assert m["n_train_dialogues"] == 20 and m["n_val_dialogues"] == 10 and m["n_test_dialogues"] == 10
    assert 0 <= m["test_accuracy"] <= 1 and 0 <= m["test_greedy_accuracy"] <= 1 and "val_accuracy" in m
    assert "zebra" not in bundle.vocabs["words"]          # a word only the test conversations have: never seen


def test_without_a_val_split_the_test_split_is_the_held_out_set(tmp_store):
    bundle = training.train(training.plan("dialogue-acts", TINY, _split_csv(["train", "train", "test"]), "s.csv",
                                          "no-val"))
    m = bundle.metrics
    assert m["n_val_dialogues"] == m["n_test_dialogues"] == 13 and m["val_accuracy"] == m["test_accuracy"]


@pytest.mark.parametrize("splits, words", [
    (["train", "dev"], "has split 'dev'; the split column takes train, val, test"),
    (["train", "val"], "no conversation is in the test split"),
    (["test"], "no conversation is in the train split"),
])
def test_bad_splits_are_refused_with_one_sentence(splits, words):
    with pytest.raises(SeqvizError) as e:
        da.read_upload(_split_csv(splits), "swda.csv")
    assert words in str(e.value) and str(e.value).startswith("swda.csv")


def test_a_conversation_split_across_two_splits_is_refused():
    rows = ["conversation_id,utterance,act,split", "c1,hi,greeting,train", "c1,bye,goodbye,test",
            "c2,hi,greeting,test", "c2,bye,goodbye,test"]
    with pytest.raises(SeqvizError, match="conversation 'c1' is split across test and train"):
        da.read_upload("\n".join(rows).encode(), "s.csv")


# ---------------------------------------------------------------------------------------------
# use_speaker: a learned speaker-change embedding per utterance
# ---------------------------------------------------------------------------------------------
def test_turn_flags_mark_where_the_speaker_changes():
    assert da.turns(["A", "B", "B", "A", "", "A"]) == [1, 2, 1, 2, 1, 1]     # unknown speakers: no change
    assert da.encode(Vocab(["hi", "yeah"]), ["hi", "yeah"], speakers=["A", "B"]) == [[1, 2], [2, 3]]


def test_use_speaker_trains_saves_reloads_bit_exact_and_reads_the_speakers(tmp_store):
    bundle = training.train(training.plan("dialogue-acts", {**TINY, "use_speaker": True}, name="spk"))
    loaded = store.load("dialogue-acts", "spk")
    assert loaded.params["use_speaker"] is True
    assert loaded.model.get_layer("speaker_change").get_weights()[0].shape == (3, da.SPEAKER_DIM)
    for a, b in zip(bundle.model.get_weights(), loaded.model.get_weights()):
        assert np.array_equal(a, b)
    text = "A: did you see the game\nB: yeah\nA: the game was great\nB: yeah"
    r = da.predict(loaded, text)
    assert r == da.predict(bundle, text) and len(r["tags"]) == 4
    # the same words with other speakers are another input: the emissions move
    other = da.predict(loaded, text.replace("B: yeah\nA:", "A: yeah\nA:"))
    assert not np.allclose(r["emissions"], other["emissions"])


def test_use_speaker_without_speakers_is_refused(tmp_store):
    rows = ["conversation_id,utterance,act"] + [f"c{i},hi there,greeting" for i in range(12)] + \
        [f"c{i},bye,goodbye" for i in range(12)]
    p = training.plan("dialogue-acts", {**TINY, "use_speaker": True}, "\n".join(rows).encode(), "nospk.csv", "x")
    with pytest.raises(SeqvizError, match="use_speaker needs to know who says each utterance"):
        training.train(p)
    assert not store.exists("dialogue-acts", "x")


# ---------------------------------------------------------------------------------------------
# Word vectors: the embeddings started from the user's GloVe-format file, frozen or fine-tuned
# ---------------------------------------------------------------------------------------------
def _vectors_files(dim: int = 8, missing: int = 5):
    """A toy corpus as a CSV and a GloVe-format file with a random vector for all but `missing` of its words."""
    d = da.make_toy(60, 12, 0)
    csv = "conversation_id,utterance,act\n" + "".join(
        f'{i},"{u}",{t}\n' for i, (us, ts) in enumerate(zip(d.utterances, d.tags)) for u, t in zip(us, ts))
    words = sorted({w for us in d.utterances for u in us for w in da.tokenize(u)})
    rng = np.random.default_rng(0)
    vectors = {w: rng.normal(size=dim).round(4) for w in words[:-missing]}
    text = f"{len(vectors)} {dim}\n" + "".join(f"{w.upper() if i == 0 else w} {' '.join(map(str, v))}\n"
                                               for i, (w, v) in enumerate(vectors.items()))   # word2vec header
    return csv.encode(), text.encode(), vectors, words


@pytest.mark.parametrize("freeze", [True, False])
def test_word_vectors_start_the_embeddings_frozen_or_fine_tuned(tmp_store, freeze):
    csv, text, vectors, words = _vectors_files()
    knobs = {"epochs": 1, "word_units": 8, "context_units": 8, "embed_dim": 32, "freeze_vectors": freeze}
    bundle = training.train(training.plan("dialogue-acts", knobs, csv, "d.csv", "vec",
                                          files={"vectors": ("glove.txt", text)}))
    assert bundle.params["embed_dim"] == 8                                   # the file's D, not the knob's 32
    vocab = bundle.vocabs["words"]
    in_vocab = [w for w in vectors if w in vocab]
    assert bundle.metrics["vectors_found"] == pytest.approx(len(in_vocab) / (len(vocab) - 2))
    for model in (bundle.model, store.load("dialogue-acts", "vec").model):    # the trained and the reloaded
        emb = model.get_layer("encode_utterances").layer.get_layer("word_embedding").get_weights()[0]
        moved = max(np.abs(emb[vocab.index[w]] - vectors[w]).max() for w in in_vocab)
        assert (moved < 1e-6) if freeze else (moved > 1e-3), moved           # kept exactly, or fine-tuned
    assert da.predict(bundle, "A: is it raining\nB: yeah")["tags"]


@pytest.mark.parametrize("text, words", [
    ("a 1 2 3 4\nb 1 2 3\n", ["glove.txt line 2 has 3 numbers", "line 1 has 4", "same D"]),
    ("a 1 2 3 4\nb 1 2 x 4\n", ["glove.txt line 2", "'x' is not a number"]),
    ("a 1 2 nan 4\n", ["line 1", "NaN"]),
    ("a 1 2\n", ["D = 2", "4 to 300"]),
    ("lonely\n", ["line 1 has a word and no numbers"]),
])
def test_a_bad_vector_file_gets_one_sentence(tmp_store, text, words):
    csv, *_ = _vectors_files()
    with pytest.raises(SeqvizError) as e:
        training.plan("dialogue-acts", {}, csv, "d.csv", files={"vectors": ("glove.txt", text.encode())})
    for w in words:
        assert w in str(e.value), str(e.value)


def test_freeze_vectors_without_a_vector_file_is_refused(tmp_store):
    csv, *_ = _vectors_files()
    with pytest.raises(SeqvizError, match="give a word-vector file"):
        training.plan("dialogue-acts", {"freeze_vectors": True}, csv, "d.csv")


def test_cli_takes_a_vector_file_and_exits_2_on_a_bad_one(tmp_store, tmp_path, capsys):
    csv, text, *_ = _vectors_files()
    (tmp_path / "d.csv").write_bytes(csv)
    (tmp_path / "glove.txt").write_bytes(text)
    (tmp_path / "bad.txt").write_text("a 1 2 3 4\nb 1 2\n")
    base = ["train", "dialogue-acts", "--data", str(tmp_path / "d.csv"), "--set", "epochs=1", "--set", "word_units=8",
            "--set", "context_units=8"]
    assert cli.main(base + ["--vectors", str(tmp_path / "glove.txt"), "--name", "v"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["params"]["embed_dim"] == 8 and summary["data"]["vectors"]["filename"] == "glove.txt"
    assert summary["metrics"]["vectors_found"] > 0.9
    assert cli.main(base + ["--vectors", str(tmp_path / "bad.txt"), "--name", "bad"]) == 2
    assert "bad.txt line 2 has 2 numbers" in capsys.readouterr().err
    assert not (tmp_store / "dialogue-acts" / "bad").exists()
