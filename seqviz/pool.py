"""Training on more machines: the training service's jobs through Redis Queue (RQ) to a pool of workers.

    SEQVIZ_QUEUE=redis://host:6379/0 streamlit run app.py          # the server enqueues its training runs
    python -m seqviz worker --queue redis://host:6379/0             # on any machine that sees the same store
    python -m seqviz train ARCH ... --queue redis://host:6379/0     # the CLI submits to the pool and follows

A run is what the local service runs (seqviz.training): the plan's message for `python -m seqviz.worker`. The
server's `Remote` stands in for the local worker process: it enqueues the message (its upload's bytes in Redis,
not a path on the server's disk), then reads the run's events back from a Redis list. On the pool, `run` is the
RQ job: it hands the message to a fresh `python -m seqviz.worker` process (kept warm, TensorFlow imported: RQ's
default worker forks a child per job, and TensorFlow is not safe to fork once its threads run, so the RQ worker
is a SimpleWorker that never imports TensorFlow itself), relays its events, watches a cancel flag and keeps a
heartbeat. A worker killed mid-run stops its heartbeat: the server reports the run failed, and the training
process, its input closed, stops and saves nothing. Jobs travel as JSON (RQ's JSONSerializer): nothing is
unpickled. Keys: seqviz:<job>:events (a list), :cancel ("cancel" or "kill"), :alive (the heartbeat, with the
worker's name), :upload and :file:<key> (bytes); all expire an hour after they are last written.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from seqviz.errors import SeqvizError

QUEUE = "seqviz-train"
TTL = 3600                 # seconds every key of a run lives after its last write
HEARTBEAT = 1.0            # seconds between a running job's heartbeats
ALIVE = 8                  # seconds without a heartbeat after which a started run is the worker's loss
POLL = 0.5                 # seconds between the server's reads of an idle event list


def url() -> str | None:
    """The pool's Redis URL (SEQVIZ_QUEUE), or None: runs train on this server's own workers."""
    return os.environ.get("SEQVIZ_QUEUE", "").strip() or None


_IN_WORKER = False          # set in `python -m seqviz worker`: its training processes are this machine's


def in_worker() -> bool:
    return _IN_WORKER


_conns: dict = {}           # address -> a connection that answered (thread-safe: redis-py pools its sockets)


def connect(address: str):
    """A Redis connection to `address` that answers, or a SeqvizError saying why not."""
    import redis
    if not address.startswith(("redis://", "rediss://", "unix://")):
        raise SeqvizError(f"The queue must be a Redis URL like redis://host:6379/0, not {address!r}.")
    conn = _conns.get(address)
    try:
        if conn is None:
            conn = redis.Redis.from_url(address, socket_connect_timeout=5)
        conn.ping()
    except (redis.RedisError, ValueError) as e:
        raise SeqvizError(f"Cannot reach the Redis queue at {address}: {str(e).rstrip('.')}.") from None
    _conns[address] = conn
    return conn


def _queue(conn):
    from rq import Queue
    from rq.serializers import JSONSerializer
    return Queue(QUEUE, connection=conn, serializer=JSONSerializer)


def _key(job_id: str, what: str) -> str:
    return f"seqviz:{job_id}:{what}"


def _workers(conn) -> dict[str, str]:
    """The pool's live workers: name -> what it trains ("" when idle). Each keeps its own key alive (a killed
    worker's entry in RQ's registry outlives it by minutes; its key here by ALIVE seconds)."""
    keys = list(conn.scan_iter(match="seqviz:worker:*"))
    values = conn.mget(keys) if keys else []
    return {k.decode()[len("seqviz:worker:"):]: v.decode() for k, v in zip(keys, values) if v is not None}


def workers(conn) -> list[str]:
    """The names of the pool's workers now."""
    return sorted(_workers(conn))


def waiting(conn) -> int:
    """Runs waiting in the pool's queue."""
    return _queue(conn).count


def running(conn) -> int:
    """Runs the pool's workers are training now."""
    return sum(bool(v) for v in _workers(conn).values())


