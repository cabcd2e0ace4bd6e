"""The hierarchical BiLSTM-CRF: corpus, masks at both levels, bucketing, the default model, uploads, CLI.

The tests here train or load a model; those that need none are in tests/unit/test_dialogue_acts.py."""
import json

import numpy as np
import pytest
import tensorflow as tf

from seqviz import cli, crf, dialogue_acts as da, store, training
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.vocab import Vocab
from tests.unit.test_dialogue_acts import TINY, _split_csv, _vectors_files


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


def test_a_dialogue_prediction_carries_the_viterbi_decode_the_lattice_draws(default_bundle):
    r = da.predict(default_bundle, da.EXAMPLE)
    best = crf.viterbi(np.array(r["emissions"]), np.array(r["transitions"]))
    old = {k: v for k, v in r.items() if k not in ("cumulative", "backpointers")}   # a replay's older snapshot
    for v in (da.viterbi_of(r), da.viterbi_of(json.loads(json.dumps(r))), da.viterbi_of(old)):
        assert v.path == best.path and v.score == pytest.approx(best.score)
        np.testing.assert_allclose(v.cumulative, best.cumulative, rtol=1e-12)
        np.testing.assert_array_equal(v.backpointers, best.backpointers)
