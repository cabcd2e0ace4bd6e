"""AppTest: every page's replay view (seqviz.replay) over its shipped default, the figure drawn live in the sidebar
while a model trains, and a model trained before replays."""
import json
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from seqviz import replay, training
from tests.app.helpers import ROOT, open_page

PAGES = {"attention": ("views/attention.py", "default", {}),
         "dialogue-acts": ("views/dialogue_acts.py", "default", {}),
         "seq2seq": ("views/seq2seq.py", "default-attention", {"modes": "attention"}),
         "captioning": ("views/captioning.py", "default", {}),
         "lm": ("views/lm.py", "default", {})}


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.mark.parametrize("arch", list(PAGES))
def test_the_replay_view_animates_every_epoch_of_the_default(arch):
    page, name, query = PAGES[arch]
    rep = replay.read(arch, name)
    assert rep is not None, f"the shipped {arch}/{name} carries no replay.json: regenerate the defaults"
    at = AppTest.from_file(page, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.session_state[f"replay:{arch}:{name}"] = True                 # what opening the expander does
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    fig, inside = [f for f in _charts(at) if f.get("frames")]        # the page's figure, then the LSTM's h
    epochs = [s["epoch"] for s in rep["snapshots"]]
    layer = at.selectbox(key=f"replay-states:{arch}:{name}:layer").value
    assert layer in rep["snapshots"][-1]["states"]
    assert [f["name"] for f in inside["frames"]] == [f"epoch {e}" for e in epochs]
    assert inside["frames"][-1]["layout"]["title"]["text"].startswith(f"{layer}, ")
    assert inside["frames"][0]["data"][0]["z"] != inside["frames"][-1]["data"][0]["z"]       # training moved them
    assert epochs[0] == 0 and epochs == list(range(len(epochs)))
    assert [f["name"] for f in fig["frames"]] == [f"epoch {e}" for e in epochs]
    assert fig["frames"][0]["layout"]["title"]["text"].startswith("Epoch 0: the untrained model")
    if "label" in rep["snapshots"][-1]:       # attention: what the model said at each epoch is in its title
        assert all(f["layout"]["title"]["text"].endswith(f"predicts {s['label']}")
                   for f, s in zip(fig["frames"], rep["snapshots"]))
    last = rep["snapshots"][-1]
    assert fig["layout"]["title"]["text"].startswith(f"Epoch {last['epoch']}: loss ")
    assert f"{last['logs']['loss']:.3g}" in fig["layout"]["title"]["text"]
    assert fig["layout"]["sliders"][0]["active"] == len(epochs) - 1
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ Play"
    # the story: one line per series over every epoch, and what changed in words
    (lines,) = [f for f in _charts(at) if f["layout"].get("title", {}).get("text") == "The probe, epoch by epoch"]
    assert lines["data"] and all(list(t["x"]) == epochs for t in lines["data"])
    assert any(m.value.startswith("**What changed**") for m in at.markdown)
    probe = rep["probe"].get("text", "")
    assert any("Probe:" in c.value and probe.splitlines()[0][:20] in c.value.replace("\\", "") for c in at.caption)


def test_the_replay_view_opens_only_when_asked():
    at = open_page("views/attention.py")
    assert not [f for f in _charts(at) if f.get("frames")]
    assert any(e.label.startswith("Replay: watch it learn") for e in at.expander)


def _replay_of_a_copy(tmp_path, monkeypatch, name: str, edit) -> AppTest:
    """The attention page's replay view of a copy of the shipped default, named `name`, whose replay.json
    `edit(path)` changed."""
    store = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "attention" / "default", store / "attention" / name)
    edit(store / "attention" / name / "replay.json")
    monkeypatch.setenv("SEQVIZ_MODELS", str(store))
    at = AppTest.from_file("views/attention.py", default_timeout=300)
    at.query_params["model"] = name
    at.session_state[f"replay:attention:{name}"] = True
    return at.run()


def test_a_model_trained_before_replays_says_how_to_get_one(tmp_path, monkeypatch):
    at = _replay_of_a_copy(tmp_path, monkeypatch, "old", lambda path: path.unlink())
    assert not at.exception and not at.error
    assert any("has no replay" in i.value.replace("\\", "") for i in at.info)
    assert not [f for f in _charts(at) if f.get("frames")]


def _without_states(path) -> None:
    rep = json.loads(path.read_text())
    for snap in rep["snapshots"]:
        snap.pop("states", None)
    path.write_text(json.dumps(rep))


def test_a_replay_recorded_before_the_lstm_states_says_so(tmp_path, monkeypatch):
    at = _replay_of_a_copy(tmp_path, monkeypatch, "older", _without_states)
    assert not at.exception and not at.error
    assert len([f for f in _charts(at) if f.get("frames")]) == 1                 # the page's figure only
    assert any("no look inside the LSTMs" in c.value for c in at.caption)


