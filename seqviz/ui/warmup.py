"""The warm-up: the first visit to a page as fast as the second."""
from __future__ import annotations

import gc
import threading
import time

import streamlit as st

from seqviz import archs
from seqviz.errors import SeqvizError
from seqviz.ui.calls import WARM
from seqviz.ui.widgets import POLL_SECONDS

WARMUP = {"state": "off", "done": [], "todo": [], "seconds": None, "error": None}   # read by the home page
_warm_lock = threading.Lock()


def _warm_steps():
    """(label, work) per page: its `warm_<arch>` (seqviz.ui.calls), which loads its shipped default(s) through
    the pages' own caches and makes its first view's model calls once, as the page makes them (the same cached
    predictions and traced graphs the page then finds ready). Nothing is trained and nothing is written."""
    for arch_id in archs.ARCHS:
        yield arch_id, WARM[arch_id]


def warm_up() -> None:
    """Once per server process, in a background thread: import TensorFlow, load every page's shipped default
    and trace what its default view calls, so a page opened later finds it ready and a page opened meanwhile
    waits for the same work instead of repeating it (the caches' and `graphs.once_per_model`'s locks). It never
    trains and never waits for a training run (those are other processes). `SEQVIZ_WARMUP=0` turns it off."""
    import os
    if os.environ.get("SEQVIZ_WARMUP", "1") == "0":
        return
    with _warm_lock:
        if WARMUP["state"] != "off":
            return
        WARMUP["state"] = "running"
    threading.Thread(target=_warm, name="seqviz-warmup", daemon=True).start()


def _warm() -> None:
    import logging
    log = logging.getLogger("seqviz.warmup")
    # the pages' cached loaders are called outside a script run here: Streamlit's notice about that is noise
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    try:
        WARMUP["todo"] = [a for a in archs.ARCHS]
        import tensorflow  # noqa: F401
        for arch_id, work in _warm_steps():
            t = time.perf_counter()
            try:
                work()
            except SeqvizError as e:          # a damaged or missing default: the page will say so itself
                log.warning("warm-up: %s skipped (%s)", arch_id, e)
            WARMUP["done"].append(arch_id)
            WARMUP["todo"].remove(arch_id)
            log.warning("warm-up: %s ready in %.1f s", arch_id, time.perf_counter() - t)
    except Exception as e:  # never take the server down for a warm-up
        WARMUP["error"] = f"{type(e).__name__}: {e}"
        log.warning("warm-up failed: %s", WARMUP["error"])
    # TensorFlow and the loaded defaults are half a million objects that live as long as the server: moved out of
    # the collector's generations, a full collection (which holds the GIL every session shares) takes ~0 ms
    # instead of ~0.25 s. Cycles made later are collected as before.
    gc.collect()
    gc.freeze()
    WARMUP["seconds"] = round(time.perf_counter() - t0, 2)
    WARMUP["state"] = "done"
    log.warning("warm-up: done in %.1f s; %d objects frozen", WARMUP["seconds"], gc.get_freeze_count())


def warmup_panel() -> None:
    """The home page's line on the warm-up: what is still warming up, refreshed until it is done."""
    if WARMUP["state"] != "running":
        return

    @st.fragment(run_every=POLL_SECONDS)
    def panel():
        if WARMUP["state"] != "running":
            st.rerun(scope="app")
        titles = [archs.get(a).title for a in WARMUP["todo"]]
        st.info("Warming up in the background (loading the shipped models and tracing their graphs, so each page "
                "opens fast): still " + ", ".join(titles) + ". Pages work meanwhile; one opened now waits for "
                "its part.")

    panel()
