"""Replays (seqviz.replay): a model is saved with what it did on its probe input before training (epoch 0) and
after every epoch, taken by one callback from each architecture's own `snapshot` (its `predict`).

The tests here train or load a model; those that need none are in tests/unit/test_replay.py."""
import json
import threading

import pytest

from seqviz import archs, cli, replay, store, training
from seqviz.run import Run
from seqviz.errors import SeqvizError
from tests.unit.test_replay import TINY


def _close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-5 + 1e-4 * abs(b)
    return a == b


def _same(snapshot: dict, taken: dict) -> bool:
    """A snapshot computed now equals one a replay kept: the same tokens, labels and decodes, the same numbers to
    the digits a replay keeps (replay.DIGITS; a snapshot during training may run its model eagerly or through
    another graph than the loaded model's: they may differ in the last float bits)."""
    kept = {k: v for k, v in taken.items() if k not in ("epoch", "logs", "states")}
    return _close(replay.compact(snapshot), kept)


def _same_states(bundle, probe: dict, taken: dict) -> bool:
    """The LSTMs' h a replay kept (2 decimals) against seqviz.states on a model now."""
    import numpy as np

    from seqviz import states
    now = states.snapshot(bundle, probe)
    return now.keys() == taken["states"].keys() and all(
        now[k]["steps"] == taken["states"][k]["steps"] and all(
            np.allclose(now[k]["h"][d], taken["states"][k]["h"][d], atol=0.0051) for d in now[k]["h"])
        for k in now)


@pytest.mark.parametrize("arch", list(TINY))
def test_a_replay_starts_untrained_and_ends_at_what_predict_gives_the_saved_model(arch, tmp_store, monkeypatch):
    initial, real_callbacks = {}, Run.callbacks

    def spy(self, model, vocabs):   # called right before Keras' fit: the weights the replay's epoch 0 must show
        initial["weights"] = [w.copy() for w in model.get_weights()]
        return real_callbacks(self, model, vocabs)
    monkeypatch.setattr(Run, "callbacks", spy)
    live = []
    bundle = training.train(training.plan(arch, TINY[arch], name="tiny"),
                            on_event=lambda e: live.append(e["value"]) if e.get("key") == "replay" else None)
    mod = archs.get(arch).module()

    rep = replay.read(arch, "tiny")
    assert [s["epoch"] for s in rep["snapshots"]] == [0, 1, 2]
    assert live == rep["snapshots"]                           # what the page drew live is what was saved
    assert rep["probe"] == replay.default_probe(mod, bundle.params, None)
    assert rep["snapshots"][0]["logs"] == {} and "loss" in rep["snapshots"][2]["logs"]
    assert rep["snapshots"][2]["logs"]["loss"] == pytest.approx(bundle.metrics["history"]["loss"][1], rel=1e-5)

    loaded = store.load(arch, "tiny")
    assert _same(mod.snapshot(loaded, **rep["probe"]), rep["snapshots"][-1])   # the last: the saved model's
    untrained = mod.build(loaded.params, loaded.vocabs)
    untrained.set_weights(initial["weights"])
    first = mod.snapshot(store.Bundle(arch, "untrained", loaded.params, untrained, loaded.vocabs), **rep["probe"])
    assert _same(first, rep["snapshots"][0])                                     # epoch 0: the untrained model's
    assert not _same(first, rep["snapshots"][-1])                                # and training changed it
    untrained_bundle = store.Bundle(arch, "untrained", loaded.params, untrained, loaded.vocabs)
    assert _same_states(loaded, rep["probe"], rep["snapshots"][-1])               # inside the LSTMs too
    assert _same_states(untrained_bundle, rep["probe"], rep["snapshots"][0])
    assert not _same_states(untrained_bundle, rep["probe"], rep["snapshots"][-1])

    story = mod.story(rep)                                    # what the page's lines and sentences are made of
    assert story["lines"] and all(len(v) == 3 for v in story["lines"].values())
    assert all(isinstance(e, str) for e in story["events"])


def test_a_cancelled_run_saves_no_replay(tmp_store):
    cancel = threading.Event()

    def on_event(e):
        if e["type"] == "batch":
            cancel.set()
    with pytest.raises(training.Cancelled):
        training.train(training.plan("attention", TINY["attention"], name="gone"), on_event, cancel)
    assert list(tmp_store.rglob("replay.json")) == [] and not store.exists("attention", "gone")


def test_a_probe_the_model_cannot_read_stops_a_cli_run_but_a_page_falls_back_to_the_example(tmp_store):
    tiny = {**TINY["attention"], "epochs": 1}
    with pytest.raises(SeqvizError, match="The replay's probe cannot be read by this model: None of the words"):
        training.train(training.plan("attention", tiny, name="strict", probe={"text": "qqq zzz"}, strict_probe=True))
    assert not store.exists("attention", "strict")
    training.train(training.plan("attention", tiny, name="page", probe={"text": "qqq zzz"}))
    rep = replay.read("attention", "page")
    assert rep["probe"] == {"text": archs.get("attention").module().EXAMPLE}
    assert "could not be read by this model" in rep["note"] and len(rep["snapshots"]) == 2


def _cli(*argv):
    return cli.main(list(argv))


def test_cli_trains_with_a_probe_and_prints_the_replay(tmp_store, capsys, tmp_path):
    import argparse
    sets = [a for k, v in {**TINY["attention"], "epochs": 1}.items() for a in ("--set", f"{k}={v}")]
    probe = tmp_path / "probe.txt"
    probe.write_text("the striker scored a goal\n", encoding="utf-8")
    assert _cli("train", "attention", *sets, "--probe-file", str(probe), "--name", "p") == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["replay"] == {"snapshots": 2}
    assert _cli("replay", "attention", "--model", "p") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["probe"] == {"text": "the striker scored a goal\n"} and [s["epoch"] for s in rep["snapshots"]] == [0, 1]
    assert rep["snapshots"][1]["tokens"] == ["the", "striker", "scored", "a", "goal"]
    assert rep == replay.read("attention", "p")
    args = argparse.Namespace(arch="attention", probe="a goal", probe_file=None)
    assert cli._probe(args) == {"text": "a goal"}                        # --probe TEXT


def test_cli_replay_bad_input_exits_2_with_one_line(tmp_store, capsys):
    store.save(store.Bundle("attention", "old", *_old_bundle()))             # a model saved before replays
    for argv, words in [(("replay", "attention", "--model", "old"), "has no replay"),
                        (("replay", "attention", "--model", "nope"), "No attention model named 'nope'"),
                        (("replay", "nope", "--model", "x"), "Unknown architecture"),
                        (("train", "attention", "--probe", "a", "--probe-file", "b"), "not both")]:
        assert _cli(*argv) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
    (tmp_store / "attention" / "old" / "replay.json").write_text('{"snapshots": 3}')
    assert _cli("replay", "attention", "--model", "old") == 2
    assert "replay.json is not a replay" in capsys.readouterr().err


def _old_bundle():
    from seqviz import attention
    from seqviz.params import resolve
    from seqviz.vocab import Vocab
    params = resolve(attention.PARAMS, {"embed_dim": 4, "units": 4, "attn_dim": 4})
    vocabs = {"words": Vocab(["a", "b"]), "labels": Vocab(["x", "y"], specials=())}
    return params, attention.build(params, vocabs), vocabs, {}
