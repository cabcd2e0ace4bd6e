"""A store that cannot fill the disk: the trained models' size budget (SEQVIZ_STORE_GB), expiry
(SEQVIZ_MODEL_DAYS), deletion (atomic, never a shipped model, a note of why for a page that showed it) and the
CLI's `delete`. Entries here are folders with a config.json (what the store lists), no TensorFlow needed."""
import json
import os
import time

import pytest

from seqviz import cli, store, training
from seqviz.errors import SeqvizError


def entry(root, arch, name, size=1000, age_days=0.0):
    folder = root / arch / name
    folder.mkdir(parents=True)
    (folder / "model.weights.h5").write_bytes(b"w" * size)
    (folder / "config.json").write_text(json.dumps({"arch": arch, "name": name, "params": {}}))
    then = time.time() - age_days * 86400
    os.utime(folder / "config.json", (then, then))
    return folder


def test_delete_removes_a_trained_model_whole_and_notes_why(tmp_store):
    entry(tmp_store, "attention", "mine", size=5000)
    entry(tmp_store, "attention", "other")
    got = store.delete("attention", "mine")
    assert got["name"] == "mine" and got["bytes"] > 5000
    assert store.list_models("attention") == ["other"] and not (tmp_store / "attention" / "mine").exists()
    assert not list((tmp_store / "attention").glob(".del-*"))          # nothing left aside
    assert store.deleted("attention", "mine") == "it was deleted" and store.deleted("attention", "other") is None


def test_delete_refuses_a_shipped_model_and_a_missing_one(tmp_store):
    entry(tmp_store, "attention", "default")
    entry(tmp_store, "attention", "kept")
    with pytest.raises(SeqvizError, match="^'default' is a shipped attention model; only models trained here"):
        store.delete("attention", "default")
    with pytest.raises(SeqvizError, match="^No attention model named 'gone' to delete; available: default, kept\\.$"):
        store.delete("attention", "gone")
    with pytest.raises(SeqvizError, match="Model name '../x' is not allowed"):
        store.delete("attention", "../x")
    assert store.list_models("attention") == ["default", "kept"]


def test_a_delete_that_died_midway_is_finished_on_the_next_read(tmp_store):
    entry(tmp_store, "attention", "kept")
    aside = tmp_store / "attention" / ".del-mine-0123abcd"              # renamed aside, not yet removed
    aside.mkdir()
    (aside / "config.json").write_text("{}")
    assert store.list_models("attention") == ["kept"] and not aside.exists()


def test_the_size_budget_counts_trained_models_not_the_shipped_ones(tmp_store, monkeypatch):
    entry(tmp_store, "attention", "default", size=50_000)                 # shipped: never counted
    entry(tmp_store, "lm", "mine", size=3_000)
    monkeypatch.setenv("SEQVIZ_STORE_GB", "0.00001")                      # 10 kB
    store.check_room()                                                    # 3 kB of 10: room
    entry(tmp_store, "seq2seq", "big", size=8_000)
    with pytest.raises(SeqvizError, match=r"^The trained models fill this server's store \(0\.00 GB of its 1e-05 "
                                          r"GB, SEQVIZ_STORE_GB\): delete one .* python -m seqviz delete ARCH NAME"):
        store.check_room()
    assert [m["name"] for m in store.user_models()] == ["mine", "big"]    # oldest first
    store.delete("seq2seq", "big")
    store.check_room()


def test_expiry_removes_models_older_than_the_setting_never_a_shipped_one(tmp_store, monkeypatch):
    entry(tmp_store, "attention", "default", age_days=400)
    entry(tmp_store, "attention", "old", age_days=31)
    entry(tmp_store, "attention", "new", age_days=1)
    assert store.expire() == []                                            # off unless set
    monkeypatch.setenv("SEQVIZ_MODEL_DAYS", "30")
    assert [m["name"] for m in store.expire()] == ["old"]
    assert store.list_models("attention") == ["default", "new"]
    assert store.deleted("attention", "old") == "it was older than 30 days (SEQVIZ_MODEL_DAYS)"


@pytest.mark.parametrize("name, value", [("SEQVIZ_STORE_GB", "lots"), ("SEQVIZ_STORE_GB", "0"),
                                         ("SEQVIZ_MODEL_DAYS", "-3")])
def test_a_bad_setting_is_one_sentence(tmp_store, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SeqvizError, match=f"^{name} must be a number above 0, not '{value}'\\.$"):
        store.check_room() if name == "SEQVIZ_STORE_GB" else store.expire()


def test_a_full_store_refuses_a_run_before_it_is_queued(tmp_store, monkeypatch):
    entry(tmp_store, "lm", "mine", size=20_000)
    monkeypatch.setenv("SEQVIZ_STORE_GB", "0.00001")
    p = training.plan("attention", {"epochs": 1}, name="more")
    with pytest.raises(SeqvizError, match="^The trained models fill this server's store"):
        training.submit(p)
    assert training.queue()["waiting"] == 0 and not [j for j in training._jobs.values() if j.plan.name == "more"]


def test_the_cli_deletes_and_refuses_in_one_sentence(tmp_store, capsys):
    entry(tmp_store, "attention", "mine")
    entry(tmp_store, "attention", "default")
    assert cli.main(["delete", "attention", "mine"]) == 0
    assert json.loads(capsys.readouterr().out) == {"arch": "attention", "name": "mine", "bytes": 1000 + len(
        json.dumps({"arch": "attention", "name": "mine", "params": {}}))}
    for argv, said in [(["delete", "attention", "default"], "'default' is a shipped attention model"),
                       (["delete", "attention", "mine"], "No attention model named 'mine' to delete"),
                       (["delete", "nope", "x"], "nope")]:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
