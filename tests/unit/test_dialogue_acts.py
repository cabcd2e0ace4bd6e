"""The hierarchical BiLSTM-CRF: corpus, masks at both levels, bucketing, the default model, uploads, CLI.

The tests here need no model; those that train or load one are in tests/model/test_dialogue_acts.py."""

import numpy as np
import pytest
import tensorflow as tf

from seqviz import dialogue_acts as da, store, training
from seqviz.errors import SeqvizError
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
