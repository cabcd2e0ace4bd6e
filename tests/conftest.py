import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A tiny attention config: trains in a couple of seconds on 2 cores.
TINY = {"n_train": 200, "epochs": 1, "embed_dim": 8, "units": 8, "attn_dim": 8, "batch_size": 32}



def npy_header(header: str, data: bytes = b"") -> bytes:
    """A .npy file with the given header dict text (v1.0: magic, version, length, header padded to 64), then `data`."""
    text = header + " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin-1") + data


def store_entry(arch: str, name: str, config: dict, metrics: dict) -> None:
    """A store entry of only its config and metrics (what the pages list and group), in the store in use."""
    from seqviz import store
    path = store.root() / arch / name
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    (path / "metrics.json").write_text(json.dumps(metrics))


# A header declaring 409,600,000,000 float32 (1.49 TiB), followed by 16 bytes: nothing may be allocated from it.
FORGED_NPY = npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (409600000000,), }", b"\0" * 16)

@pytest.fixture
def tmp_store(tmp_path, monkeypatch):
    """An empty model store in a temp dir (the repo's models/ is never written by tests)."""
    path = tmp_path / "models"
    path.mkdir()
    monkeypatch.setenv("SEQVIZ_MODELS", str(path))
    return path


@pytest.fixture
def store_with_defaults(tmp_store):
    """A temp store holding a copy of the committed default models."""
    for entry in (ROOT / "models").glob("*/default*"):  # "default", and seq2seq's "default-<mode>"
        if entry.is_dir():
            shutil.copytree(entry, tmp_store / entry.parent.name / entry.name)
    return tmp_store


_OWN_TMP = pytest.StashKey[tuple]()  # (the dir this process made, the TMPDIR it found)


def pytest_configure(config):
    # Every temp file of the run goes into one dir that the run removes at its end: pytest's tmp_path dirs,
    # TensorFlow's /tmp/__autograph_generated_file*.py (written, never deleted, each time a function is traced)
    # and whatever the training workers, CLI runs and servers the tests start write. xdist workers and
    # subprocesses inherit TMPDIR; only the process that made the dir removes it (tests/unit/test_temp_files.py).
    if "SEQVIZ_TEST_TMP" not in os.environ:
        made = tempfile.mkdtemp(prefix="seqviz-tests-")
        config.stash[_OWN_TMP] = (made, os.environ.get("TMPDIR"))
        os.environ["SEQVIZ_TEST_TMP"] = os.environ["TMPDIR"] = made
    tempfile.tempdir = os.environ["SEQVIZ_TEST_TMP"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # no background warm-up in the tests' app runs and servers (it would compete for the 2 cores);
    # tests/e2e/test_warmup.py turns it on for its own server
    os.environ.setdefault("SEQVIZ_WARMUP", "0")


def pytest_unconfigure(config):
    if _OWN_TMP not in config.stash:
        return
    made, found = config.stash[_OWN_TMP]
    shutil.rmtree(made, ignore_errors=True)
    del os.environ["SEQVIZ_TEST_TMP"]
    os.environ.pop("TMPDIR")
    if found is not None:
        os.environ["TMPDIR"] = found
    tempfile.tempdir = None
