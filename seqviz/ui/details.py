"""The folded-away views under a page's figures: the model's details (settings, metrics, curve, layers,
export), its replay, the Keras code that builds it, and the result's JSON download."""
from __future__ import annotations

import numpy as np
import streamlit as st

from seqviz import archs, figures, store
from seqviz.errors import SeqvizError
from seqviz.ui.widgets import error, md, table


def model_details(bundle: store.Bundle) -> None:
    """The chosen model's settings, metrics, training curve and layers, folded away: built only while the
    expander is open (its figure and tables would cost every rerun ~25 ms)."""
    box = st.expander(f"Model `{bundle.name}`: settings, metrics, training curve, architecture",
                      key=f"details:{bundle.arch}:{bundle.name}", on_change="rerun")
    if not box.open:
        return
    with box:
        metrics = {k: v for k, v in bundle.metrics.items() if k != "history"}
        seen = store.trained_on(bundle)
        st.markdown(md(f"Trained on {seen['data']}") + (": " + ", ".join(
            f"{n:,} {what}" for what, n in seen["counts"].items()) if seen["counts"] else "") + ".")
        if seen["unused"]:
            st.caption(md("Not shown: the generated data's knobs (" + ", ".join(seen["unused"]) + "), which a model "
                          "of your file does not use."))
        settings = {k: v for k, v in bundle.params.items() if k not in seen["unused"]}
        c1, c2 = st.columns(2)
        table({"setting": list(settings), "value": [str(v) for v in settings.values()]}, c1)
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
        _delete(bundle)
    keras_code(bundle)


def _delete(bundle: store.Bundle) -> None:
    """Delete this model: the session whose run trained it, or anyone on a server run with SEQVIZ_ADMIN=1; never
    a shipped model. A tick first, so one click cannot lose a model."""
    import os

    from seqviz import training
    from seqviz.ui.session import session_id
    if store.is_default(bundle.name, bundle.arch):
        return
    if os.environ.get("SEQVIZ_ADMIN") != "1" and training.trained_by(bundle.arch, bundle.name) != session_id():
        st.caption("Only the tab that trained this model can delete it (or anyone, on a server run with "
                   "SEQVIZ_ADMIN=1).")
        return
    sure = st.checkbox(f"I want to delete {bundle.name}", key=f"delete-sure:{bundle.arch}:{bundle.name}")
    if st.button("Delete this model", key=f"delete:{bundle.arch}:{bundle.name}", disabled=not sure,
                 icon=":material/delete:"):
        try:
            gone = store.delete(bundle.arch, bundle.name)
        except SeqvizError as e:
            error(e)
            return
        st.session_state[f"{bundle.arch}:flash"] = ("ok", f"Deleted {gone['name']} ({gone['bytes'] / 1e6:.1f} MB).")
        st.rerun()


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
                                   [replay.epoch_title(s) for s in snaps])
            story = archs.get(bundle.arch).module().story(rep)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            error(SeqvizError(f"The store entry {bundle.arch}/{bundle.name} has a damaged replay.json "
                              f"({type(e).__name__}: {e}); retrain the model to record it again."))
            return
        st.plotly_chart(fig, width="stretch", key=f"replay-fig:{bundle.arch}:{bundle.name}")
        epochs = replay.epochs(rep)
        left, right = st.columns([3, 2])
        shares, others = replay.units(story["lines"])       # a share and a count: one axis each
        left.plotly_chart(figures.lines({k: (epochs, v) for k, v in story["lines"].items()},
                                        title="The probe, epoch by epoch", x_title="epoch",
                                        styles={k: {"mode": "lines+markers"} for k in story["lines"]}, height=340,
                                        right=others,
                                        right_title=", ".join(others) if len(others) == 1 else ""),
                          width="stretch", key=f"replay-lines:{bundle.arch}:{bundle.name}")
        right.markdown("**What changed**\n\n" + ("\n".join(f"- {md(e)}" for e in story["events"])
                                                   or "Nothing: the same output at every epoch."))
        _replay_states(bundle, snaps)


def _replay_states(bundle: store.Bundle, snaps: list[dict]) -> None:
    """The replay's look inside the LSTMs: one layer's h on the probe as a step x unit heatmap, epoch by epoch
    (the same units in every frame: the most active at the last epoch)."""
    from seqviz import states
    from seqviz.ui.states import MAX_UNITS
    kept = [s.get("states") or {} for s in snaps]
    layers = [name for name in kept[-1] if all(name in k for k in kept)]
    if not layers:
        st.caption("This replay has no look inside the LSTMs: it was recorded before seqviz kept one. Retrain the "
                   "model to record it.")
        return
    key = f"replay-states:{bundle.arch}:{bundle.name}"
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Inside the LSTM, epoch by epoch: layer", layers, key=f"{key}:layer")
    directions = list(kept[-1][layer]["h"])
    direction = c2.radio("Direction", directions, horizontal=True, key=f"{key}:direction") \
        if len(directions) > 1 else directions[0]
    frames = [np.array(k[layer]["h"][direction], float) for k in kept]                     # (T, H) per epoch
    units = states.replay_units(frames, MAX_UNITS)
    top = max(float(np.abs(f).max()) for f in frames) or 1.0
    # each epoch's own steps: a decode or a caption changes its words (and its length) as the model learns
    figs = [figures.heatmap(f[:, units].T, [str(t) for t in k[layer]["steps"]], [f"unit {u}" for u in units],
                            value_name="hidden state h", show_values=False, x_title="step", y_title="unit",
                            colorscale="RdBu_r", zmin=-top, zmax=top) for f, k in zip(frames, kept)]
    st.plotly_chart(figures.animated(figs, [f"epoch {s['epoch']}" for s in snaps],
                                     [f"{layer}, {direction}: h on the probe after epoch {s['epoch']}" for s in snaps]),
                    width="stretch", key=f"{key}:figure")
    st.caption(f"The {len(units)} units most active after the last epoch, in the same order in every frame: watch "
               "which of them the training switches on, and where.")


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


def guide(page: str) -> None:
    """The page's guide (docs/guide/<page>.md: what it shows, what to look at, what to try, its data formats),
    folded away and read only while open."""
    from seqviz import guides
    box = st.expander("Guide: what this page shows, what to look at, what to try", key=f"guide:{page}",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        text = guides.for_app(page)
        st.markdown(text if text is not None else "No guide for this page yet.")   # our own text, not a user's
        st.caption(f"The same text is in the repository: docs/guide/{page}.md.")


def try_this(page: str) -> None:
    """The guide's "Try this" items as buttons: each opens its view on this page (`url.open_view`), its help says
    what to notice. Shown open: a learner's first question is where to look."""
    from seqviz import guides
    from seqviz.ui.url import open_view
    items = guides.tries(page)
    if not items:
        return
    with st.container(border=True):
        st.markdown("**Try this** (one click each; hover for what to notice)")
        for col, (i, item) in zip(st.columns(len(items)), enumerate(items)):
            col.button(item.label, key=f"try:{page}:{i}", on_click=open_view, args=(item.query,), help=item.why,
                       width="stretch")
