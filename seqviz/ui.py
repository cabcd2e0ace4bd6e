"""Streamlit helpers shared by the pages (the only module of seqviz that imports Streamlit).

The sidebar frame of every architecture page: model picker, knobs, training data, Train button,
and a polling fragment that shows the background job's progress and live loss curve.
Page state worth sharing (the input, the model) lives in the URL query string.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from seqviz import archs, figures, store, training
from seqviz.errors import SeqvizError
from seqviz.params import Param

POLL_SECONDS = 1.5
MAX_URL_TEXT = 2000


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


def md(text) -> str:
    """Escape a user-controlled string (a label, a name, a file's cell) for Streamlit's markdown."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|~$:" else c for c in str(text))


def error(e: Exception) -> None:
    st.error(md(e))


def table(data: dict | list[dict], container=None) -> None:
    """A read-only table of columns (a dict of lists) or rows (a list of dicts), full width, no index. It
    goes to the browser as Arrow directly: Streamlit's detour through pandas costs ~0.7 ms a table."""
    import pyarrow as pa
    t = pa.Table.from_pylist(data) if isinstance(data, list) else pa.table(data)
    # every row shown up to ~15 (Streamlit's default height cuts at ~10 and scrolls), then a scrolling box
    (container or st).dataframe(t, hide_index=True, width="stretch", height=min(38 + 35 * t.num_rows, 560))


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _load(arch: str, name: str, stamp: float) -> store.Bundle:  # stamp: reload when the entry changes
    return store.load(arch, name)


def load_model(arch: str, name: str) -> store.Bundle:
    return _load(arch, name, store.stamp(arch, name))


@st.cache_data(max_entries=512, show_spinner=False)
def _predict(arch: str, name: str, stamp: float, text: str, options: tuple) -> dict:
    return archs.get(arch).module().predict(load_model(arch, name), text, **dict(options))


def predict(bundle: store.Bundle, text: str, **options) -> dict:
    """The arch's `predict`, memoised per (model, input, options): a widget that only changes the view
    (a tab, a step slider) re-runs the page without re-running the model. Errors are not memoised."""
    return _predict(bundle.arch, bundle.name, store.stamp(bundle.arch, bundle.name), text,
                    tuple(sorted(options.items())))


def wide_chart(fig, key: str, min_width: int) -> None:
    """A full-width chart that never gets narrower than `min_width` px: on a phone it scrolls sideways inside
    its box instead of squeezing a lattice's nodes or a grid's cells on top of each other. (The CSS is ours,
    never user text.)"""
    box = re.sub(r"[^A-Za-z0-9_-]", "-", f"scroll-{key}")
    with st.container(key=box):
        st.html(f"<style>.st-key-{box} {{overflow-x: auto}} "
                f".st-key-{box} [data-testid='stElementContainer'] {{min-width: {int(min_width)}px}}</style>")
        st.plotly_chart(fig, width="stretch", key=key)


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


# ---------------------------------------------------------------------------------------------
# Warm-up: the first visit to a page as fast as the second
# ---------------------------------------------------------------------------------------------
WARMUP = {"state": "off", "done": [], "todo": [], "seconds": None, "error": None}   # read by the home page
_warm_lock = threading.Lock()


def _warm_steps():
    """(label, work) per page: load its shipped default(s) through the pages' own caches and run its default
    view's model calls once (the same cached predictions and traced graphs the page then finds ready).
    Nothing is trained and nothing is written."""
    from seqviz import attention, captioning, dialogue_acts, lm, seq2seq

    def modes():
        for name in [f"default-{m}" for m in seq2seq.MODES]:   # the page's first view: digits, all four modes
            bundle = load_model("seq2seq", name)
            r = predict(bundle, seq2seq.EXAMPLE, beam=3)
            runner_up = list(r["steps"][0])[1]                 # the open tab's pre-set pin, as the page sets it
            predict(bundle, seq2seq.EXAMPLE, beam=3, prefix=runner_up, exposure=False)

    def captions():
        bundle = load_model("captioning", store.DEFAULT)
        x, _ = captioning.text_features(bundle, captioning.EXAMPLE)
        r = captioning.decode(bundle, x, beam=3, top_k=5)
        captioning.decode(bundle, x, beam=3, top_k=5, ablate="1")
        for a in ("1", "none"):
            captioning.score(bundle, x, r["captions"], ablate=a)

    yield "attention", lambda: predict(load_model("attention", store.DEFAULT), attention.EXAMPLE)
    yield "dialogue-acts", lambda: predict(load_model("dialogue-acts", store.DEFAULT), dialogue_acts.EXAMPLE)
    yield "seq2seq", modes
    yield "captioning", captions
    yield "lm", lambda: predict(load_model("lm", store.DEFAULT), lm.EXAMPLE,
                                **{p.name: p.default for p in lm.PREDICT_PARAMS})


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
    WARMUP["seconds"] = round(time.perf_counter() - t0, 2)
    WARMUP["state"] = "done"
    log.warning("warm-up: done in %.1f s", WARMUP["seconds"])


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


