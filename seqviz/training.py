"""The one training service: seeded Keras `fit` with progress events, cancel, and background jobs.

`train()` runs synchronously in the calling process (the CLI uses it). `submit()` runs the same
function in a separate **worker process** (`python -m seqviz.worker`) and returns a `Job` the pages
poll. Why a process and not a thread: TensorFlow releases the GIL around every op it creates or runs,
and gets it back only after any other Python thread's switch interval (5 ms). A thread of the server
that builds a page, traces a model or rescans `sys.modules` (Streamlit does that after every rerun
while the fit imports modules) then starves the training thread: measured in one process, a pure-Python
loop beside a small seq2seq fit made it 11x slower (7.6 -> 83 s). In its own process the fit has its own
GIL; only the two cores are shared.

A job is keyed by (arch, settings, data, name): asking for a key that is already training returns the
running job instead of starting a second one. Jobs take turns in one queue, SEQVIZ_WORKERS at a time (default 1:
a fit runs one thread per op, so a core is left to the pages), or on a Redis Queue pool (seqviz.pool). Cancel
answers at once, asks the worker to stop after its current batch and kills it after `CANCEL_GRACE` seconds if it
has not (mid-graph-building, say): the store's atomic writes make a killed worker save nothing. A spare worker
with TensorFlow already imported is kept ready for the next job.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from seqviz import archs, budget, contract, pool, replay, settings, store
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.run import Run, emit, phase, record, reporting

CANCEL_GRACE = 2.0     # seconds a worker gets to stop after its current batch before it is killed


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
    upload: bytes | None = field(default=None, repr=False)   # the raw file (a worker process re-reads it)
    filename: str = "upload"
    files: dict = field(default_factory=dict, repr=False)    # a second file an arch reads with the upload:
    #                                                          {key: (filename, raw)}, e.g. captioning's features
    probe: dict | None = None     # the input the replay follows (None: the arch's own example; seqviz.replay)
    strict_probe: bool = False    # True (the CLI's --probe): a probe the model cannot read stops the run
    advice: list = field(default_factory=list)   # what to reconsider before the run (the architecture's `advise`)

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
         filename: str = "upload", name: str | None = None, overwrite: bool = False,
         files: dict | None = None, probe: dict | None = None, strict_probe: bool = False) -> Plan:
    """Validate everything a training run needs before any work starts (bad input fails here). A name
    that is taken is refused unless `overwrite`; names starting with "default" belong to the shipped
    models, and only those very names can be (re)trained, with `overwrite`. `files` ({key: (filename, raw)})
    are the second files an architecture reads with the upload (its FILES, e.g. captioning's features). `probe`:
    the input the replay follows (the page's input; the CLI's --probe, `strict_probe`), see seqviz.replay."""
    mod = archs.get(arch).module()
    params = resolve(mod.PARAMS, overrides)
    files = {k: v for k, v in (files or {}).items() if v is not None}
    takes = contract.hook(mod, "FILES")
    for key in files:
        if key not in takes:
            raise SeqvizError(f"The {arch} model takes no {key} file" +
                              (f"; it takes {', '.join(takes)}." if takes else "."))
        if upload is None:
            raise SeqvizError(f"The {key} file goes with your data file: give both (CLI: --data and --{key}).")
    data, info = None, {"source": "generated"}
    if upload is not None:   # what reading the files will hold, before they are parsed (a 1 GB CSV would not fit)
        cost = contract.hook(mod, "READ_COST")
        budget.check_read([(filename, len(upload), cost.get("upload", budget.READ_COST))] +
                          [(fname, len(raw), cost.get(k, budget.READ_COST)) for k, (fname, raw) in files.items()])
        data = mod.read_upload(upload, filename, **files)
    # knob constraints (seq2seq's min_len <= max_len), the data's rows against them
    params = contract.hook(mod, "check_params")(params, data)
    advice = contract.hook(mod, "advise")(params, data)
    if upload is not None:
        info = {"source": "upload", "filename": filename, "sha1": hashlib.sha1(upload).hexdigest(),
                "bytes": len(upload)}
        for key, (fname, raw) in files.items():
            info[key] = {"filename": fname, "sha1": hashlib.sha1(raw).hexdigest(), "bytes": len(raw)}
    budget.check(lambda ps: mod.memory(ps, data), params, mod.PARAMS)   # before any work, on the real data
    p = Plan(arch, params, data, info, upload=upload, filename=filename, files=files,
             probe=replay.check_probe(probe) if probe is not None else None, strict_probe=strict_probe,
             advice=advice)
    p.name = store.check_name(name) if name else f"run-{p.key}"
    if p.name.startswith(store.DEFAULT) and not (overwrite and store.is_default(p.name, arch)):
        raise SeqvizError(f"Names starting with 'default' belong to the shipped models; choose another name "
                          f"than {p.name!r}.")
    if not overwrite and store.exists(arch, p.name):
        raise SeqvizError(f"A {arch} model named {p.name!r} exists already"
                          + ("" if name else " (trained with exactly these settings and data: pick it in the "
                             "model list)") + "; choose another name, or replace it with --overwrite (CLI).")
    return p


def outcome(arch: str, name: str, data: dict | None = None) -> str:
    """A trained model's score in words (the registry's `score`), with advice when it is a share under one half:
    the model has not learned its task yet. "" when the model has no such figure."""
    key, label = archs.get(arch).score
    value = (store.read_json(arch, name) or {}).get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    if not key.startswith("val_") or "perplexity" in key or value >= 0.5:
        return f"{label} {value:.1%}" if "perplexity" not in key else f"{label} {value:.1f}"
    if (data or {}).get("source") == "upload":
        more = "more rows of your data or more epochs"
    else:
        full = estimate_seconds(arch, resolve(archs.get(arch).module().PARAMS, {}))
        more = ("more training examples or more epochs (the Full preset: the shipped default's settings"
                + (f", ~{full:.0f} s here)" if full else ")"))
    return f"{label} {value:.1%}: low, the model has not learned its task yet; {more} would help"


WORK = ("n_train", "n_dialogues", "n_scenes", "epochs")   # the knobs a run's time grows with, ~linearly
OVERHEAD_S = 4.0                                         # data, graph building and evaluation, roughly


def estimate_seconds(arch: str, params: dict) -> float | None:
    """A rough forecast of a run's seconds on this machine: the shipped default's measured time, scaled by
    (training examples x epochs) against its settings. None when there is no default to scale from."""
    a = archs.get(arch)
    try:
        seconds = (store.read_json(a.id, a.default) or {}).get("train_seconds")
        base = (store.read_json(a.id, a.default, "config") or {}).get("params") or {}
    except SeqvizError:
        return None
    if not isinstance(seconds, (int, float)):
        return None
    ratio = 1.0
    for k in WORK:
        if isinstance(base.get(k), (int, float)) and base[k] > 0 and isinstance(params.get(k), (int, float)):
            ratio *= params[k] / base[k]
    return OVERHEAD_S + max(0.0, seconds - OVERHEAD_S) * ratio


def _progress(cancel: threading.Event | None):
    """The Keras callback that reports a run's progress (begin, every batch, every epoch) and stops it on `cancel`."""
    import tensorflow as tf

    class Progress(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs, self.steps = self.params.get("epochs", 1), self.params.get("steps") or 1
            self._epoch = 0
            emit({"type": "begin", "epochs": self.epochs, "steps": self.steps})
            phase("building the graph (first batch)")

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

        def on_train_end(self, logs=None):
            phase("evaluating on held-out data")

    return Progress()


def train(p: Plan, on_event: Callable[[dict], None] | None = None,
          cancel: threading.Event | None = None, snapshots: bool = True) -> store.Bundle:
    """Seed, fit, measure, save, in this thread. Raises Cancelled (and saves nothing) if `cancel` gets set.
    With `snapshots` the model is saved with its replay (seqviz.replay; off only to measure what it costs)."""
    import tensorflow as tf
    with reporting(on_event):
        tf.keras.utils.set_random_seed(p.params["seed"])  # python, numpy and tf: same plan, same model
        t0 = time.perf_counter()
        phase("generating data" if p.data is None else "preparing your data")
        mod = archs.get(p.arch).module()
        progress = _progress(cancel)
        factories = [lambda model, vocabs: progress]
        if snapshots:
            probes = [p.probe] if p.probe else []
            if not (p.probe and p.strict_probe):
                probes.append(replay.default_probe(mod, p.params, p.data))
            rec = replay.recorder(mod, p.arch, p.params, p.data_info, probes,
                                  p.strict_probe and bool(p.probe), lambda snap: record("replay", snap))
            factories.append(rec.bind)   # after the progress: "begin" first, an epoch's event before its snapshot
        run = Run(*factories)
        model, vocabs, metrics = mod.fit(p.params, p.data, run)
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"training of {p.arch} {p.name} was cancelled; nothing was saved")
        metrics["history"] = run.history
        metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
        if snapshots:
            metrics["replay_seconds"] = round(rec.seconds, 2)      # of train_seconds, taking the snapshots
        phase("saving")
        bundle = store.Bundle(p.arch, p.name, p.params, model, vocabs, metrics, p.data_info,
                              rec.replay if snapshots else None, heldout=metrics.pop("heldout", None))
        store.save(bundle)
        return bundle


