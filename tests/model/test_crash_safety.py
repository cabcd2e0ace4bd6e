"""A process SIGKILLed in the middle of saving a model leaves the store loading the last good model,
with no half-written entry visible. Each test runs the save in a child process and kills it."""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from seqviz import replay, store
from seqviz.errors import SeqvizError
from tests.conftest import ROOT

# The child: save version 1 (unless told not to), print "ready", then save version 2 -- with an optional
# sabotage that SIGKILLs the child at one exact point of the save, or in a loop for random-time kills.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from seqviz import attention, store
    from seqviz.params import resolve
    from seqviz.vocab import Vocab

    where, first = sys.argv[1], sys.argv[2] == "1"
    params = resolve(attention.PARAMS, {"embed_dim": 4, "units": 4, "attn_dim": 4})
    vocabs = {"words": Vocab(["a", "b", "c"]), "labels": Vocab(["x", "y"], specials=())}
    model = attention.build(params, vocabs)

    def save(version):
        model.get_layer("probs").bias.assign([float(version), 0.0])   # the version is in the weights too
        store.save(store.Bundle("attention", "m", params, model, vocabs, {"version": version},
                                replay={"probe": {"text": "a b"}, "snapshots": [{"epoch": 0, "version": version}]}))

    if first:
        save(1)
    print("ready", flush=True)
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if where == "weights":          # half-way through writing the weights file
        import tensorflow as tf
        real = tf.keras.Model.save_weights
        def partial(self, path, *a, **k):
            real(self, path, *a, **k)
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
            die()
        tf.keras.Model.save_weights = partial
    elif where == "swap":           # between moving the old entry aside and moving the new one in
        real_replace, calls = os.replace, []
        def replace(src, dst):
            real_replace(src, dst)
            calls.append(dst)
            if ".old-" in str(dst):
                die()
        store.os.replace = replace
    elif where == "fsync":          # every file written, before anything is moved into place
        store.os.fsync = die
    if where == "loop":             # save again and again until killed from outside
        version = 2
        while True:
            save(version)
            version += 1
    save(2)
    print("survived", flush=True)
""")


def _child(where: str, first: bool, store_dir) -> subprocess.Popen:
    env = {**os.environ, "SEQVIZ_MODELS": str(store_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, where, "1" if first else "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _visible(store_dir) -> list[str]:
    return sorted(p.name for p in (store_dir / "attention").iterdir() if not p.name.startswith("."))


def _version(bundle) -> int:
    """The version in metrics.json, checked against the ones written into the weights and the replay."""
    bias = float(bundle.model.get_layer("probs").bias.numpy()[0])
    assert bias == bundle.metrics["version"], (bias, bundle.metrics)
    snaps = replay.read(bundle.arch, bundle.name)["snapshots"]
    assert snaps == [{"epoch": 0, "version": bundle.metrics["version"]}], snaps
    return bundle.metrics["version"]


@pytest.mark.parametrize("where", ["weights", "fsync", "swap"])
def test_killed_mid_save_leaves_the_last_good_model(tmp_store, where):
    proc = _child(where, True, tmp_store)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err[-2000:])
    assert "ready" in out and "survived" not in out
    # the reader sees exactly the old entry: no temp or aside folder, and it loads whole
    assert store.list_models("attention") == ["m"]
    assert _visible(tmp_store) == ["m"]
    assert _version(store.load("attention", "m")) == 1
    leftovers = [p.name for p in (tmp_store / "attention").iterdir() if p.name.startswith((".tmp-", ".old-"))]
    assert all(name.startswith(".tmp-") for name in leftovers), leftovers   # an aside entry was moved back


def test_killed_during_the_first_save_leaves_no_entry(tmp_store):
    proc = _child("weights", False, tmp_store)
    proc.communicate(timeout=240)
    assert proc.returncode == -signal.SIGKILL
    assert store.list_models("attention") == []
    with pytest.raises(SeqvizError, match="No attention model named 'm'"):
        store.load("attention", "m")


def test_killed_at_random_moments_while_saving_in_a_loop(tmp_store):
    """Kills at random times over many saves: after each, the entry loads whole (some version >= 1)."""
    rng = random.Random(0)
    seen = set()
    for _ in range(4):
        proc = _child("loop", True, tmp_store)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert store.list_models("attention") == ["m"] and _visible(tmp_store) == ["m"]
        seen.add(_version(store.load("attention", "m")))
    assert min(seen) >= 1