def query_value(key: str, query: str, default: str) -> str:
    """Seed the widget state `key` from the URL's `query` once; the widget then writes back with `share`."""
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(query, default)
    return st.session_state[key]


def query_number(key: str, query: str, default, lo, hi):
    """Seed the widget state `key` from a number in the URL once: ASCII digits only (Python's int() takes
    '²' for a digit and then fails), an int or a decimal like `default`, clipped to [lo, hi]; anything else
    gives `default`. The widget then mirrors itself back with `share`."""
    if key not in st.session_state:
        raw = st.query_params.get(query, "")
        pattern = r"-?[0-9]{1,9}" if isinstance(default, int) else r"-?[0-9]{1,9}(\.[0-9]{1,9})?"
        st.session_state[key] = (min(hi, max(lo, type(default)(raw))) if re.fullmatch(pattern, raw)
                                 else default)
    return st.session_state[key]


def share(key: str, value) -> None:
    """Mirror a value into the URL so the view can be shared."""
    if st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)


def text_input(label: str, key: str, default: str, query: str = "text", height: int = 100) -> str:
    """A text area pre-filled from the URL (or `default`), mirrored back into the URL."""
    query_value(key, query, default)
    text = st.text_area(label, key=key, height=height)
    if len(text) <= MAX_URL_TEXT:  # longer texts would make a link too long to open
        share(query, text)
    elif query in st.query_params:
        del st.query_params[query]
    return text


def knob(p: Param, key: str):
    """The widget for one training knob: a select box for choices, a checkbox for flags, else a number
    input bounded by the Param's range."""
    label = p.title
    # the value lives in session_state (seeded with the default once): a preset can set it without the
    # widget also being given a default, which Streamlit would warn about
    st.session_state.setdefault(key, float(p.default) if isinstance(p.default, float) else p.default)
    if p.choices:
        return st.selectbox(label, p.choices, key=key, help=p.help)
    if isinstance(p.default, bool):
        return st.checkbox(label, key=key, help=p.help)
    if isinstance(p.default, int):
        return st.number_input(label, int(p.lo), int(p.hi), step=1, key=key, help=p.help)
    return st.number_input(label, float(p.lo), float(p.hi), key=key, help=p.help,
                           step=float(p.default) / 5 or 0.05, format="%g")


def model_sidebar(arch_id: str, data_help: str = "", upload_types: tuple[str, ...] | None = ("csv",),
                  compare: bool = False, files: dict | None = None, probe=None, frame=None) -> store.Bundle | None:
    """Sidebar: pick a model (default first), with `compare` a second one to compare it with (see `compared`),
    train a new one (on generated data or, when `upload_types` is not None, on an uploaded file of those
    types, with the second files `files` asks for: {key: (label, types)}). `probe()` gives the page's current
    input when Train is pressed (the replay follows it); `frame(snapshot)` draws one epoch of a replay, shown
    live while a model trains. Returns the loaded chosen model."""
    arch = archs.get(arch_id)
    pick_key = f"{arch_id}:model"
    with st.sidebar:
        st.header(arch.title)
        names = store.list_models(arch_id)
        if f"{pick_key}:select" in st.session_state:        # a job just finished: show its model
            st.session_state[pick_key] = st.session_state.pop(f"{pick_key}:select")
        wanted = query_value(pick_key, "model", store.DEFAULT)
        if names and wanted not in names:
            if "model" in st.query_params:
                st.warning(md(f"No model named {wanted!r}; showing {names[0]!r}."))
            st.session_state[pick_key] = names[0]
        name = st.selectbox("Model", names, key=pick_key, help="default = the shipped model; "
                            "run-… = trained here (shared by everyone using this app)") if names else None
        if name:
            share("model", name)
        if compare and name:
            _compare_picker(arch_id, [n for n in names if n != name])
        train_panel(arch_id, data_help, upload_types, files, probe, frame)
    if not name:
        return None
    try:
        return load_model(arch_id, name)
    except SeqvizError as e:  # includes a damaged store entry
        error(e)
    return None


