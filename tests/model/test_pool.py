"""Training on more machines through Redis Queue (seqviz.pool): a real `redis-server` and two real workers
(`python -m seqviz worker`), sharing one store folder with this process, which plays the server (SEQVIZ_QUEUE
set: training.submit enqueues). Four runs from two sessions, in order, with progress; Cancel while waiting and
while running; a worker killed mid-run; every model in the store once; the CLI's `train --queue`."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqviz import cli, pool, store, training
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[2]
LONG = {**TINY, "n_train": 3000, "epochs": 40}        # a run that goes on until cancelled (minutes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(check, timeout=120.0, what="the state"):
    """Wait for `check()` to hold (polling its state), or fail saying what did not happen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Pool:
    """A redis-server and named workers, all this test module's processes."""

    def __init__(self, tmp: Path):
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed: run `bash install.sh --tests` (it installs Debian's package)")
        self.tmp, self.store, port = tmp, tmp / "models", _free_port()
        self.store.mkdir()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _until(lambda: self._pings(), 30, "redis-server to answer")
        self.workers: dict[str, subprocess.Popen] = {}

    def _pings(self) -> bool:
        try:
            pool.connect(self.url)
            return True
        except Exception:
            return False

    def start(self, name: str) -> None:
        conn = pool.connect(self.url)
        _until(lambda: name not in pool.workers(conn), 30, f"an earlier {name} to be gone")   # a killed one's key
        env = {**os.environ, "SEQVIZ_MODELS": str(self.store), "PYTHONPATH": str(ROOT)}
        env.pop("SEQVIZ_QUEUE", None)
        log = open(self.tmp / f"{name}.log", "w")
        self.workers[name] = subprocess.Popen([sys.executable, "-m", "seqviz", "worker", "--queue", self.url,
                                               "--name", name], env=env, stdout=log, stderr=subprocess.STDOUT)
        _until(lambda: name in pool.workers(conn), 120, f"worker {name} to register")

    def close(self) -> None:
        for p in self.workers.values():
            p.terminate()
        for p in self.workers.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.redis.kill()
        self.redis.wait()


@pytest.fixture(scope="module")
def the_pool(tmp_path_factory):
    p = Pool(tmp_path_factory.mktemp("pool"))
    try:
        p.start("w1")
        p.start("w2")
        yield p
    finally:
        p.close()


@pytest.fixture
def server(the_pool, monkeypatch):
    """This process as a server that enqueues into the pool, over the pool's store."""
    monkeypatch.setenv("SEQVIZ_QUEUE", the_pool.url)
    monkeypatch.setenv("SEQVIZ_MODELS", str(the_pool.store))
    monkeypatch.setenv("SEQVIZ_JOBS_PER_SESSION", "2")
    jobs = []

    def submit(name, owner=None, **over):
        job = training.submit(training.plan("attention", {**TINY, **over}, name=name), owner)
        jobs.append(job)
        return job
    yield submit
    for job in jobs:
        job.cancel()
    assert all(job.wait(60) for job in jobs)


def test_four_runs_from_two_sessions_train_in_order_on_both_workers(server, the_pool):
    jobs = [server(f"pool-{i}", owner=f"tab-{i // 2}", epochs=2) for i in range(4)]
    for job in jobs:
        assert job.wait(300), job.phase
        assert job.status == "done", job.error
    # each on a pool's worker, with its progress (batches and both epochs), taken in the order they were queued
    assert {job.worker_name for job in jobs} == {"w1", "w2"}
    assert all(len(job.epochs) == 2 and job.batch_loss for job in jobs)
    starts = [job.setup_started for job in jobs]
    assert max(starts[:2]) <= min(starts[2:]) + 0.5, starts
    # every model landed in the shared store once, nothing half-written beside them
    assert sorted(n for n in store.list_models("attention") if n.startswith("pool-")) == [f"pool-{i}"
                                                                                           for i in range(4)]
    assert not [p for p in (the_pool.store / "attention").iterdir() if p.name.startswith((".tmp", ".old"))]
    assert store.load("attention", "pool-3").params["epochs"] == 2


def test_cancel_reaches_a_waiting_run_and_a_running_one(server, the_pool):
    a, b = server("busy-a", **LONG), server("busy-b", **LONG)
    _until(lambda: a.batch_loss and b.batch_loss, 180, "both workers to train")
    waiting = server("queued")
    _until(lambda: waiting.position() == 1, 30, "the third run's place in the pool's queue")
    assert waiting.waiting and waiting.wait_seconds() > 0
    waiting.cancel()
    assert waiting.wait(15) and waiting.status == "cancelled" and waiting.worker_name is None
    a.cancel()                                        # the page's Cancel, through Redis to the worker's process
    assert a.wait(60) and a.status == "cancelled" and b.running
    b.cancel()
    assert b.wait(60) and b.status == "cancelled"
    assert not {"busy-a", "busy-b", "queued"} & set(store.list_models("attention"))
    follow = server("after-cancel")                    # the workers go on to the next run
    assert follow.wait(300) and follow.status == "done", follow.error


def test_a_worker_killed_mid_run_is_reported_and_saves_nothing(server, the_pool):
    job = server("doomed", **LONG)
    _until(lambda: job.batch_loss, 180, "the run's first batches")
    victim = job.worker_name
    the_pool.workers[victim].send_signal(signal.SIGKILL)
    assert job.wait(60) and job.status == "failed"
    assert job.error == (f"the worker {victim} stopped answering mid-run (killed, or its machine went away); "
                         "nothing was saved"), job.error
    assert "doomed" not in store.list_models("attention")
    the_pool.start(victim)                             # restarted under its name, it takes later runs


def test_the_cli_trains_on_the_pool_and_prints_what_a_local_run_prints(the_pool, monkeypatch, capsys):
    monkeypatch.setenv("SEQVIZ_MODELS", str(the_pool.store))
    monkeypatch.delenv("SEQVIZ_QUEUE", raising=False)
    argv = ["train", "attention", "--set", "n_train=200", "--set", "epochs=1", "--set", "units=8"]
    assert cli.main(argv + ["--name", "cli-pool", "--queue", the_pool.url]) == 0
    out, err = capsys.readouterr()
    remote = json.loads(out.strip().splitlines()[-1])
    assert "trained on the pool's worker w" in err and remote["path"] == str(the_pool.store / "attention" / "cli-pool")
    assert cli.main(argv + ["--name", "cli-local"]) == 0
    local = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(remote) == set(local) and remote["params"] == local["params"]
    assert "SEQVIZ_QUEUE" not in os.environ               # --queue is this run's, not the process's from now on
    assert remote["replay"]["snapshots"] == local["replay"]["snapshots"] == 2
    assert remote["metrics"]["val_accuracy"] == local["metrics"]["val_accuracy"]     # same seed, same model


@pytest.mark.parametrize("queue, said", [("http://localhost:6379", "The queue must be a Redis URL like"),
                                         ("redis://127.0.0.1:1/0", "Cannot reach the Redis queue at")])
def test_a_bad_queue_is_one_sentence(tmp_store, capsys, queue, said):
    assert cli.main(["train", "attention", "--set", "epochs=1", "--queue", queue]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert cli.main(["worker", "--queue", queue]) == 2


def test_the_page_says_how_busy_the_pool_is_and_which_worker_trains(server, the_pool, monkeypatch):
    from streamlit.testing.v1 import AppTest
    if not (the_pool.store / "attention" / "default").exists():
        shutil.copytree(ROOT / "models" / "attention" / "default", the_pool.store / "attention" / "default")
    monkeypatch.chdir(ROOT)
    job = server("watched", **LONG)
    _until(lambda: job.batch_loss, 180, "the run's first batches")
    at = AppTest.from_file("views/attention.py", default_timeout=300)
    at.query_params["job"] = job.id                     # the tab that started it (its URL)
    at.run()
    assert not at.exception
    (bar,) = at.sidebar.get("progress")
    assert f"on {job.worker_name}" in bar.proto.text and "epoch 1/40" in bar.proto.text, bar.proto.text
    other = AppTest.from_file("views/attention.py", default_timeout=300)
    other.session_state["attention:train-open"] = True
    other.run()
    assert "Runs train on a pool of 2 workers: 1 training now, 0 waiting." in [c.value for c in other.sidebar.caption]
    job.cancel()
    assert job.wait(60) and job.status == "cancelled"
