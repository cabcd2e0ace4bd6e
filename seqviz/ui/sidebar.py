"""The sidebar frame of every architecture page: the model picker, the "Compare with" picker (and the
comparison it asks for), and the Train form."""
from __future__ import annotations

import streamlit as st

from seqviz import archs, store, training
from seqviz.errors import SeqvizError
from seqviz.ui.jobs import duration, job_panel, others_panel
from seqviz.ui.session import load_model, predict, submit
from seqviz.ui.url import query_value, share
from seqviz.ui.widgets import error, knob, md


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
            gone = store.deleted(arch_id, wanted) if isinstance(wanted, str) else None
            if gone:                                # deleted while this page showed it, or before its URL was opened
                st.warning(md(f"Model {wanted!r} is gone: {gone}. Showing {names[0]!r}."))
            elif "model" in st.query_params:
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
    key = f"{arch_id}:job"
    if key not in st.session_state:    # a reload (a new session): the run this page started is in its URL
        started = training.get(st.query_params.get("job", ""))
        if started is not None and started.plan.arch == arch_id:
            st.session_state[key] = started.id
    job = training.get(st.session_state.get(key, ""))
    training.prestart()   # a spare worker imports TensorFlow meanwhile: a Train press then starts at once
    if job is not None:
        job_panel(arch_id, job.id, frame)
    else:
        if training.running(arch_id):
            others_panel(arch_id)
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
            try:
                st.session_state[key] = st.session_state[key]
            except KeyError:        # never typed, or a widget Streamlit forgot since (a run panel drew instead)
                pass
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
            st.caption(f"Estimated training time: ~{duration(est)} on this machine (the shipped default's time, "
                       "scaled by training examples × epochs" + ("; your file's size changes it)" if upload
                                                                 else ")"))
        try:
            q = training.queue()
        except SeqvizError as e:                          # the pool's Redis does not answer: said before Train
            error(e)
            q = None
        if q and q["pool"]:
            st.caption(f"Runs train on a pool of {q['workers']} worker{'s' * (q['workers'] != 1)}: "
                       f"{q['running']} training now, {q['waiting']} waiting.")
        elif q and (q["waiting"] or q["running"] >= q["workers"]):   # before Train is pressed: how busy it is
            st.caption(f"This server trains {q['workers']} run{'s' * (q['workers'] > 1)} at a time: "
                       f"{q['running']} training now, {q['waiting']} waiting. Yours would wait its turn.")
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
            if p.advice and st.session_state.get(f"{arch_id}:advised") != p.key:   # say it once; Train again: go
                st.session_state[f"{arch_id}:advised"] = p.key
                st.warning(md(" ".join(p.advice)) + " Change the settings, or press **Train** again to train anyway.")
                return
            try:
                job = submit(p)                 # this session's run, queued (the queue may be full)
            except SeqvizError as e:
                error(e)
                return
            st.session_state[f"{arch_id}:job"] = job.id
            share("job", job.id)        # a reload finds its run again
            st.rerun()


def _defaults(mod) -> dict:
    return {p.name: p.default for p in mod.PARAMS}


def _preset(arch_id: str, values: dict) -> None:
    for k, v in values.items():
        st.session_state[f"{arch_id}:knob:{k}"] = v


def require(bundle: store.Bundle | None) -> store.Bundle:
    """The page's model; without one (an empty store) the page says how to get one and stops."""
    if bundle is None:
        st.info("No model in the store yet: train one from the sidebar.")
        st.stop()
    return bundle