# ---------------------------------------------------------------------------------------------
# Worker processes: one job each (`python -m seqviz.worker` runs `serve_one`)
# ---------------------------------------------------------------------------------------------
def serve_one(job_in, events_out) -> int:
    """The worker's side: import TensorFlow and every architecture, and let each prepare what any of its runs
    reads (so a spare worker is warm), say
    "ready", read one job (a JSON line), train it, reporting every event as a JSON line. Afterwards
    the only lines read are "cancel"; end of input (the server went away) cancels too."""
    import tensorflow  # noqa: F401
    for a in archs.ARCHS.values():    # what an architecture reads for any run (the LM's docstring corpus)
        contract.hook(a.module(), "prepare_worker")()
    lock = threading.Lock()

    def send(event: dict) -> None:
        with lock:
            events_out.write(json.dumps(event) + "\n")
            events_out.flush()

    send({"type": "ready", "pid": os.getpid()})
    line = job_in.readline()
    if not line:
        return 0
    msg = json.loads(line)
    cancel = threading.Event()

    def listen():
        for line in job_in:
            if line.strip() == "cancel":
                cancel.set()
        cancel.set()                                  # end of input: nobody is waiting for this run
    threading.Thread(target=listen, daemon=True).start()

    os.environ["SEQVIZ_MODELS"] = msg["store"]
    try:
        if msg["upload"]:
            send({"type": "phase", "phase": f"reading {msg['filename']}"})
        upload = Path(msg["upload"]).read_bytes() if msg["upload"] else None
        files = {k: (fname, Path(path).read_bytes()) for k, (path, fname) in msg.get("files", {}).items()}
        p = plan(msg["arch"], msg["params"], upload, msg["filename"], msg["name"], overwrite=True,
                 files=files, probe=msg.get("probe"))   # checked again
        bundle = train(p, send, cancel)
        send({"type": "done", "train_seconds": bundle.metrics["train_seconds"]})
    except Cancelled:
        send({"type": "cancelled"})
    except SeqvizError as e:
        send({"type": "failed", "error": str(e)})
    except Exception as e:  # a bug or TF error: report it to the page, never kill the app
        send({"type": "failed", "error": f"{type(e).__name__}: {e}"})
    return 0


