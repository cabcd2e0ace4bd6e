"""The training queue on a page: how busy the server is before Train is pressed, a waiting run's place and when
it starts, Cancel while it waits, a full queue said in one sentence with the form kept. Stand-in workers (see
tests/unit/test_queue.py); the page, the jobs and the queue are the real ones."""
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from seqviz import training
from tests.app.conftest import ROOT
from tests.unit.test_queue import release, stand_in_workers


@pytest.fixture
def busy(tmp_path, monkeypatch):
    """A copy of the attention store and another tab's run on the only worker."""
    store = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "attention", store / "attention")
    stand_in_workers(monkeypatch, store)
    jobs = [training.submit(training.plan("attention", {"epochs": 1}, name="theirs"), owner="another tab")]
    yield jobs
    release(jobs + [j for j in training._jobs.values() if j.running and j not in jobs])


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


@pytest.fixture
def mine(tmp_path, monkeypatch):
    """A copy of the attention store with a model trained here, "mine" (the default's weights)."""
    store_dir = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "attention", store_dir / "attention")
    shutil.copytree(store_dir / "attention" / "default", store_dir / "attention" / "mine")
    monkeypatch.setenv("SEQVIZ_MODELS", str(store_dir))
    monkeypatch.delenv("SEQVIZ_ADMIN", raising=False)
    return store_dir / "attention" / "mine"


def _details_of_mine():
    at = AppTest.from_file("views/attention.py", default_timeout=300)
    at.query_params["model"] = "mine"
    at.session_state["details:attention:mine"] = True                 # what opening the details does
    return at.run()


def test_a_model_is_deleted_from_its_details_after_a_tick(mine, monkeypatch):
    monkeypatch.setenv("SEQVIZ_ADMIN", "1")
    at = _details_of_mine()
    assert at.selectbox(key="attention:model").value == "mine" and not at.exception
    delete = at.button(key="delete:attention:mine")
    assert delete.disabled                                             # a tick first: one click loses nothing
    at.checkbox(key="delete-sure:attention:mine").check()
    at.session_state["details:attention:mine"] = True
    at.run()
    at.button(key="delete:attention:mine").click()
    at.session_state["details:attention:mine"] = True
    at.run()
    assert not at.exception and not mine.exists()
    assert at.selectbox(key="attention:model").value == "default" and "mine" not in at.selectbox(
        key="attention:model").options
    assert any(s.value.replace("\\", "") == "Deleted mine (" + s.value.replace("\\", "").split("(")[1]
               for s in at.sidebar.success), [s.value for s in at.sidebar.success]


def test_only_the_tab_that_trained_a_model_may_delete_it(mine, monkeypatch):
    from seqviz.ui import session
    job = training.Job(training.Plan("attention", {"epochs": 1}, name="mine"), owner="tab-1")   # its finished run
    job.status = "done"
    training._jobs[job.id] = job
    try:
        for tab, may in (("tab-2", False), ("tab-1", True)):
            monkeypatch.setattr(session, "session_id", lambda tab=tab: tab)
            at = _details_of_mine()
            assert bool([b for b in at.button if b.key == "delete:attention:mine"]) == may, tab
            said = ("Only the tab that trained this model can delete it (or anyone, on a server run with "
                    "SEQVIZ_ADMIN=1).")
            assert (said in [c.value for c in at.caption]) != may, tab
    finally:
        del training._jobs[job.id]


def test_a_page_showing_a_model_deleted_elsewhere_says_so(mine):
    at = _details_of_mine()
    assert at.selectbox(key="attention:model").value == "mine"
    from seqviz import store
    store.delete("attention", "mine")                                   # the CLI, another tab, the expiry
    at.run()
    assert not at.exception and at.selectbox(key="attention:model").value == "default"
    assert [w.value.replace("\\", "") for w in at.sidebar.warning] == [
        "Model 'mine' is gone: it was deleted. Showing 'default'."]