NO_COMPARE = "(none)"


def _compare_picker(arch_id: str, others: list[str]) -> None:
    """"Compare with": any other model of the architecture, or none; mirrored in the URL as compare=NAME."""
    key = f"{arch_id}:compare"
    wanted = query_value(key, "compare", NO_COMPARE)
    if wanted not in others:
        if wanted != NO_COMPARE and st.query_params.get("compare") == wanted:
            st.warning(md(f"No other model named {wanted!r} to compare with."))
        st.session_state[key] = NO_COMPARE
    name = st.selectbox("Compare with", [NO_COMPARE] + others, key=key,
                        help="a second model of this architecture: its figures beside the first's, on the same "
                             "input, and what differs")
    if name == NO_COMPARE:
        if "compare" in st.query_params:
            del st.query_params["compare"]
    else:
        share("compare", name)


def compared(bundle: store.Bundle) -> store.Bundle | None:
    """The model picked in the sidebar's "Compare with", loaded; None when none is (or it cannot be loaded:
    the page says why)."""
    name = st.session_state.get(f"{bundle.arch}:compare", NO_COMPARE)
    if name in (NO_COMPARE, bundle.name):
        return None
    try:
        return load_model(bundle.arch, name)
    except SeqvizError as e:
        error(e)
    return None


def comparison(bundle: store.Bundle, text: str, run=None, **options) -> tuple[store.Bundle, dict] | None:
    """The sidebar's compared model and `seqviz.compare.run` of the two on `text`: (that model, {"a", "b",
    "diff"}); each prediction memoised as `predict` (or `run(model)` where given). None when nothing is
    compared, or after showing the error (e.g. an input the compared model cannot read)."""
    from seqviz import compare
    other = compared(bundle)
    if other is None:
        return None
    try:
        return other, compare.run(bundle, other, run or (lambda b: predict(b, text, **options)))
    except SeqvizError as e:
        error(e)
    return None


def train_panel(arch_id: str, data_help: str = "", upload_types: tuple[str, ...] | None = ("csv",),
                files: dict | None = None, probe=None, frame=None) -> None:
    """The Train form, or the running job's live progress (call inside `st.sidebar`), and the other training
    runs of this architecture on the server (a reload or a second tab sees them too). When a job ends, the
    trained model's name is left in session_state[f"{arch_id}:model:select"] for the picker to select."""
    flash = st.session_state.pop(f"{arch_id}:flash", None)
    if flash:
        (st.success if flash[0] == "ok" else st.error)(md(flash[1]))
    job = training.get(st.session_state.get(f"{arch_id}:job", ""))
    training.prestart()   # a spare worker imports TensorFlow meanwhile: a Train press then starts at once
    if job is not None:
        _job_panel(arch_id, job.id, frame)
    else:
        if training.running(arch_id):
            _others_panel(arch_id)
        _train_form(arch_id, data_help, upload_types, files or {}, probe)


def _page_probe(probe) -> dict | None:
    """The page's current input as the replay's probe, or None (the model's own example) when it has none."""
    from seqviz import replay
    try:
        return replay.check_probe(probe()) if probe is not None else None
    except SeqvizError:
        return None