class _Worker:
    """A `python -m seqviz.worker` process: its stdin takes the job and "cancel", its stdout gives events."""

    def __init__(self):
        here = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # the page's reruns come first: the worker runs at a lower CPU priority (seqviz.worker), one thread per op
        # (TF_NUM_INTRAOP_THREADS=1, set by seqviz unless you set it, inherited here)
        self.log = tempfile.TemporaryFile()           # its stderr: TensorFlow's chatter, a crash's last words
        self.proc = subprocess.Popen([sys.executable, "-m", "seqviz.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env, text=True, bufsize=1)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, line: str) -> None:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass                                      # it is gone already: its events have ended

    def events(self):
        for line in self.proc.stdout:
            try:
                yield json.loads(line)
            except ValueError:
                continue

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()

    def exit_note(self) -> str:
        """Why its events stopped without an end: its exit code and last words."""
        self.proc.wait()
        words = self.last_words()
        return f"the training process ended unexpectedly (exit code {self.proc.returncode})" + \
            (f": {words}" if words else "")

    def last_words(self) -> str:
        self.log.seek(0)
        lines = [ln for ln in self.log.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def close(self) -> None:
        self.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.log):
            try:
                f.close()
            except OSError:
                pass


def _temp(raw: bytes) -> str:
    """A file for the worker process to read `raw` from (deleted when the job ends)."""
    with tempfile.NamedTemporaryFile(delete=False, suffix=".upload") as f:
        f.write(raw)
    return f.name


_spare: _Worker | None = None


def prestart() -> None:
    """Start a spare worker (TensorFlow imported, architectures loaded) for the next job, if none is ready and
    no job is running (its import would take CPU from the run; a job starts the next spare when it ends)."""
    global _spare
    if pool.url() and not pool.in_worker():           # the pool's workers train, not this server
        return
    with _lock:
        if _running or (_spare is not None and _spare.alive()):
            return
        _spare = _Worker()


def _take_worker() -> _Worker:
    global _spare
    with _lock:
        w, _spare = _spare, None
    return w if w is not None and w.alive() else _Worker()


class Job:
    """A training run in a worker process, watched by a thread of this one. Read its fields from any
    thread; they only grow."""

    def __init__(self, p: Plan, owner: str | None = None, remote: str | None = None):
        # a job waiting in the queue holds its files on disk, not their bytes (nor the parsed data) in memory
        self._upload = _temp(p.upload) if p.upload is not None else None
        self._files = {k: (_temp(raw), fname) for k, (fname, raw) in p.files.items()}
        self.id, self.owner = uuid.uuid4().hex[:12], owner
        self.ticket = self.id             # what the per-session limit counts (the LM race's sides share one)
        self.remote = remote              # the pool's Redis URL (SEQVIZ_QUEUE), or None: this server's workers
        self.worker_name: str | None = None   # the pool's worker that took it
        self.plan = dataclasses.replace(p, data=None, upload=None, files={k: (f, b"") for k, (f, _) in p.files.items()})
        self.status = "running"           # running | done | failed | cancelled
        self.phase = "queued behind another training run"
        self.progress, self.error = 0.0, None
        self.total_epochs, self.steps = p.params.get("epochs", 1), 1   # updated by the "begin" event
        self.epoch, self.batch = 0, 0     # the latest batch: epoch index (0-based) and batch in it (1-based)
        self.batch_loss: list[float] = []
        self.epochs: list[dict] = []      # logs at the end of each epoch
        self.records: dict[str, list] = {}  # an architecture's live records (the LM race's trace)
        self.started, self.finished = time.time(), None
        self.first_batch_at: float | None = None
        self.setup_started: float | None = None   # when a worker took the job (its data and graph come next)
        self._setup_share = min(0.5, max(0.05, OVERHEAD_S / (estimate_seconds(p.arch, p.params) or 5 * OVERHEAD_S)))
        self.train_seconds: float | None = None
        self.waiting = True               # queued behind another training run
        self._cancel = threading.Event()
        self._worker: _Worker | None = None
        self._thread = threading.Thread(target=self._run, name=f"train-{p.arch}-{p.name}", daemon=True)

    @property
    def key(self) -> str:
        return self.plan.job_key

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set() and self.running

    def eta(self) -> float | None:
        """Seconds left, from the batch rate since the first batch (which builds the graph), or None."""
        done = len(self.batch_loss)
        if self.first_batch_at is None or done < 3:
            return None
        rate = (done - 1) / max(1e-6, time.time() - self.first_batch_at)
        return max(0.0, (self.total_epochs * self.steps - done) / rate)

    def fraction(self) -> float:
        """The progress bar's fill. Batches fill the bar after a setup share (data, vocabularies and the first
        batch's graph: OVERHEAD_S of the run's forecast, at least 5%); before the first batch the setup share
        fills with the seconds spent on it, never reaching its end (1 - e^(-t / OVERHEAD_S)), so the bar moves
        while the graph builds instead of sitting at 0% and jumping."""
        if self.status == "done":
            return 1.0
        setup = self._setup_share
        if self.first_batch_at is None:
            if self.waiting or self.setup_started is None:
                return 0.0
            return setup * (1 - math.exp(-(time.time() - self.setup_started) / OVERHEAD_S))
        return setup + (1 - setup) * min(1.0, self.progress)

    def _on_event(self, e: dict) -> None:
        self.progress = e.get("progress", self.progress)
        if e["type"] == "phase":
            if not self._cancel.is_set():
                self.phase = e["phase"]
        elif e["type"] == "begin":
            self.total_epochs, self.steps = e["epochs"], e["steps"]
        elif e["type"] == "batch":
            if self.first_batch_at is None:
                self.first_batch_at = time.time()
                if not self._cancel.is_set():
                    self.phase = "training"
            self.epoch, self.batch = e["epoch"], e["batch"]
            self.batch_loss.append(e["loss"])
        elif e["type"] == "epoch":
            self.epochs.append(e["logs"])
        elif e["type"] == "record":
            self.records.setdefault(e["key"], []).append(e["value"])
        elif e["type"] == "worker":                   # a pool's worker took it (seqviz.pool)
            self.worker_name, self.waiting, self.setup_started = e["name"], False, time.time()
            if not self._cancel.is_set():
                self.phase = f"starting on the pool's worker {e['name']}"

    def position(self) -> int | None:
        """Its place in the queue (1: next to start), or None when it is not waiting."""
        if self.remote:
            w = self._worker
            return w.position() if self.waiting and self.running and isinstance(w, pool.Remote) else None
        with _turn:
            return _waiting.index(self) + 1 if self in _waiting else None

    def wait_seconds(self) -> float | None:
        """About how long until it starts: what the runs on the workers have left (their measured rate; before
        their first batch, the forecast less the time spent) and the forecasts of the runs ahead in the queue,
        shared over the workers. None when it is not waiting."""
        if self.remote:                   # the pool's queue: the runs ahead at this run's forecast, over its workers
            place = self.position()
            if place is None:
                return None
            w = self._worker
            return self.forecast() * place / max(1, len(pool.workers(w.conn)))
        with _turn:
            if self not in _waiting:
                return None
            ahead = _waiting[:_waiting.index(self)]
            active = [j for j in _jobs.values() if j.running and not j.waiting]
        return _share([j.left() for j in active] + [j.forecast() for j in ahead])

    def forecast(self) -> float:
        """The run's forecast in seconds (the shipped default's measured time, scaled), setup included."""
        return (estimate_seconds(self.plan.arch, self.plan.params) or 0.0) + OVERHEAD_S

    def left(self) -> float:
        """Seconds this running job has left: its measured rate, or its forecast less the time it has run."""
        eta = self.eta()
        if eta is not None:
            return eta
        return max(0.0, self.forecast() - (time.time() - (self.setup_started or time.time())))

    def _run(self) -> None:
        upload, files = self._upload, self._files
        try:
            # a worker's turn: SEQVIZ_WORKERS runs at a time here (one leaves a core to the pages), or the pool's
            # queue orders them (seqviz.pool: waiting until a worker's first event)
            with contextlib.nullcontext() if self.remote else _slot(self):
                if self.remote:
                    self.phase = "queued on the pool"
                    self._worker = w = pool.Remote(self.remote, self.id)
                else:
                    self.waiting = False
                    self.phase = "starting a training process"
                    self._worker = w = _take_worker()
                    self.setup_started = time.time()
                if self._cancel.is_set():             # cancelled while the worker was being taken
                    raise Cancelled("cancelled before it started")
                w.send(json.dumps({"arch": self.plan.arch, "params": self.plan.params, "name": self.plan.name,
                                   "upload": upload, "filename": self.plan.filename, "files": files,
                                   "probe": self.plan.probe,
                                   "store": str(store.root())}))
                end = None
                for e in w.events():
                    if e["type"] in ("done", "cancelled", "failed"):
                        end = e
                        break
                    if e["type"] != "ready":
                        self._on_event(e)
            if end is None:                           # the process died (killed on cancel, or crashed)
                if self._cancel.is_set():
                    raise Cancelled("killed after the grace period")
                raise SeqvizError(w.exit_note())
            if end["type"] == "cancelled":
                raise Cancelled("stopped after a batch")
            if end["type"] == "failed":
                raise SeqvizError(end["error"])
            self.train_seconds = end["train_seconds"]
            self.status, self.progress, self.phase = "done", 1.0, "done"
        except Cancelled:
            self.status, self.phase = "cancelled", "cancelled"
        except SeqvizError as e:
            self.status, self.error, self.phase = "failed", str(e), "failed"
        except Exception as e:  # a bug: report it to the page, never kill the app
            self.status, self.error, self.phase = "failed", f"{type(e).__name__}: {e}", "failed"
        finally:
            self.finished = time.time()
            if self._worker is not None:
                self._worker.close()
            for path in [upload] + [path for path, _ in files.values()]:
                if path:
                    os.unlink(path)
            with _lock:
                if _running.get(self.key) is self:
                    del _running[self.key]
            if self._worker is not None:
                prestart()                            # the next job starts warm

    def cancel(self) -> None:
        """Answers at once; the worker stops after its current batch, or is killed after CANCEL_GRACE s."""
        if not self.running or self._cancel.is_set():
            return
        self._cancel.set()
        self.phase = "cancelling…"
        with _turn:
            _turn.notify_all()                        # a waiting job leaves the queue at once
        w = self._worker
        if w is not None:
            w.send("cancel")
            timer = threading.Timer(CANCEL_GRACE, w.kill)
            timer.daemon = True
            timer.start()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.status == "running"


_lock = threading.RLock()
_turn = threading.Condition()   # the queue: jobs wait on it for a worker's turn, first come first served
_waiting: list[Job] = []        # the queue, oldest first
_active = 0                     # jobs holding a worker's turn
_running: dict[str, Job] = {}   # plan key -> running job (for joining)
_jobs: dict[str, Job] = {}      # job id -> job (for pages that poll by id)


def workers() -> int:
    """Training runs at a time on this server (SEQVIZ_WORKERS, default 1: a fit runs one thread per op, and one
    run at a time leaves a core to the pages)."""
    return settings.number("SEQVIZ_WORKERS", 1)


def _share(seconds: list[float]) -> float:
    return sum(seconds) / workers()


@contextlib.contextmanager
def _slot(job: Job):
    """Wait in the queue for a worker's turn (first come, first served; a cancel leaves at once), hold it while
    the job runs."""
    global _active
    with _turn:
        while not job._cancel.is_set() and not (_waiting[0] is job and _active < workers()):
            _turn.wait(1.0)                           # woken by an ending job or a cancel; 1 s: a changed setting
        _waiting.remove(job)
        _turn.notify_all()                            # the next one may take another free worker
        if job._cancel.is_set():
            raise Cancelled("cancelled while waiting")
        _active += 1
    try:
        yield
    finally:
        with _turn:
            _active -= 1
            _turn.notify_all()


def submit(p: Plan, owner: str | None = None, ticket: str | None = None, queue: str | None = None) -> Job:
    """Queue training `p` in the background, or join the job already training the same plan. `owner` (a browser
    session) may have SEQVIZ_JOBS_PER_SESSION runs waiting or running (default 1; runs sharing a `ticket`, the
    LM race's two sides, count as one); the queue holds SEQVIZ_QUEUE_MAX waiting runs (default 20): past either,
    a SeqvizError says so and when to try again. `queue`: a pool's Redis URL for this run (the CLI's --queue;
    default SEQVIZ_QUEUE)."""
    with _lock:
        job = _running.get(p.job_key)
        if job is not None:
            return job
        store.expire()                                # a class's old models go first (SEQVIZ_MODEL_DAYS)
        store.check_room()                            # the trained models' budget (SEQVIZ_STORE_GB)
        per, most = settings.number("SEQVIZ_JOBS_PER_SESSION", 1), settings.number("SEQVIZ_QUEUE_MAX", 20, low=0)
        workers()                                     # checked here: a bad setting is said to whoever trains
        mine = [j for j in _running.values() if owner is not None and j.owner == owner]
        if len({j.ticket for j in mine} - {ticket}) >= per:
            raise SeqvizError(f"You already have {'a training run' if per == 1 else f'{len(mine)} training runs'} "
                              f"on this server ({', '.join(repr(j.plan.name) for j in mine)}): wait for "
                              f"{'it' if per == 1 else 'one'} to finish, or cancel it, then train again.")
        address = queue or pool.url()
        with _turn:
            if address:                               # the pool's queue (seqviz.pool)
                n = pool.waiting(pool.connect(address))
                wait = n * (estimate_seconds(p.arch, p.params) or 0.0) + OVERHEAD_S
                full = n >= most
            else:
                n = len(_waiting)
                active = [j for j in _jobs.values() if j.running and not j.waiting]
                wait = _share([j.left() for j in active] + [j.forecast() for j in _waiting])
                full = n >= most and (n or _active >= workers())      # it would have to wait
            if full:
                minutes = max(1, math.ceil(wait / 60))
                raise SeqvizError(f"The training queue is full ({n} run{'s' * (n != 1)} waiting); try again in "
                                  f"~{minutes} minute{'s' * (minutes != 1)}.")
            job = Job(p, owner, address)
            job.ticket = ticket or job.id
            if not job.remote:
                _waiting.append(job)
        _running[p.job_key] = job
        _jobs[job.id] = job
    job._thread.start()
    return job


def trained_by(arch: str, name: str) -> str | None:
    """The browser session whose run on this server trained arch/name (the one that may delete it), or None."""
    with _lock:
        return next((j.owner for j in reversed(list(_jobs.values()))
                     if j.status == "done" and j.plan.arch == arch and j.plan.name == name), None)


def queue() -> dict:
    """The server's queue now: {"waiting", "running", "workers", "pool"} (the page says it before Train is
    pressed); with SEQVIZ_QUEUE, the pool's (seqviz.pool)."""
    address = pool.url()
    if address:
        conn = pool.connect(address)
        return {"waiting": pool.waiting(conn), "running": pool.running(conn), "workers": len(pool.workers(conn)),
                "pool": True}
    with _turn:
        return {"waiting": len(_waiting), "running": _active, "workers": workers(), "pool": False}


def get(job_id: str) -> Job | None:
    return _jobs.get(job_id)


def running(arch: str) -> list[Job]:
    """The jobs of `arch` running (or queued) on this server, oldest first: whoever started them."""
    with _lock:
        return [j for j in _running.values() if j.plan.arch == arch]
