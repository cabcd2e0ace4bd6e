"""The server side of a page: Streamlit's per-run Keras cleanup turned off, the cached model loader and
prediction, and the thread pool that runs predictions in the background."""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from seqviz import archs, store
from seqviz.errors import SeqvizError


def _keep_keras_session() -> None:
    """Streamlit calls `keras.backend.clear_session()` after every script run (its ScriptRunner's
    `_clean_problem_modules`), which empties TensorFlow's kernel cache: every traced forward pass of every
    cached model is then re-instantiated and re-optimised on the next run, ~0.3-0.4 s per model per rerun
    (and a training run in the background loses its kernels too). The models here live on purpose across
    runs (`st.cache_resource`), so the Keras session is kept; matplotlib figures are still closed."""
    from streamlit.runtime.scriptrunner import script_runner

    def clean() -> None:
        import sys
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    script_runner._clean_problem_modules = clean


_keep_keras_session()


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _load(arch: str, name: str, stamp: float) -> store.Bundle:  # stamp: reload when the entry changes
    return store.load(arch, name)


def load_model(arch: str, name: str) -> store.Bundle:
    return _load(arch, name, store.stamp(arch, name))


@st.cache_data(max_entries=512, show_spinner=False)
def _call(arch: str, name: str, stamp: float, fn: str, args: tuple, options: tuple):
    if "." in fn:     # a shared service's function of a model ("explain.of"), not the arch module's
        import importlib
        service, name_ = fn.split(".")
        return getattr(importlib.import_module(f"seqviz.{service}"), name_)(load_model(arch, name), *args,
                                                                             **dict(options))
    return getattr(archs.get(arch).module(), fn)(load_model(arch, name), *args, **dict(options))


def call(bundle: store.Bundle, fn: str, *args, **options):
    """The arch module's `fn(bundle, *args, **options)` (its `predict`, or a view `predict` is made of, such
    as captioning's `decode` of a feature vector; "service.fn": a shared service's, e.g. "explain.of"),
    memoised per (model, function, arguments): a widget that
    only changes the view (a tab, a step slider) re-runs the page without re-running the model. The cache is
    the server's, shared by every session and by the warm-up. Errors are not memoised."""
    return _call(bundle.arch, bundle.name, store.stamp(bundle.arch, bundle.name), fn, args,
                 tuple(sorted(options.items())))


def predict(bundle: store.Bundle, text: str, **options) -> dict:
    """The arch's `predict`, memoised (see `call`)."""
    return call(bundle, "predict", text, **options)


def background(fn, *args, **kwargs) -> Future:
    """`fn(*args, **kwargs)` in a worker thread: TensorFlow runs a graph without holding the GIL, so the
    page goes on meanwhile (starting other models, drawing figures). `.result()` is what `fn` returned, or
    raises what it raised. The worker runs in this session's script context (its caches, its spinners)."""
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx
    ctx = get_script_run_ctx()

    def run():
        add_script_run_ctx(threading.current_thread(), ctx)
        return fn(*args, **kwargs)
    return _POOL.submit(run)


def predict_async(bundle: store.Bundle, text: str, **options) -> Future:
    """`predict` in the background (see `background`)."""
    return background(predict, bundle, text, **options)


_POOL = ThreadPoolExecutor(4, thread_name_prefix="seqviz-predict")


def predict_or_stop(bundle: store.Bundle, text: str, **options) -> dict:
    """`predict`; at an input the model cannot read, the page says why and stops there."""
    from seqviz.ui.widgets import error
    try:
        return predict(bundle, text, **options)
    except SeqvizError as e:
        error(e)
        st.stop()


def session_id() -> str | None:
    """This browser session's id (its training runs and the models they trained are its own)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def submit(plan, ticket: str | None = None):
    """`training.submit` on behalf of this browser session (the server's per-session limit and queue apply)."""
    from seqviz import training
    return training.submit(plan, owner=session_id(), ticket=ticket)