def _train_form(arch_id: str, data_help: str, upload_types: tuple[str, ...] | None, files: dict, probe) -> None:
    """Folded away and built only while open: its dozen knobs would cost every rerun of the page ~5 ms."""
    mod = archs.get(arch_id).module()
    box = st.expander("Train a model", expanded=False, key=f"{arch_id}:train-open", on_change="rerun")
    if not box.open:
        # Streamlit forgets the values of widgets a run does not draw: keep what was typed for the reopening
        for key in [f"{arch_id}:knob:{p.name}" for p in mod.PARAMS] + [f"{arch_id}:name"]:
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
        return
    with box:
        # no st.form: each knob reruns the page (only while this form is open), so the estimate follows it
        quick, full = st.columns(2)
        quick.button("Quick", key=f"{arch_id}:preset-quick", width="stretch", help="a small run (see the estimate)",
                     on_click=_preset, args=(arch_id, {**_defaults(mod), **mod.QUICK}))
        full.button("Full", key=f"{arch_id}:preset-full", width="stretch", help="the shipped default's settings",
                    on_click=_preset, args=(arch_id, _defaults(mod)))
        values = {p.name: knob(p, f"{arch_id}:knob:{p.name}") for p in mod.PARAMS}
        upload = None
        if upload_types is not None:
            upload = st.file_uploader("Your own data (optional)", type=list(upload_types),
                                      key=f"{arch_id}:upload", help=data_help or None)
        second = {key: st.file_uploader(label, type=list(types), key=f"{arch_id}:upload:{key}")
                  for key, (label, types) in files.items()}      # read with the upload (captioning's features)
        est = training.estimate_seconds(arch_id, values)
        if est is not None:
            st.caption(f"Estimated training time: ~{_seconds(est)} on this machine (the shipped default's time, "
                       "scaled by training examples × epochs" + ("; your file's size changes it)" if upload
                                                                 else ")"))
        name = st.text_input("Name (optional)", key=f"{arch_id}:name", help="letters, digits, . _ -")
        go = st.button("Train", type="primary", width="stretch", key=f"{arch_id}:train-go")
        if go:
            try:
                raw = upload.getvalue() if upload is not None else None
                with st.spinner(f"Checking {upload.name}…" if upload is not None else "Checking the settings…"):
                    p = training.plan(arch_id, values, raw, upload.name if upload else "upload", name.strip() or None,
                                      files={k: (f.name, f.getvalue()) for k, f in second.items() if f is not None},
                                      probe=_page_probe(probe))
            except SeqvizError as e:
                error(e)
                return
            job = training.submit(p)
            st.session_state[f"{arch_id}:job"] = job.id
            st.rerun()


def _defaults(mod) -> dict:
    return {p.name: p.default for p in mod.PARAMS}


def _preset(arch_id: str, values: dict) -> None:
    for k, v in values.items():
        st.session_state[f"{arch_id}:knob:{k}"] = v


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s // 60:.0f} min {s % 60:02.0f} s"


def job_status(job: training.Job) -> str:
    """One line that tells the truth about a job now: its phase, epoch and batch, elapsed and left."""
    now = (job.finished or time.time()) - job.started
    parts = [job.phase]
    if job.batch_loss:
        parts.append(f"epoch {job.epoch + 1}/{job.total_epochs} · batch {job.batch}/{job.steps}"
                     f" · loss {job.batch_loss[-1]:.4f}")
    parts.append(f"{_seconds(now)} elapsed")
    eta = job.eta() if job.running else None
    if eta is not None:
        parts.append(f"~{_seconds(eta)} left")
    return f"{job.progress:.0%} · " + " · ".join(parts)


