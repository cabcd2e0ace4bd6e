"""The pages' "Why?" section (seqviz.explain): each method's importance per input unit for a target the user
picks, beside what the model shows itself (attention), and how far the explanations agree. Folded away and
computed only while open."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from seqviz import explain, figures
from seqviz.errors import SeqvizError
from seqviz.ui.session import call
from seqviz.ui.widgets import error, table, wide_chart

HELP = {
    "grad": "the gradient of the score with respect to the unit's embedding, times the embedding: the "
            "first-order change if the embedding were zeroed",
    "gradl2": "the size of that gradient: how sensitive the score is to the unit, with no sign",
    "ig": "the gradient averaged along the way from all-zero embeddings to these ({steps} steps) times the "
          "embedding; the units' shares add up to the score's change",
    "occlusion": "how much the score drops when the model reads the unit as <unk>",
}


def why_section(bundle, text: str, *, key: str, title: str, ticks: list[str] | None, targets: list[str],
                predicted: str, shown: dict[str, np.ndarray] | None = None,
                label: Callable[[str], str] = str,
                truth: Callable[[str], list[bool] | None] | None = None,
                more: Callable[[dict, str | None], None] | None = None, unit: str = "word",
                truth_name: str = "the cue words", heldout: bool = True) -> dict | None:
    """The folded section: a picker of the target (None: `predicted`, the model's own answer, or one of
    `targets`), the importance rows (`shown`: the model's own weights per unit, drawn first and compared
    against), a table per method (τ and top unit against the first of `shown`, or against integrated
    gradients; with `truth(target)`, the share on the units that truly decide), then `more(explanation,
    target)`, and (`heldout`) a toggle for the agreement over the held-out set. `ticks`: the units as drawn (None:
    as the explanation names them); `label(target)`: a target in the picker. `unit` names what gets an importance
    ("word"), `truth_name` what truly decides. Returns the explanation, or None while folded or when it cannot be
    made (the page says why)."""
    box = st.expander(title, key=f"{key}:why-open", on_change="rerun")
    if not box.open:
        return None
    with box:
        target = st.selectbox("Explain", [None, *targets], key=f"{key}:why-target",
                              format_func=lambda k: f"{predicted} (the model's answer)" if k is None else label(k))
        try:
            ex = call(bundle, "explain.of", text, target)
        except SeqvizError as e:
            error(e)
            return None
        shown = shown or {}
        ticks = ticks or ex["units"]
        rows = {**shown, **{explain.METHODS[k]: ex["importance"][k] for k in explain.METHODS}}
        wide_chart(figures.importance_rows(ticks, rows, title=f"What drives {ex['target']} = {ex['score']:.3f}",
                                           x_title=unit),
                   key=f"{key}:why", min_width=max(320, 160 + (40 if len(ticks) <= 24 else 16) * len(ticks)))
        st.caption(f"Each row is scaled to its own largest value: 1 = the {unit} that method finds most important, "
                   f"red for {ex['target']}, blue against it; hover a cell for its raw value.")
        # every explanation against the model's own weights (the first of `shown`), else integrated gradients
        ref = next(iter(shown), explain.METHODS["ig"])
        ref_values = np.asarray(rows[ref])
        true = truth(target) if truth is not None else None
        true = true if true is not None and any(true) else None
        listed = []
        for name, v in [*list(rows.items())[len(shown):], *shown.items()]:    # the methods first, then `shown`
            v = np.asarray(v)
            row = {"method": name, f"τ with {ref}": explain.kendall_tau(v, ref_values),
                   f"its top {unit}": ticks[int(v.argmax())],
                   f"same top {unit} as {ref}": "✓" if v.argmax() == ref_values.argmax() else "✗"}
            if true is not None:
                row[f"share on {truth_name}"] = explain.plausibility(v, true)
            listed.append(row)
        table([{k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in listed])
        st.caption(f"Kendall's τ ranks the {unit}s by two explanations: +1 the same order, 0 unrelated. "
                   + " ".join(f"**{explain.METHODS[k]}**: {h.format(steps=ex.get('ig_steps'))}."
                              for k, h in HELP.items()))
        if more is not None:
            more(ex, target)
        if heldout:
            heldout_agreement(bundle, key, unit)
    return ex


def heldout_agreement(bundle, key: str, unit: str = "word") -> None:
    """A toggle (`{key}:why-heldout`) for the agreement of every two explanations over the model's held-out
    cases (seqviz.explain.heldout): per pair the median τ, its middle half and how often their top unit is the
    same. A model that does not keep its held-out inputs says so."""
    if not st.toggle("The same over the held-out set (some seconds)", key=f"{key}:why-heldout"):
        return
    try:
        h = call(bundle, "explain.heldout")
    except SeqvizError as e:
        error(e)
        return
    name = {**explain.METHODS, "attention": "attention (the model's own)"}
    rows = [{"explanations": " · ".join(name[m] for m in pair.split("|")), "median τ": v["tau"],
             "τ, middle half": f"{v['tau_q1']:.2f} to {v['tau_q3']:.2f}", f"share with the same top {unit}": v["top1"]}
            for pair, v in sorted(h["pairs"].items(), key=lambda kv: -kv[1]["tau"])]
    table([{k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in rows])
    st.caption(f"{h['n']} held-out inputs ({h['cases']} cases; those of one {unit} have nothing to rank), integrated "
               f"gradients at {h['ig_steps']} steps. Explanations that agree on most inputs measure the same thing; "
               "a median τ near 0 means they rank the units unrelatedly, so at most one of them can be right.")
