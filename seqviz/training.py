"""The one training service: seeded Keras `fit` with progress events, cancel, and background jobs.

`train()` runs synchronously (the CLI uses it); `submit()` runs the same function in a worker
thread and returns a `Job` the pages poll. A job is keyed by (arch, settings, data): asking for a
key that is already training returns the running job instead of starting a second one. A cancelled
job stops within a batch or two and saves nothing.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from seqviz import archs, store
from seqviz.errors import SeqvizError
from seqviz.params import resolve


def holdout(n: int, seed: int, fraction: float = 0.15) -> tuple[list[int], list[int]]:
    """Seeded split of n examples into (train, held-out) index lists, each in the original order."""
    import numpy as np
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = max(1, int(round(n * fraction)))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


class Cancelled(Exception):
    """Raised inside a training run that was asked to stop."""


@dataclass
class Plan:
    """What to train: checked settings, the data (None = generated) and where it goes in the store."""
    arch: str
    params: dict
    data: Any = None
    data_info: dict = field(default_factory=lambda: {"source": "generated"})
    name: str = ""

    @property
    def key(self) -> str:
        """Same settings and data: same key (the default name is derived from it)."""
        blob = json.dumps([self.arch, self.params, self.data_info], sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]

    @property
    def job_key(self) -> str:
        """What a running job is joined by: the same model trained into the same store entry."""
        return f"{self.key}:{self.name}"


def plan(arch: str, overrides: dict | None = None, upload: bytes | None = None,
         filename: str = "upload", name: str | None = None) -> Plan:
    """Validate everything a training run needs before any work starts (bad input fails here)."""
    mod = archs.get(arch).module()
    params = resolve(mod.PARAMS, overrides)
    if hasattr(mod, "check_params"):   # constraints between knobs (e.g. seq2seq's min_len <= max_len)
        mod.check_params(params)
    data, info = None, {"source": "generated"}
    if upload is not None:
        data = mod.read_upload(upload, filename)
        info = {"source": "upload", "filename": filename, "sha1": hashlib.sha1(upload).hexdigest(),
                "bytes": len(upload)}
    p = Plan(arch, params, data, info)
    p.name = store.check_name(name) if name else f"run-{p.key}"
    return p


def _callback(on_event: Callable[[dict], None] | None, cancel: threading.Event | None):
    import tensorflow as tf

    class Progress(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs, self.steps = self.params.get("epochs", 1), self.params.get("steps") or 1
            emit({"type": "begin", "epochs": self.epochs, "steps": self.steps})

        def on_train_batch_end(self, batch, logs=None):
            if cancel is not None and cancel.is_set():
                self.model.stop_training = True  # fit checks this after every batch
            emit({"type": "batch", "epoch": self._epoch, "batch": batch + 1,
                  "progress": (self._epoch + (batch + 1) / self.steps) / self.epochs,
                  "loss": float((logs or {}).get("loss", float("nan")))})

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            emit({"type": "epoch", "epoch": epoch + 1, "progress": (epoch + 1) / self.epochs,
                  "logs": {k: float(v) for k, v in (logs or {}).items()}})

    def emit(event):
        if on_event is not None:
            on_event(event)

    return Progress()


def train(p: Plan, on_event: Callable[[dict], None] | None = None,
          cancel: threading.Event | None = None) -> store.Bundle:
    """Seed, fit, measure, save. Raises Cancelled (and saves nothing) if `cancel` gets set."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(p.params["seed"])  # python, numpy and tf: same plan, same model
    t0 = time.perf_counter()
    model, vocabs, metrics = archs.get(p.arch).module().fit(p.params, p.data, [_callback(on_event, cancel)])
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"training of {p.arch} {p.name} was cancelled; nothing was saved")
    metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
    bundle = store.Bundle(p.arch, p.name, p.params, model, vocabs, metrics, p.data_info)
    store.save(bundle)
    return bundle


class Job:
    """A training run in a worker thread. Read its fields from any thread; they only grow."""

    def __init__(self, p: Plan):
        self.id, self.plan = uuid.uuid4().hex[:12], p
        self.status = "running"           # running | done | failed | cancelled
        self.progress, self.error = 0.0, None
        self.total_epochs, self.steps = p.params.get("epochs", 1), 1   # updated by the "begin" event
        self.batch_loss: list[float] = []
        self.epochs: list[dict] = []      # logs at the end of each epoch
        self.started, self.finished = time.time(), None
        self.waiting = True               # queued behind another training run
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train-{p.arch}-{p.name}", daemon=True)

    @property
    def key(self) -> str:
        return self.plan.job_key

    def _on_event(self, e: dict) -> None:
        self.progress = e.get("progress", self.progress)
        if e["type"] == "begin":
            self.total_epochs, self.steps = e["epochs"], e["steps"]
        elif e["type"] == "batch":
            self.batch_loss.append(e["loss"])
        elif e["type"] == "epoch":
            self.epochs.append(e["logs"])

    def _run(self) -> None:
        try:
            with _one_at_a_time:  # the seed is process-global, and 2 cores gain nothing from two fits at once
                self.waiting = False
                if self._cancel.is_set():
                    raise Cancelled("cancelled while waiting")
                train(self.plan, self._on_event, self._cancel)
            self.status, self.progress = "done", 1.0
        except Cancelled:
            self.status = "cancelled"
        except SeqvizError as e:
            self.status, self.error = "failed", str(e)
        except Exception as e:  # a bug or TF error: report it to the page, never kill the app
            self.status, self.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            self.finished = time.time()
            with _lock:
                if _running.get(self.key) is self:
                    del _running[self.key]

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.status == "running"


_lock = threading.Lock()
_one_at_a_time = threading.Lock()
_running: dict[str, Job] = {}   # plan key -> running job (for joining)
_jobs: dict[str, Job] = {}      # job id -> job (for pages that poll by id)


def submit(p: Plan) -> Job:
    """Start training `p` in the background, or join the job already training the same plan."""
    with _lock:
        job = _running.get(p.job_key)
        if job is not None:
            return job
        job = _running[p.job_key] = Job(p)
        _jobs[job.id] = job
    job._thread.start()
    return job


def get(job_id: str) -> Job | None:
    return _jobs.get(job_id)