def _job_panel(arch_id: str, job_id: str, frame=None) -> None:
    @st.fragment(run_every=POLL_SECONDS)
    def panel():
        job = training.get(job_id)
        p = job.plan
        source = "your data" if p.data is not None else "generated data"
        st.markdown(f"**Training** `{p.name}` ({source})")
        st.progress(min(1.0, job.progress), text=job_status(job))
        if job.batch_loss:
            history = {k: [e[k] for e in job.epochs] for k in (job.epochs[0] if job.epochs else {})}
            st.plotly_chart(figures.loss_curve(history, job.batch_loss, job.steps, title="Live training curve"),
                            width="stretch")
        snaps = job.records.get("replay")
        if snaps and frame is not None:     # the probe's main figure after the latest epoch (0 = untrained)
            st.plotly_chart(frame(snaps[-1]), width="stretch", key=f"live:{job_id}:{snaps[-1]['epoch']}")
            st.caption(f"Your input after epoch {snaps[-1]['epoch']} of {job.total_epochs}"
                       + (" (the untrained model)" if snaps[-1]["epoch"] == 0 else "")
                       + "; the model's replay will step through every epoch.")
        if job.running:
            st.button("Cancelling…" if job.cancelling else "Cancel", key=f"cancel:{job_id}", width="stretch",
                      on_click=job.cancel, disabled=job.cancelling)
            return
        st.session_state.pop(f"{arch_id}:job", None)
        if job.status == "done":
            st.session_state[f"{arch_id}:model:select"] = p.name
            st.session_state[f"{arch_id}:flash"] = ("ok", f"Trained {p.name} in {job.finished - job.started:.1f} s.")
        elif job.status == "cancelled":
            st.session_state[f"{arch_id}:flash"] = ("err", "Training cancelled; nothing was saved.")
        else:
            st.session_state[f"{arch_id}:flash"] = ("err", f"Training failed: {job.error}")
        st.rerun(scope="app")

    panel()


def _others_panel(arch_id: str) -> None:
    """Training runs of this architecture started elsewhere (another tab, another user, before a reload)."""
    @st.fragment(run_every=POLL_SECONDS)
    def others():
        jobs = training.running(arch_id)
        if not jobs:
            st.rerun(scope="app")   # they ended: their models are in the picker now
        for job in jobs:
            st.markdown(f"**Training on this server** `{job.plan.name}`")
            st.progress(min(1.0, job.progress), text=job_status(job))

    others()


def model_details(bundle: store.Bundle) -> None:
    """The chosen model's settings, metrics, training curve and layers, folded away: built only while the
    expander is open (its figure and tables would cost every rerun ~25 ms)."""
    box = st.expander(f"Model `{bundle.name}`: settings, metrics, training curve, architecture",
                      key=f"details:{bundle.arch}:{bundle.name}", on_change="rerun")
    if not box.open:
        return
    with box:
        metrics = {k: v for k, v in bundle.metrics.items() if k != "history"}
        c1, c2 = st.columns(2)
        table({"setting": list(bundle.params), "value": [str(v) for v in bundle.params.values()]}, c1)
        table({"metric": list(metrics), "value": [f"{v:.4g}" if isinstance(v, float) else str(v)
                                                  for v in metrics.values()]}, c2)
        if bundle.metrics.get("history"):
            st.plotly_chart(figures.loss_curve(bundle.metrics["history"]), width="stretch")
        rows = store.layers(bundle.model)
        st.markdown(f"**Architecture** ({bundle.model.count_params():,} parameters)")
        table(rows)
        st.download_button(
            "Export as a TensorFlow SavedModel (.zip)", key=f"export:{bundle.arch}:{bundle.name}",
            data=lambda: export_zip(bundle.arch, bundle.name), file_name=f"{bundle.arch}-{bundle.name}.zip",
            mime="application/zip", on_click="ignore", icon=":material/download:",
            help="Runs with TensorFlow alone: tf.saved_model.load(folder).signatures['serving_default'] takes raw "
                 "text (or features) and tokenises inside the graph. Built when you click (a few seconds); "
                 "its README.md says how to call it. Same as python -m seqviz export.")
    keras_code(bundle)