# ---------------------------------------------------------------------------------------------
# The server's side: a run on the pool, seen as the training service sees a worker process
# ---------------------------------------------------------------------------------------------
class Remote:
    """`training._Worker`'s interface over the pool: `send` the job's message (enqueue it) or "cancel", `events`
    from the worker that takes it, `kill` after the cancel's grace, `exit_note` when its events stop."""

    def __init__(self, address: str, job_id: str):
        self.conn, self.id, self.rq_job, self.note = connect(address), job_id, None, ""

    def alive(self) -> bool:
        return True

    def send(self, line: str) -> None:
        if line == "cancel":
            if self.rq_job is not None and self.rq_job.get_status(refresh=True) == "queued":
                self.rq_job.cancel()                     # still waiting: it leaves the queue, no worker sees it
                self._push({"type": "cancelled"})
            else:
                self.conn.set(_key(self.id, "cancel"), "cancel", ex=TTL)
            return
        msg = json.loads(line)
        for what, path in [("upload", msg.get("upload"))] + [(f"file:{k}", p) for k, (p, _) in
                                                             msg.get("files", {}).items()]:
            if path:                                     # its bytes travel with the job: no shared /tmp
                self.conn.set(_key(self.id, what), Path(path).read_bytes(), ex=TTL)
        msg["upload"] = bool(msg.get("upload"))
        msg["files"] = {k: fname for k, (_, fname) in msg.get("files", {}).items()}
        self.rq_job = _queue(self.conn).enqueue_call("seqviz.pool.run", args=(self.id, msg), timeout=-1,
                                                     result_ttl=60, failure_ttl=TTL, job_id=f"seqviz-{self.id}",
                                                     description=f"train {msg['arch']}/{msg['name']}")

    def _push(self, event: dict) -> None:
        self.conn.rpush(_key(self.id, "events"), json.dumps(event))
        self.conn.expire(_key(self.id, "events"), TTL)

    def position(self) -> int | None:
        """Its place in the pool's queue (1: next), or None once a worker has it."""
        try:
            at = self.rq_job.get_position() if self.rq_job is not None else None
        except Exception:                               # the job is gone from the queue (taken, cancelled)
            return None
        return None if at is None else at + 1

    def events(self):
        """The run's events as they come; they stop at its end, or when its worker stops answering."""
        started = None
        while True:
            got = self.conn.blpop([_key(self.id, "events")], timeout=POLL)
            if got is not None:
                e = json.loads(got[1])
                if e["type"] == "worker":
                    started = e["name"]
                yield e
                if e["type"] in ("done", "cancelled", "failed"):
                    return
                continue
            if started is not None and not self.conn.exists(_key(self.id, "alive")):
                self.note = (f"the worker {started} stopped answering mid-run (killed, or its machine went away); "
                             "nothing was saved")
                return
            status = self.rq_job.get_status(refresh=True) if self.rq_job is not None else None
            if started is None and status in ("failed", "stopped", "canceled"):
                self.note = f"the pool's job {status} before a worker started it"
                return

    def kill(self) -> None:
        self.conn.set(_key(self.id, "cancel"), "kill", ex=TTL)

    def exit_note(self) -> str:
        return self.note or "the pool's worker ended without a word"

    def close(self) -> None:
        self.conn.delete(*[_key(self.id, w) for w in ("upload", "cancel")])


