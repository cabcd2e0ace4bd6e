"""The training queue (seqviz.training.submit): first come first served, SEQVIZ_WORKERS runs at a time, its place
and about when it starts while a run waits, a bounded queue, one run per browser session, Cancel while waiting,
uploads held on disk. The worker processes are stand-ins that finish when the test says so (the real worker is
tested in tests/model/test_training.py); the jobs, threads and queue are the real ones."""
import threading

import pytest

from seqviz import training
from seqviz.errors import SeqvizError


class Gate:
    """A stand-in worker process: it takes the job, then ends it when `release()`d or cancelled."""
    started: list = []

    def __init__(self):
        self.go, self.cancelled, self.job = threading.Event(), False, None
        Gate.started.append(self)

    def alive(self):
        return True

    def send(self, line):
        if line == "cancel":
            self.cancelled = True
            self.go.set()
        else:
            self.job = line

    def events(self):
        yield {"type": "phase", "phase": "reading"}
        self.go.wait(60)
        yield {"type": "cancelled"} if self.cancelled else {"type": "done", "train_seconds": 0.1}

    def kill(self):
        self.go.set()

    def close(self):
        self.go.set()


def stand_in_workers(monkeypatch, store) -> None:
    """The training service with Gates for workers, default queue settings and the store at `store`."""
    monkeypatch.setenv("SEQVIZ_MODELS", str(store))
    for name in ("SEQVIZ_WORKERS", "SEQVIZ_QUEUE_MAX", "SEQVIZ_JOBS_PER_SESSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(training, "_take_worker", Gate)
    monkeypatch.setattr(training, "prestart", lambda: None)
    Gate.started = []


def release(jobs) -> None:
    """Cancel `jobs`, open every gate, and check each job ends."""
    for job in jobs:
        job.cancel()
    for gate in Gate.started:
        gate.go.set()
    assert all(job.wait(30) for job in jobs)


@pytest.fixture
def queue(monkeypatch, tmp_path):
    """Stand-in workers; whatever a test leaves running is released at its end."""
    stand_in_workers(monkeypatch, tmp_path)
    jobs = []

    def submit(name, owner=None, ticket=None, **plan):
        job = training.submit(training.plan("attention", {"epochs": 1}, name=name, **plan), owner, ticket)
        jobs.append(job)
        return job
    yield submit
    release(jobs)


def started(job, timeout=30.0) -> bool:
    """Wait for `job` to take a worker (its state, not a sleep)."""
    done = threading.Event()

    def poll():
        while not done.is_set() and job.waiting and job.running:
            done.wait(0.02)
        done.set()
    threading.Thread(target=poll, daemon=True).start()
    done.wait(timeout)
    return not job.waiting


def gate_of(job):
    return next(g for g in Gate.started if g.job and f'"name": "{job.plan.name}"' in g.job)


def test_runs_start_first_come_first_served_one_at_a_time(queue):
    a, b, c = queue("q-a"), queue("q-b"), queue("q-c")
    assert started(a) and b.waiting and c.waiting
    assert (a.position(), b.position(), c.position()) == (None, 1, 2)
    # about when each starts: what a has left (its forecast: no batch yet), then the runs ahead
    assert 0 < b.wait_seconds() < c.wait_seconds() and a.wait_seconds() is None
    assert abs(c.wait_seconds() - b.wait_seconds() - b.forecast()) < 1.0
    gate_of(a).go.set()
    assert a.wait(30) and a.status == "done"
    assert started(b) and c.waiting and c.position() == 1
    gate_of(b).go.set()
    assert started(c) and b.status == "done"


def test_cancel_leaves_the_queue_at_once_without_a_worker(queue):
    a, b = queue("q-a"), queue("q-b")
    assert started(a) and b.position() == 1
    b.cancel()
    assert b.wait(10) and b.status == "cancelled"           # not after a finishes: a still runs
    assert a.running and len(Gate.started) == 1 and b.position() is None


def test_a_full_queue_says_so_and_when_to_try_again(queue, monkeypatch):
    monkeypatch.setenv("SEQVIZ_QUEUE_MAX", "1")
    a, b = queue("q-a"), queue("q-b")
    assert started(a) and b.waiting
    with pytest.raises(SeqvizError, match=r"^The training queue is full \(1 run waiting\); try again in ~\d+ "
                                          r"minutes?\.$"):
        queue("q-c")
    assert training.queue() == {"waiting": 1, "running": 1, "workers": 1, "pool": False}


def test_one_run_per_browser_session(queue):
    a = queue("q-a", owner="tab-1")
    with pytest.raises(SeqvizError, match="You already have a training run on this server \\('q-a'\\): wait for "
                                          "it to finish, or cancel it, then train again."):
        queue("q-b", owner="tab-1")
    other = queue("q-c", owner="tab-2")                      # another session queues behind it
    assert other.position() == 1
    a.cancel()
    assert a.wait(10)
    queue("q-d", owner="tab-1")                              # its run ended: it may train again


def test_the_lm_race_sides_share_one_ticket(queue):
    queue("q-a", owner="tab-1", ticket="race-1")
    queue("q-b", owner="tab-1", ticket="race-1")
    with pytest.raises(SeqvizError, match="You already have"):
        queue("q-c", owner="tab-1")


def test_two_workers_run_two_at_once(queue, monkeypatch):
    monkeypatch.setenv("SEQVIZ_WORKERS", "2")
    a, b, c = queue("q-a"), queue("q-b"), queue("q-c")
    assert started(a) and started(b) and c.position() == 1
    gate_of(b).go.set()
    assert started(c) and a.running


def test_a_waiting_upload_is_held_on_disk_and_removed_after(queue):
    from pathlib import Path
    raw = ("text,label\n" + "the pizza was great,food\nthe team won,sport\n" * 50).encode()
    a = queue("q-a")
    b = queue("q-b", upload=raw, filename="mine.csv")
    assert started(a) and b.waiting
    assert b.plan.upload is None and b.plan.data is None          # not in the server's memory while it waits
    assert Path(b._upload).read_bytes() == raw and b.plan.data_info["filename"] == "mine.csv"
    gate_of(a).go.set()
    assert started(b) and '"upload": "' + b._upload in gate_of(b).job.replace("\\\\", "\\")
    gate_of(b).go.set()
    assert b.wait(30) and b.status == "done" and not Path(b._upload).exists()


@pytest.mark.parametrize("name, value", [("SEQVIZ_QUEUE_MAX", "many"), ("SEQVIZ_WORKERS", "0"),
                                         ("SEQVIZ_JOBS_PER_SESSION", "-1")])
def test_a_bad_setting_is_one_sentence(queue, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SeqvizError, match=f"^{name} must be a whole number of at least"):
        queue("q-a")
