"""Replays (seqviz.replay): a model is saved with what it did on its probe input before training (epoch 0) and
after every epoch, taken by one callback from each architecture's own `snapshot` (its `predict`).

The tests here need no model; those that train or load one are in tests/model/test_replay.py."""

import numpy as np
import pytest

from seqviz import heldout, replay, training
from seqviz.errors import SeqvizError


TINY = {
    "attention": {"n_train": 200, "epochs": 2, "embed_dim": 8, "units": 8, "attn_dim": 8, "batch_size": 32},
    "dialogue-acts": {"n_dialogues": 40, "max_utterances": 12, "embed_dim": 8, "word_units": 8, "context_units": 8,
                      "epochs": 2, "batch_size": 8},
    "seq2seq": {"n_train": 300, "epochs": 2, "embed_dim": 8, "units": 16, "batch_size": 64, "max_len": 5,
                "mode": "attention"},
    "captioning": {"n_scenes": 60, "feature_dim": 16, "epochs": 2, "units": 8, "image_units": 8, "embed_dim": 8,
                   "batch_size": 64},
    "lm": {"vocab_size": 200, "num_sampled": 16, "embed_dim": 8, "units": 8, "seq_len": 10, "epochs": 2,
           "batch_size": 64, "corpus": "zipf"},
}


@pytest.mark.parametrize("probe, words", [({"text": "  "}, "The probe is empty"), ([], "must be an input"),
                                          ({"text": "x" * 50_001}, "the limit is 50,000")])
def test_bad_probes_are_refused_before_training(tmp_store, probe, words):
    with pytest.raises(SeqvizError, match=words):
        training.plan("attention", TINY["attention"], name="x", probe=probe)


def test_your_data_is_probed_with_a_held_out_example():
    """An upload's probe is its own first held-out example (the page's example may share no word with it)."""
    from seqviz import attention, captioning, dialogue_acts, lm, seq2seq
    from seqviz.params import resolve
    texts = attention.make_toy(100, seed=3)
    p = resolve(attention.PARAMS, {})
    held = heldout.holdout(100, p["seed"])[1][0]
    assert attention.probe(p, texts) == {"text": texts.texts[held]}
    assert attention.probe(resolve(attention.PARAMS, {"max_len": 5}), None) == {"text": "yesterday my sister said no"}
    pairs = seq2seq.read_upload(("source,target\n" + "".join(f"{i}+{i},{2 * i}\n" for i in range(40))).encode())
    p = resolve(seq2seq.PARAMS, {"tokens": "char"})
    p = seq2seq.check_params(p, pairs)
    probe = seq2seq.probe(p, pairs)
    a, b = probe["text"].split("+")
    assert a == b and probe["expected"] == str(2 * int(a))
    assert seq2seq.probe(resolve(seq2seq.PARAMS, {"max_len": 3}), None) == {"text": "2 8 9"}   # cut to max_len
    assert seq2seq.probe(resolve(seq2seq.PARAMS, {"task": "piglatin", "max_len": 4}), None) == {"text": "stri"}
    dialogues = dialogue_acts.make_toy(10, seed=1)
    text = dialogue_acts.probe(resolve(dialogue_acts.PARAMS, {}), dialogues)["text"]
    assert len(dialogue_acts.parse(text)[1]) >= 2
    corpus = lm.read_upload(" ".join(f"word{i % 50}" for i in range(3000)).encode())
    assert lm.probe(resolve(lm.PARAMS, {}), corpus)["text"].startswith("word")
    assert lm.probe(resolve(lm.PARAMS, {}), None) == {"text": lm.EXAMPLE}
    feats = np.arange(40, dtype=np.float32).reshape(10, 4)
    data = captioning.UserData(feats, np.arange(10), ([["a"]] * 10, [["b"]] * 10))
    p = resolve(captioning.PARAMS, {})
    row = captioning.split_images(data.rows, p["seed"])[1][0]
    assert captioning.probe(p, data) == {"features": feats[row].tolist()}
    assert captioning.probe(p, None) == {"text": captioning.EXAMPLE}


def test_stories_say_what_changed_and_when():
    from seqviz import attention, seq2seq
    snap = lambda e, label, att: {"epoch": e, "logs": {}, "tokens": ["no", "pizza", "concert"],  # noqa: E731
                                  "attention": att, "unknown": [False] * 3, "label": label,
                                  "probs": {"food": 0.5 if label == "food" else 0.2, "music": 0.8 if label == "music"
                                            else 0.5}}
    rep = {"probe": {"text": "no pizza concert"},
           "snapshots": [snap(0, "food", [0.3, 0.4, 0.3]), snap(1, "music", [0.1, 0.2, 0.7]),
                         snap(2, "music", [0.05, 0.05, 0.9])]}
    story = attention.story(rep)
    assert story["events"] == ["Epoch 1: the label turns from food to music.", "From epoch 1 on the label is music.",
                               "From epoch 1 on the attention peaks on 'concert'."]
    assert story["lines"]["attention mass on cue words"] == pytest.approx([0.7, 0.9, 0.95])
    assert story["lines"]["P(music)"] == [0.5, 0.8, 0.8]

    dec = lambda e, out, ok: {"epoch": e, "logs": {}, "source": ["1", "2"], "output": out,  # noqa: E731
                              "text": " ".join(out), "gold": ["one", "two"], "correct": ok, "finished": True,
                              "steps": [{"one": 0.6}, {"two": 0.5}], "attention": None, "unknown": [False] * 2}
    story = seq2seq.story({"probe": {"text": "1 2"}, "snapshots": [dec(0, ["one"], False),
                                                                    dec(1, ["one", "two"], True),
                                                                    dec(2, ["one", "two"], True)]})
    assert story["events"] == ["Epoch 1: decodes 'one two' (right)", "First right at epoch 1.",
                               "From epoch 1 on the decode stays 'one two'."]
    assert story["lines"]["positions right"] == [0.5, 1.0, 1.0]


def test_replay_helpers():
    assert replay.first_stable([1, 2, 2, 2]) == 1 and replay.first_stable([1, 2]) == 1
    assert replay.first_stable([3, 3]) == 0 and replay.first_stable([]) is None
    assert replay.compact({"a": np.float32(0.123456789), "b": [float("nan"), 1e-12], "c": np.arange(2)}) == \
        {"a": 0.123457, "b": [None, 1e-12], "c": [0, 1]}


def test_frame_titles_name_keras_metrics_in_words_and_say_what_the_model_predicted():
    from seqviz import replay
    assert replay.metric_name("val_probs_accuracy") == "held-out accuracy"
    assert replay.metric_name("next_2_loss") == "loss (head 2)" and replay.metric_name("loss") == "loss"
    snap = {"epoch": 3, "label": "music", "logs": {"loss": 0.5, "probs_loss": 0.5, "val_probs_accuracy": 0.875,
                                                   "val_loss": 0.6, "val_probs_loss": 0.6, "probs_accuracy": 0.9}}
    assert replay.epoch_title(snap) == ("Epoch 3: loss 0.5 · held-out loss 0.6 · held-out accuracy 0.875 · "
                                        "predicts music")
    assert replay.epoch_title({"epoch": 0, "logs": {}}) == "Epoch 0: the untrained model"
    assert replay.epoch_title({"epoch": 1, "logs": {"loss": None, "val_loss": 2.0}}) == "Epoch 1: held-out loss 2"
