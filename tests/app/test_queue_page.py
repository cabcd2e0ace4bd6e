"""The training queue on a page: how busy the server is before Train is pressed, a waiting run's place and when
it starts, Cancel while it waits, a full queue said in one sentence with the form kept. Stand-in workers (see
tests/unit/test_queue.py); the page, the jobs and the queue are the real ones."""
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from seqviz import training
from tests.app.conftest import ROOT
from tests.unit.test_queue import Gate


@pytest.fixture
def busy(tmp_path, monkeypatch):
    """A copy of the attention store and another tab's run on the only worker."""
    store = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "attention", store / "attention")
    monkeypatch.setenv("SEQVIZ_MODELS", str(store))
    for name in ("SEQVIZ_WORKERS", "SEQVIZ_QUEUE_MAX", "SEQVIZ_JOBS_PER_SESSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(training, "_take_worker", Gate)
    monkeypatch.setattr(training, "prestart", lambda: None)
    Gate.started = []
    jobs = [training.submit(training.plan("attention", {"epochs": 1}, name="theirs"), owner="another tab")]
    yield jobs
    for job in jobs + [j for j in training._jobs.values() if j.running]:
        job.cancel()
    for gate in Gate.started:
        gate.go.set()
    assert all(job.wait(30) for job in jobs)


def _press_train(at, name):
    at.session_state["attention:train-open"] = True
    at.run()
    for k, v in {"n_train": 200, "epochs": 1}.items():
        at.number_input(key=f"attention:knob:{k}").set_value(v)
    at.text_input(key="attention:name").input(name)
    at.session_state["attention:train-open"] = True
    next(b for b in at.button if b.label == "Train").click()
    at.run()


def test_a_run_waits_its_turn_shows_its_place_and_can_be_cancelled(busy):
    at = AppTest.from_file("views/attention.py", default_timeout=300).run()
    at.session_state["attention:train-open"] = True
    at.run()
    assert "This server trains 1 run at a time: 1 training now, 0 waiting. Yours would wait its turn." in \
        [c.value for c in at.sidebar.caption]
    _press_train(at, "mine")
    assert not at.exception and not at.error, [e.value for e in at.error]
    (bar,) = at.sidebar.get("progress")
    assert re.fullmatch(r"Queued: next to start · starts in ~\d+ s · waiting \d+ s", bar.proto.text), bar.proto.text
    job = training.get(at.session_state["attention:job"])
    assert job.position() == 1 and job.owner not in (None, "another tab")
    cancel = next(b for b in at.sidebar.button if b.label == "Cancel")
    assert cancel.proto.id.endswith(f"cancel:{job.id}")
    job.cancel()             # what the button's on_click does (AppTest cannot click inside a polling fragment)
    assert job.wait(10) and job.status == "cancelled" and busy[0].running    # at once, the other run goes on
    at = AppTest.from_file("views/attention.py", default_timeout=300)     # the page's next run (its URL has the job;
    at.query_params["job"] = job.id                                       # AppTest keeps the Train run's widgets)
    at.run()
    assert any(e.value == "Training cancelled; nothing was saved\\." for e in at.sidebar.error)


def test_a_full_queue_is_one_sentence_and_the_form_stays(busy, monkeypatch):
    monkeypatch.setenv("SEQVIZ_QUEUE_MAX", "1")
    busy.append(training.submit(training.plan("attention", {"epochs": 2}, name="waiting"), owner="a third tab"))
    at = AppTest.from_file("views/attention.py", default_timeout=300).run()
    _press_train(at, "mine")
    assert not at.exception
    (err,) = at.sidebar.error
    assert re.fullmatch(r"The training queue is full \(1 run waiting\); try again in ~\d+ minutes?\.",
                        err.value.replace("\\", "")), err.value
    assert "attention:job" not in at.session_state and at.text_input(key="attention:name").value == "mine"