def replay_view(bundle: store.Bundle, frame) -> None:
    """The model's replay (seqviz.replay), folded away and built only while open: `frame(snapshot)` (the page's
    main figure for one epoch) at every epoch as one animated figure (a slider and a play button, stepped in
    the browser), the architecture's `story` per epoch as lines, and what changed, in words."""
    from seqviz import replay
    box = st.expander("Replay: watch it learn, epoch by epoch", key=f"replay:{bundle.arch}:{bundle.name}",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        try:
            rep = replay.read(bundle.arch, bundle.name)
        except SeqvizError as e:
            error(e)
            return
        if rep is None:
            st.info(md(f"Model {bundle.name} has no replay: it was trained before replays were recorded. Train it "
                       "again (the sidebar's Train form, or python -m seqviz train … --overwrite) and its replay "
                       "follows your input through every epoch."))
            return
        snaps, probe = rep["snapshots"], rep["probe"]
        shown = probe.get("text") if "text" in probe else f"an image's {len(probe.get('features', []))} features"
        st.caption("What this model did on one input, its **probe**, before training (epoch 0) and after each of its "
                   f"{snaps[-1]['epoch']} epochs. Probe: " + md(" / ".join(str(shown).splitlines())[:300])
                   + (f" → expected {md(probe['expected'])}" if probe.get("expected") else "")
                   + ". Press ▶ Play, or drag the slider.")
        if rep.get("note"):
            st.caption(md(rep["note"]))
        try:      # a replay.json edited by hand, or written by another version, must not crash the page
            fig = figures.animated([frame(s) for s in snaps], [f"epoch {s['epoch']}" for s in snaps],
                                   [_epoch_title(s) for s in snaps])
            story = archs.get(bundle.arch).module().story(rep)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            error(SeqvizError(f"The store entry {bundle.arch}/{bundle.name} has a damaged replay.json "
                              f"({type(e).__name__}: {e}); retrain the model to record it again."))
            return
        st.plotly_chart(fig, width="stretch", key=f"replay-fig:{bundle.arch}:{bundle.name}")
        epochs = replay.epochs(rep)
        left, right = st.columns([3, 2])
        left.plotly_chart(figures.lines({k: (epochs, v) for k, v in story["lines"].items()},
                                        title="The probe, epoch by epoch", x_title="epoch",
                                        styles={k: {"mode": "lines+markers"} for k in story["lines"]}, height=320),
                          width="stretch", key=f"replay-lines:{bundle.arch}:{bundle.name}")
        right.markdown("**What changed**\n\n" + ("\n".join(f"- {md(e)}" for e in story["events"])
                                                   or "Nothing: the same output at every epoch."))


def _epoch_title(snap: dict) -> str:
    """A replay frame's title: the epoch and its Keras metrics (loss first)."""
    logs = snap.get("logs") or {}
    if snap["epoch"] == 0:
        return "Epoch 0: the untrained model"
    keys = sorted(logs, key=lambda k: (k != "loss", k.startswith("val") is False, k))[:3]
    return f"Epoch {snap['epoch']}: " + " · ".join(f"{k} {logs[k]:.3g}" for k in keys if logs[k] is not None)


def export_zip(arch: str, name: str) -> bytes:
    from seqviz import export
    return export.zip_bytes(arch, name)


def keras_code(bundle: store.Bundle) -> None:
    """The code that builds the chosen model, read from the architecture module's own source (not a copy),
    beside the settings it was built with. Folded away and built only while open."""
    mod = archs.get(bundle.arch).module()
    box = st.expander("Keras code: how this model is built", key=f"code:{bundle.arch}", on_change="rerun")
    if not box.open:
        return
    import inspect
    with box:
        st.caption(f"From `{mod.__name__}` ({mod.__file__.rsplit('/', 1)[-1]}), as this app runs it: "
                   f"`build(params, vocabs)` is what the store calls to rebuild `{bundle.name}` before it "
                   "loads the weights; `params` are the settings on the right.")
        code, settings = st.columns([3, 1])
        code.code("\n\n\n".join(inspect.getsource(obj).rstrip() for obj in mod.KERAS_CODE), language="python")
        table({"params[...]": list(bundle.params), "value": [str(v) for v in bundle.params.values()]}, settings)
        table({"vocabulary": list(bundle.vocabs), "size": [len(v) for v in bundle.vocabs.values()]}, settings)


def download_result(result: dict, bundle: store.Bundle, what: str = "result") -> None:
    """The whole result as the CLI prints it (JSON): every figure above draws from it. Tables carry their own
    CSV download (the toolbar over each table), charts their PNG (the camera over each chart)."""
    from seqviz.cli import to_json
    st.download_button(f"Download the {what} (JSON)", data=to_json(result), key=f"json:{bundle.arch}:{what}",
                       file_name=f"{bundle.arch}-{bundle.name}-{what.replace(' ', '-')}.json",
                       mime="application/json", on_click="ignore", icon=":material/download:",
                       help="the numbers behind every figure on this page, as python -m seqviz predict prints them")