def test_a_damaged_replay_is_one_error_not_a_traceback(tmp_path, monkeypatch):
    at = _replay_of_a_copy(tmp_path, monkeypatch, "odd",
                           lambda path: path.write_text('{"probe": {}, "snapshots": [{"epoch": 0}]}'))
    assert not at.exception and len(at.error) == 1
    assert "damaged replay.json" in at.error[0].value.replace("\\", "")
    assert len(at.get("plotly_chart")) >= 3                      # the rest of the page is drawn


@pytest.mark.parametrize("arch", list(PAGES))
def test_while_a_model_trains_the_sidebar_draws_the_probe_after_the_latest_epoch(arch):
    """A job whose worker has reported two snapshots (epochs 0 and 1): the panel draws the latest one with the
    page's own figure, beside the loss."""
    page, name, query = PAGES[arch]
    rep = replay.read(arch, name)
    job = training.Job(training.Plan(arch, {"epochs": 3, "seed": 0}, name="live"))   # not started: a stand-in
    job.batch_loss, job.steps = [2.0, 1.5], 1
    job.records["replay"] = rep["snapshots"][:2]
    training._jobs[job.id] = job
    try:
        at = AppTest.from_file(page, default_timeout=300)
        for k, v in query.items():
            at.query_params[k] = v
        at.session_state[f"{arch}:job"] = job.id
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        captions = [c.value for c in at.sidebar.caption]
        assert any(c.startswith("Your input after epoch 1 of 3") for c in captions), captions
        charts = [json.loads(c.proto.spec) for c in at.sidebar.get("plotly_chart")]
        assert len(charts) == 2 and charts[0]["layout"]["title"]["text"] == "Live training curve"
    finally:
        del training._jobs[job.id]


def test_train_follows_the_input_on_the_page(tmp_path, monkeypatch):
    """Pressing Train with a sentence typed: the new model's replay follows that sentence."""
    store = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "attention", store / "attention")
    monkeypatch.setenv("SEQVIZ_MODELS", str(store))
    at = AppTest.from_file("views/attention.py", default_timeout=300).run()
    at.text_area(key="attention:text").input("the striker scored a goal").run()
    at.session_state["attention:train-open"] = True
    at.run()
    for k, v in {"n_train": 200, "epochs": 1, "units": 8, "embed_dim": 8, "attn_dim": 8}.items():
        at.number_input(key=f"attention:knob:{k}").set_value(v)
    at.text_input(key="attention:name").input("followed")
    at.session_state["attention:train-open"] = True
    next(b for b in at.button if b.label == "Train").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = training.get(at.session_state["attention:job"])
    assert job.wait(300) and job.status == "done", job.error
    rep = replay.read("attention", "followed")
    assert rep["probe"] == {"text": "the striker scored a goal"}
    assert [s["tokens"] for s in rep["snapshots"]] == [["the", "striker", "scored", "a", "goal"]] * 2


def test_a_reload_finds_the_run_its_page_started_and_ends_it_the_same_way():
    """A new session opened with the URL of a page whose run is going (a reload): the same live panel, and when
    the run ends the same message, and the run leaves the URL."""
    job = training.Job(training.Plan("attention", {"epochs": 3, "seed": 0}, name="live"))   # not started: a stand-in
    job.batch_loss, job.steps, job.phase = [2.0, 1.5], 1, "training"
    other = training.Job(training.Plan("dialogue-acts", {"epochs": 1, "seed": 0}, name="x"))
    training._jobs[job.id] = job
    try:
        at = AppTest.from_file("views/attention.py", default_timeout=300)
        at.query_params["job"] = job.id
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.session_state["attention:job"] == job.id
        assert any(m.value == "**Training** `live` (generated data)" for m in at.sidebar.markdown)
        (curve,) = [json.loads(c.proto.spec) for c in at.sidebar.get("plotly_chart")]
        assert curve["layout"]["title"]["text"] == "Live training curve"
        assert [b.label for b in at.sidebar.button if b.label == "Cancel"] == ["Cancel"]
        job.status, job.finished = "cancelled", time.time()                  # it ends
        at.run()
        assert not at.exception
        assert any(e.value == "Training cancelled; nothing was saved\\." for e in at.sidebar.error), \
            [e.value for e in at.sidebar.error]
        assert "job" not in at.query_params and "attention:job" not in at.session_state
        training._jobs[other.id] = other
        at2 = AppTest.from_file("views/attention.py", default_timeout=300)
        at2.query_params["job"] = other.id                                      # another page's run: not adopted
        at2.run()
        assert "attention:job" not in at2.session_state
    finally:
        training._jobs.pop(job.id, None)
        training._jobs.pop(other.id, None)
