"""The pages' "Inside the LSTM" section (seqviz.states): one LSTM layer's hidden state, cell state or a gate at
every step of the page's input, unit by unit, and LSTMVis' selection: the units on over a span of the input and
off elsewhere. Folded away and computed only while open."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from seqviz import figures, states
from seqviz.errors import SeqvizError
from seqviz.ui.session import call
from seqviz.ui.url import open_view
from seqviz.ui.widgets import error, wide_chart

SHOW = {"h": "hidden state h", "c": "cell state c", "input": "input gate", "forget": "forget gate",
        "candidate": "candidate (tanh)", "output": "output gate"}
MAX_UNITS = 24             # units the heatmap draws: the ones that most tell the span from the rest


def states_section(bundle, text, key: str, query: Callable[[str], dict] = lambda text: {"text": text}
                   ) -> dict | None:
    """The folded section for `bundle` on the page's input `text` (what its architecture's `lstm_inputs` reads);
    `query(input)` is the page URL's query that opens a held-out input in the page's view (default: ?text=).
    Returns the selection ({"layer", "direction", "show", "span", "on"}) or None."""
    box = st.expander("Inside the LSTM: hidden states, cell states and gates, unit by unit", key=f"{key}:states-open",
                      on_change="rerun")
    if not box.open:
        return None
    with box:
        try:
            r = call(bundle, "states.of", text)
        except SeqvizError as e:
            error(e)
            return None
        layers = {layer["name"]: layer for layer in r["layers"]}
        if st.session_state.get(f"{key}:states-layer") not in layers:
            st.session_state[f"{key}:states-layer"] = next(iter(layers))
        c1, c2, c3 = st.columns(3)
        layer = layers[c1.selectbox("Layer", list(layers), key=f"{key}:states-layer")]
        directions = list(layer["directions"])
        direction = c2.radio("Direction", directions, horizontal=True, key=f"{key}:states-direction") \
            if len(directions) > 1 else directions[0]
        show = c3.selectbox("Show", list(SHOW), format_func=SHOW.get, key=f"{key}:states-show")
        a = np.array(layer["directions"][direction][show], dtype=float)              # (T, H), NaN where masked
        steps = [str(s) for s in layer["steps"]]
        n = len(steps)
        span_key = f"{key}:states-span:{layer['name']}"          # a layer's own steps (another input: reset)
        if not 0 <= tuple(st.session_state.get(span_key, (0, 0)))[-1] < n:
            st.session_state.pop(span_key, None)           # steps of another input: start again at the first
        lo, hi = st.select_slider("Select a span of the input", options=list(range(n)), key=span_key,
                                  value=st.session_state.get(span_key, (0, 0)),
                                  format_func=lambda i: f"{i + 1}. {steps[i]}") if n > 1 else (0, 0)
        top = 1.0 if show in ("input", "forget", "output") else float(np.nanmax(np.abs(a))) if np.isfinite(a).any() \
            else 1.0
        threshold = st.slider("On above", -top if show in ("h", "c", "candidate") else 0.0, top,
                              round(0.5 * top, 2), key=f"{key}:states-threshold:{show}")
        sel = states.span_units(a, lo, hi, threshold)
        span = f"step {lo + 1}" if lo == hi else f"steps {lo + 1}-{hi + 1}"
        effect = _effects(bundle, text, layer["name"], direction)
        orders = ["span"] + (["output"] if effect else [])
        order = st.radio("Units in order of", orders, horizontal=True, key=f"{key}:states-order",
                         format_func={"span": f"how much more they are on over {span}",
                                      "output": f"how much silencing them lowers {effect and effect['target']}"}.get) \
            if effect else "span"
        units = (sel["ranked"] if order == "span" else effect["ranked"])[:MAX_UNITS]
        star = effect["ranked"][0] if effect else None
        z = a[:, units].T                                                            # (units, T)
        scale = dict(colorscale="RdBu_r", zmin=-top, zmax=top) if show in ("h", "c", "candidate") else \
            dict(colorscale="Viridis", zmin=0, zmax=1)
        what = f"most tell {span} from the rest" if order == "span" else "matter most to the output"
        wide_chart(figures.heatmap(np.nan_to_num(z), steps, [f"unit {u}" + (" ★" if u == star else "") for u in units],
                                   value_name=SHOW[show],
                                   title=f"{layer['name']}, {direction}: {SHOW[show]} (the {len(units)} units that "
                                         f"{what}, top first)",
                                   show_values=False, x_title="step", y_title="unit", **scale),
                   key=f"{key}:states-heatmap", min_width=200 + 28 * n)
        if effect:
            _effect_view(effect, units, key)
        elif len(layers) > 1:
            shown = next((name for name in layers if _effects(bundle, text, name, direction) is not None), None)
            if shown:
                st.caption(f"What each unit does to the output (its weight into it, and the drop when it is "
                           f"silenced) is measured on one layer of this model: {shown}.")
        on = sel["on"]
        if on:
            st.plotly_chart(figures.step_lines(steps, {f"unit {u}": a[:, u] for u in on[:8]}, shade=(lo, hi),
                                               title=f"{len(on)} unit(s) on over the span and off elsewhere",
                                               y_title=SHOW[show]),
                            width="stretch", key=f"{key}:states-lines")
        st.caption(f"{len(on)} of {a.shape[1]} units are above {threshold:.2f} at every selected step and at or "
                   "below it everywhere else (LSTMVis' selection; lower the threshold or widen the span to find "
                   "more). Each row of the heatmap is a unit, each column a step" +
                   (", the backward direction's step t after reading t to the end." if direction == "backward"
                    else "."))
        if on:
            _matches(bundle, key, query, layer["layer"], direction, show, on, threshold, hi - lo + 1)
        return {"layer": layer["name"], "direction": direction, "show": show, "span": (lo, hi), "on": on}


def _effects(bundle, text, layer: str, direction: str) -> dict | None:
    """The layer's units against the page's output (states.effects) for one direction, ranked by the drop in the
    output when silenced, or None where the layer feeds the output through others."""
    try:
        e = call(bundle, "states.effects", text, layer)
    except SeqvizError:
        return None                   # the page's own view says what is wrong with the input
    if e is None or direction not in e["ablation"]:
        return None
    drop, weight = np.array(e["ablation"][direction]), np.array(e["weights"][direction])
    return {**e, "drop": drop, "weight": weight, "ranked": np.argsort(-drop, kind="stable").tolist()}


def _effect_view(e: dict, units: list[int], key: str) -> None:
    star = e["ranked"][0]
    st.plotly_chart(figures.bars([f"unit {u}" for u in units], e["drop"][units],
                                 title=f"How much {e['target']} drops when each unit is silenced (its output set "
                                       "to 0)", value_name=f"drop in {e['target']}", highlight=units.index(star)
                                 if star in units else None, value_range=None, fmt=".2g"),
                    width="stretch", key=f"{key}:states-effects")
    st.caption(f"★ unit {star} matters most: silencing it lowers {e['target']} by {e['drop'][star]:.3g} (from "
               f"{e['base']:.3g}); its {e['link']}: {e['weight'][star]:+.3g}. Every unit's variant runs in one batch "
               "through the layers above.")


def _matches(bundle, key: str, query: Callable[[str], dict], layer: str, direction: str, show: str, on: list,
             threshold: float, length: int) -> None:
    """LSTMVis' match search: where in the held-out set the selected units turn on together; select one to
    open it in the page's view."""
    if not st.toggle(f"Find where these {len(on)} unit(s) turn on together in the held-out set",
                     key=f"{key}:states-matches"):
        return
    try:
        m = call(bundle, "states.heldout_matches", layer, direction, show, tuple(on), threshold, length)
    except SeqvizError as e:
        error(e)
        return
    found = m["found"]
    if not found:
        st.info(f"The units are never on together in the {m['inputs']:,} held-out inputs; lower the threshold or "
                "select fewer units (a shorter span).")
        return
    cols = {"#": list(range(1, len(found) + 1)),
            **({"where": [f["part"] for f in found]} if any(f["part"] for f in found) else {}),
            "the units on over ⟦…⟧": [_marked(f["steps"], f["lo"], f["hi"]) for f in found],
            "steps": [f["hi"] - f["lo"] + 1 for f in found],
            f"mean {SHOW[show]}": [round(f["score"], 3) for f in found]}
    st.dataframe(cols, hide_index=True, width="stretch", height=min(38 + 35 * len(found), 460),
                 key=f"{key}:states-match-table", selection_mode="single-row",
                 on_select=lambda: _open_match(key, found, query))
    st.caption(f"{m['n']:,} places in {m['rows']:,} of the {m['inputs']:,} held-out inputs' sequences where all "
               f"{len(on)} unit(s) are above {threshold:.2f} together; the {len(found)} listed first are as long as "
               "your span, then the strongest. Select one to open it in the view above.")


def _marked(steps: list[str], lo: int, hi: int, around: int = 8) -> str:
    """The steps around a match, the match in ⟦ ⟧ (plain text: a table cell never renders markup)."""
    start, end = max(0, lo - around), min(len(steps), hi + 1 + around)
    words = [str(s) for s in steps]
    return ("… " if start else "") + " ".join(words[start:lo] + ["⟦" + " ".join(words[lo:hi + 1]) + "⟧"] +
                                           words[hi + 1:end]) + (" …" if end < len(steps) else "")


def _open_match(key: str, found: list[dict], query: Callable[[str], dict]) -> None:
    picked = st.session_state[f"{key}:states-match-table"].selection.rows
    if picked:
        open_view(query(found[picked[0]]["input"]))