# ---------------------------------------------------------------------------------------------
# The pool's side: an RQ job that runs a plan's message in a training process
# ---------------------------------------------------------------------------------------------
def run(job_id: str, msg: dict) -> None:
    """The RQ job (in `python -m seqviz worker`): the message's training in a `python -m seqviz.worker` process,
    its events relayed to Redis, a cancel flag watched, a heartbeat kept."""
    from rq import get_current_job

    from seqviz import store, training
    job = get_current_job()
    conn, name = job.connection, job.worker_name or socket.gethostname()
    events = _key(job_id, "events")

    def push(e: dict) -> None:
        conn.rpush(events, json.dumps(e))
        conn.expire(events, TTL)

    done, temps = threading.Event(), []

    def beat():                                   # the server reads a missing heartbeat as a lost worker
        while not done.is_set():
            conn.set(_key(job_id, "alive"), name, ex=ALIVE)
            done.wait(HEARTBEAT)
    global _training
    _training = f"{msg['arch']}/{msg['name']}"
    conn.set(_key(job_id, "alive"), name, ex=ALIVE)
    threading.Thread(target=beat, daemon=True).start()
    push({"type": "worker", "name": name})
    w = None
    try:
        def fetch(what: str) -> str:              # the upload's bytes from Redis, into a file for the process
            raw = conn.get(_key(job_id, what))
            if raw is None:
                raise SeqvizError("the run's data expired from the queue before a worker took it; train again")
            with tempfile.NamedTemporaryFile(delete=False, suffix=".upload") as f:
                f.write(raw)
            temps.append(f.name)
            return f.name
        msg = {**msg, "upload": fetch("upload") if msg.get("upload") else None,
               "files": {k: (fetch(f"file:{k}"), fname) for k, fname in msg.get("files", {}).items()},
               "store": str(store.root())}        # this machine's mount of the shared store
        w = training._take_worker()
        w.send(json.dumps(msg))

        def watch():                              # Cancel on the page reaches the process
            said = False
            while not done.is_set():
                flag = conn.get(_key(job_id, "cancel"))
                if flag == b"kill":
                    w.kill()
                    return
                if flag == b"cancel" and not said:
                    w.send("cancel")
                    said = True
                done.wait(0.2)
        threading.Thread(target=watch, daemon=True).start()
        end = None
        for e in w.events():
            if e["type"] == "ready":
                continue
            push(e)
            if e["type"] in ("done", "cancelled", "failed"):
                end = e
                break
        if end is None:
            w.proc.wait()
            flag = conn.get(_key(job_id, "cancel"))
            push({"type": "cancelled"} if flag else
                 {"type": "failed", "error": f"the training process on {name} ended unexpectedly "
                                             f"(exit code {w.proc.returncode}): {w.last_words()}"})
    except SeqvizError as e:
        push({"type": "failed", "error": str(e)})
    except Exception as e:                        # a bug: said to the page, the worker goes on to the next job
        push({"type": "failed", "error": f"{type(e).__name__}: {e}"})
    finally:
        done.set()
        _training = ""
        conn.delete(_key(job_id, "alive"))
        if w is not None:
            w.close()
        for path in temps:
            os.unlink(path)
        training.prestart()                       # the next job starts warm


def work(address: str, name: str | None = None, burst: bool = False) -> None:
    """`python -m seqviz worker`: take the pool's training jobs one at a time until stopped (`burst`: until the
    queue is empty). A spare training process is started at once, so the first job starts warm."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from seqviz import training
    global _IN_WORKER
    _IN_WORKER = True
    conn = connect(address)
    name = name or f"{socket.gethostname()}-{os.getpid()}"
    if conn.exists(f"seqviz:worker:{name}"):
        raise SeqvizError(f"A worker named {name!r} is already taking this queue's jobs; give another --name.")
    _forget_dead(conn, name)
    training.prestart()
    import redis
    own = redis.Redis.from_url(address)           # RQ sets its own socket timeout on the connection it is given
    worker = SimpleWorker([_queue(own)], connection=own, name=name, serializer=JSONSerializer)

    def alive():                                  # the pool's list of live workers (see `_workers`)
        while True:
            conn.set(f"seqviz:worker:{name}", _training, ex=ALIVE)
            time.sleep(HEARTBEAT)
    threading.Thread(target=alive, daemon=True).start()
    print(f"seqviz worker {name}: taking training jobs from {address} (queue {QUEUE}); store {_store_root()}",
          flush=True)
    worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")


_training = ""             # in a worker: what its current job trains ("" when idle), for `running`


def _forget_dead(conn, name: str) -> None:
    """A worker of this name that was killed (its live key expired) left its entry in RQ's registry, which would
    refuse a new worker of the name: mark it dead, so a restarted worker keeps its name."""
    from rq import Worker
    old = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=conn)
    if old is not None and old.death_date is None:
        old.register_death()


def _store_root() -> str:
    from seqviz import store
    return str(store.root())


def follow(job, show=None, poll: float = 0.2) -> None:
    """Wait for a training.Job (the CLI's `train --queue`), calling `show(epoch event)` as each epoch ends."""
    seen = 0
    while True:
        ended = job.wait(poll)
        for i in range(seen, len(job.epochs)):
            if show is not None:
                show({"type": "epoch", "epoch": i + 1, "logs": job.epochs[i]})
        seen = len(job.epochs)
        if ended:
            return
