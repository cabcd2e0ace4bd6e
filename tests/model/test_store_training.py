"""The model store (round trips, atomic writes) and the training service (events, cancel, join, seeds).

The tests here train or load a model; those that need none are in tests/unit/test_store_training.py."""
import json
import os
import threading
import time

import numpy as np
import pytest

from seqviz import attention, store, training
from tests.conftest import TINY


def _train(name="tiny", **over):
    return training.train(training.plan("attention", {**TINY, **over}, name=name))


def _outputs(bundle, texts=("the pizza was great", "no snow but the concert")):
    x = attention.encode(bundle.vocabs["words"], list(texts), 60)
    return bundle.model.predict(x, verbose=0)


def test_store_round_trip_gives_identical_predictions(tmp_store):
    trained = _train()
    assert store.list_models("attention") == ["tiny"]
    entry = tmp_store / "attention" / "tiny"
    assert sorted(p.name for p in entry.iterdir()) == [
        "config.json", "metrics.json", "model.weights.h5", "replay.json", "vocab_labels.json", "vocab_words.json"]
    config = json.loads((entry / "config.json").read_text())
    assert config["params"]["epochs"] == 1 and config["seed"] == 0 and config["versions"]["tensorflow"]
    loaded = store.load("attention", "tiny")
    assert loaded.vocabs["words"] == trained.vocabs["words"] and loaded.params == trained.params
    for a, b in zip(_outputs(trained), _outputs(loaded)):
        np.testing.assert_array_equal(a, b)
    assert loaded.metrics["train_seconds"] > 0 and len(loaded.metrics["history"]["loss"]) == 1
    assert loaded.heldout is None                                     # generated data: nothing kept beside it

    # a user's held-out rows (numbers and strings) come back as they were saved, read without unpickling
    kept = {"row": np.array([3, 7]), "text": np.array(["a b", "c"]), "x": np.ones((2, 4), np.float32)}
    store.save(store.Bundle("attention", "kept", trained.params, trained.model, trained.vocabs, {}, heldout=kept))
    back = store.load("attention", "kept").heldout
    assert back.keys() == kept.keys() and all(np.array_equal(back[k], kept[k]) for k in kept)
    for bad in ({"x": np.zeros(store.HELDOUT_BYTES // 4 + 1, np.float32)}, {"o": np.array([{}, 1], dtype=object)}):
        with pytest.raises(ValueError, match="held-out rows"):
            store.save(store.Bundle("attention", "bad", trained.params, trained.model, trained.vocabs, {},
                                    heldout=bad))
    assert "bad" not in store.list_models("attention")


def test_same_settings_and_seed_give_the_same_model(tmp_store):
    a, b = _train("a"), _train("b")
    for x, y in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(x, y)
    import tensorflow as tf                  # and the check can fail: another seed, other weights
    tf.keras.utils.set_random_seed(1)
    c = attention.build(a.params, a.vocabs)
    assert not any(np.array_equal(x, y) for x, y in zip(a.model.get_weights(), c.get_weights()) if x.any())


def test_a_deleted_model_cannot_be_loaded_and_training_it_again_clears_its_note(tmp_store):
    _train("gone")
    store.delete("attention", "gone")
    with pytest.raises(Exception, match="No attention model named 'gone'"):
        store.load("attention", "gone")
    assert store.deleted("attention", "gone") == "it was deleted"
    bundle = _train("gone")
    assert store.deleted("attention", "gone") is None and store.load("attention", "gone").params == bundle.params


def test_a_save_that_dies_midway_leaves_the_last_good_model(tmp_store, monkeypatch):
    good = _train("m")
    before = _outputs(store.load("attention", "m"))
    other = store.Bundle("attention", "other", good.params, attention.build(good.params, good.vocabs), good.vocabs)
    store.save(other)
    retrained = store.Bundle("attention", "m", good.params, other.model, good.vocabs)

    def crash(*a, **k):
        raise OSError("disk full")
    with monkeypatch.context() as m:
        m.setattr(type(retrained.model), "save_weights", crash)
        with pytest.raises(OSError):
            store.save(retrained)
    assert sorted(store.list_models("attention")) == ["m", "other"]
    assert not [p for p in (tmp_store / "attention").iterdir() if p.name.startswith(".") and p.name != ".lock"]
    for x, y in zip(before, _outputs(store.load("attention", "m"))):
        np.testing.assert_array_equal(x, y)
    # a crash between the two renames (old moved aside, new not yet in place) is repaired on read
    os.replace(tmp_store / "attention" / "m", tmp_store / "attention" / ".old-m-deadbeef")
    assert sorted(store.list_models("attention")) == ["m", "other"]
    assert good.name == "m" and store.exists("attention", "m")


def test_training_emits_progress_events(tmp_store):
    events = []
    training.train(training.plan("attention", {**TINY, "epochs": 2}, name="ev"), on_event=events.append)
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert phases == ["generating data", "building vocabularies", "building the model",
                      "building the graph (first batch)", "evaluating on held-out data", "saving"]
    records = [e for e in events if e["type"] == "record"]         # the replay's snapshots, epochs 0 to 2
    assert [(e["key"], e["value"]["epoch"]) for e in records] == [("replay", 0), ("replay", 1), ("replay", 2)]
    events = [e for e in events if e["type"] not in ("phase", "record")]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "begin" and events[0]["epochs"] == 2 and events[0]["steps"] == 7  # ceil(200/32)
    assert kinds.count("epoch") == 2 and kinds.count("batch") == 14
    progress = [e["progress"] for e in events if "progress" in e]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert set(events[-1]["logs"]) >= {"loss", "val_loss", "val_probs_accuracy"}


def test_cancel_stops_within_a_batch_or_two_and_saves_nothing(tmp_store):
    cancel = threading.Event()
    batches = []

    def on_event(e):
        if e["type"] == "batch":
            batches.append(e)
            if len(batches) == 3:
                cancel.set()
    p = training.plan("attention", {**TINY, "epochs": 20, "n_train": 2000}, name="cancelled")
    with pytest.raises(training.Cancelled):
        training.train(p, on_event, cancel)
    assert 3 <= len(batches) <= 5          # 20 epochs x 63 batches were asked for
    assert store.list_models("attention") == []


def test_background_job_joins_a_running_plan_and_reports_to_the_page(tmp_store):
    p = training.plan("attention", {**TINY, "epochs": 3}, name="joined")
    job = training.submit(p)
    again = training.submit(training.plan("attention", {**TINY, "epochs": 3}, name="joined"))
    assert again is job and training.get(job.id) is job
    # the bar moves while the graph builds (before the first batch), never goes back, and ends full
    seen = []
    while not job.wait(0.02):
        seen.append((job.first_batch_at is None, job.fraction()))
    assert job.status == "done" and job.progress == 1.0 and job.fraction() == 1.0
    fills = [f for _, f in seen]
    assert fills == sorted(fills) and any(setup and f > 0 for setup, f in seen)
    assert len(job.epochs) == 3 and len(job.batch_loss) == 21
    assert store.list_models("attention")[-1] == "joined"
    other = training.submit(training.plan("attention", {**TINY, "epochs": 3}, name="elsewhere"))
    assert other is not job and other.plan.key == job.plan.key   # same settings, another entry: its own job
    assert other.wait(120) and other.status == "done"
    later = training.submit(p)             # not running any more: a new job
    assert later is not job
    later.cancel()
    assert later.wait(120) and later.status in ("cancelled", "done")


def test_background_job_reports_failures_as_messages(tmp_store):
    # valid knobs, but the text gives a vocabulary smaller than num_sampled: found only inside fit, in the worker
    text = ("alpha beta gamma delta. " * 150).encode()
    p = training.plan("lm", {"epochs": 1, "num_sampled": 100, "vocab_size": 200}, text, "small.txt", name="fails")
    job = training.submit(p)
    assert job.wait(120) and job.status == "failed", (job.status, job.error)
    assert "must be smaller than the vocabulary" in job.error and "Traceback" not in job.error
    assert store.list_models("lm") == []


def test_a_worker_that_dies_is_reported_not_hung(tmp_store, monkeypatch):
    p = training.plan("attention", {**TINY, "epochs": 20, "n_train": 2000}, name="killed")
    job = training.submit(p)
    deadline = time.monotonic() + 120
    while job.batch == 0 and time.monotonic() < deadline:    # wait on state: its first batches
        time.sleep(0.05)
    job._worker.proc.kill()                                 # as the OOM killer would
    assert job.wait(60) and job.status == "failed" and "ended unexpectedly" in job.error
    assert store.list_models("attention") == []


def test_cancel_answers_at_once_and_stops_a_job_still_building_its_graph(tmp_store):
    job = training.submit(training.plan("seq2seq", {"epochs": 5, "n_train": 3000}, name="early"))
    deadline = time.monotonic() + 120
    while job.phase != "building the graph (first batch)" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.phase == "building the graph (first batch)" and not job.batch_loss
    job.cancel()
    assert job.phase == "cancelling…" and job.cancelling     # the page can say so at once
    assert job.wait(training.CANCEL_GRACE + 30) and job.status == "cancelled"
    assert store.list_models("seq2seq") == []


def test_running_jobs_are_listed_per_architecture(tmp_store):
    job = training.submit(training.plan("attention", {**TINY, "epochs": 3}, name="listed"))
    assert job in training.running("attention") and training.running("lm") == []
    assert job.wait(120) and job.status == "done" and training.running("attention") == []
    assert job.train_seconds > 0 and job.phase == "done"


def test_train_on_an_uploaded_csv_then_predict(tmp_store):
    rows = [f"the {w} was {adj} today,{lab}" for lab, ws in [("pos", ["film", "meal", "trip"]),
                                                             ("neg", ["bus", "queue", "rain"])]
            for w in ws for adj in (["lovely", "great", "superb"] if lab == "pos" else ["awful", "slow", "grim"])]
    raw = ("text,label\n" + "\n".join(rows * 10)).encode()
    p = training.plan("attention", {**TINY, "epochs": 15, "learning_rate": 0.02}, upload=raw,
                      filename="reviews.csv", name="reviews")
    bundle = training.train(p)
    assert bundle.data["source"] == "upload" and bundle.data["filename"] == "reviews.csv"
    loaded = store.load("attention", "reviews")
    assert loaded.vocabs["labels"].tokens == ["neg", "pos"]
    assert attention.predict(loaded, "the trip was superb")["label"] == "pos"
    assert attention.predict(loaded, "the queue was awful")["label"] == "neg"


def test_architecture_table_lists_layers_shapes_and_parameters():
    from seqviz import dialogue_acts as da
    from seqviz.params import resolve
    from seqviz.vocab import Vocab
    vocabs = {"words": Vocab([f"w{i}" for i in range(10)]), "labels": Vocab(["a", "b"], specials=()),
              "tags": Vocab(["a", "b", "c"], specials=())}
    model = attention.build(resolve(attention.PARAMS, TINY), vocabs)
    rows = store.layers(model)
    assert [r["layer"] for r in rows] == ["embedding", "bilstm", "attention", "probs"]
    assert rows[3]["output shape"] == "(?, 2)" and sum(r["parameters"] for r in rows) == model.count_params()
    nested = store.layers(da.build(resolve(da.PARAMS, {"embed_dim": 4, "word_units": 4, "context_units": 4}),
                                   vocabs))
    inner = [r["layer"] for r in nested if r["layer"].startswith("  · ")]
    assert inner == ["  · word_embedding", "  · word_bilstm", "  · mean_over_words"]   # the utterance encoder
    assert nested[-1]["type"] == "CRF" and nested[-1]["parameters"] == 9           # the 3x3 transitions


def test_no_spare_worker_starts_while_a_job_runs(tmp_store):
    """A spare worker's TensorFlow import would take CPU from the run: pages asking for one meanwhile get none."""
    training.prestart()
    spare = training._spare
    assert spare is not None and spare.alive()
    job = training.submit(training.plan("attention", {**TINY, "epochs": 3}, name="alone"))
    deadline = time.monotonic() + 120
    while job._worker is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job._worker is spare                    # the job took the spare
    training.prestart()                            # a page polling meanwhile
    assert training._spare is None
    assert job.wait(120) and job.status == "done"
    assert training._spare is not None and training._spare.alive()   # the next one is ready when it ends
