"""The pages' "Held-out set" section (seqviz.evaluate): where a model fails across its whole held-out set. The
metrics per class and the confusion matrix (click a cell: the table shows those examples), metrics per slice,
the examples themselves (filter, page, select one to open it in the page's view) and a map of the model's own
representation of each. Folded away and computed only while open."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from seqviz import archs, contract, evaluate, figures, store
from seqviz.errors import SeqvizError
from seqviz.ui.session import call
from seqviz.ui.sidebar import compared
from seqviz.ui.url import open_view
from seqviz.ui.widgets import error, md, table

PAGE_ROWS = 200            # examples per page of the table
ALL = "(all)"


def heldout_section(bundle, key: str,
                    query: Callable[[str, dict], dict] = lambda text, example: {"text": text}) -> None:
    """The folded section for `bundle`'s held-out set; `query(input, example)` is the page URL's query that opens
    an example in the page's view (default: its input as ?text=)."""
    box = st.expander("Held-out set: where does it fail?", key=f"{key}:heldout-open", on_change="rerun")
    if not box.open:
        return
    with box:
        source = st.radio("Score", ["held-out", "file"], horizontal=True, key=f"{key}:heldout-source",
                          format_func={"held-out": "its held-out set", "file": "a labelled file of yours"}.get)
        upload = _upload(bundle, key) if source == "file" else None
        if source == "file" and upload is None:
            return
        try:
            r = call(bundle, "evaluate.heldout_report") if upload is None else call(bundle, "evaluate.file_report",
                                                                                     *upload)
        except SeqvizError as e:
            error(e)
            return
        overall, unit = r["overall"], r["unit"]
        also = "".join(f"; {name}: {v['accuracy']:.3f}" for name, v in r["also"].items())
        f1 = f", macro F1 {overall['macro_f1']:.3f}" if "macro_f1" in overall else ""
        measures = "".join(f", {m} {overall[m]:.3f}" for m in [*r["measures"], *r.get("extra", [])])
        what = f"held-out {unit}s" if upload is None else f"{unit}s of {md(upload[1])}"
        st.markdown(f"**{overall['n']:,} {what}**: {r['accuracy_name']} {overall['accuracy']:.3f}{f1}"
                    f"{measures}{also}")
        for note in r["notes"]:
            st.info(note)
        if "confusion" in overall:
            _classes(r, key)
        _slices(r, key)
        versus = _compared(bundle, r) if upload is None else None
        _examples(r, key, query, versus)
        _map(bundle, r, key, query, upload)


def _upload(bundle, key: str) -> tuple | None:
    """A labelled file in the format the architecture trains on (and its second files: captioning's features):
    (bytes, filename, ((key, filename, bytes), ...)) for evaluate.file_report, or None (the page says what to
    upload)."""
    mod = archs.get(bundle.arch).module()
    kinds = {"lm": ("txt",)}.get(bundle.arch, ("csv",))
    main = st.file_uploader("A labelled file, in the format the model trains on (its guide has it)", type=list(kinds),
                            key=f"{key}:heldout-file")
    needed = {k: what for k, what in contract.hook(mod, "FILES").items() if k in evaluate.FILES}
    second = {k: st.file_uploader(what.split(":")[0].capitalize(), type=["npy"], key=f"{key}:heldout-file:{k}")
              for k, what in needed.items()}
    if main is None or any(f is None for f in second.values()):
        st.info("Upload the file" + "".join(f" and {what.split(':')[0]}" for what in needed.values()) +
                " to score the model on it, example by example.")
        return None
    return main.getvalue(), main.name, tuple((k, f.name, f.getvalue()) for k, f in second.items())


def _compared(bundle, r: dict) -> dict | None:
    """The sidebar's "Compare with" model on this model's held-out examples: how many each gets right that the
    other gets wrong (the table then filters on it), or None."""
    other = compared(bundle)
    if other is None:
        return None
    try:
        c = call(bundle, "evaluate.heldout_compare", other.name, store.stamp(other.arch, other.name))
    except SeqvizError as e:
        error(e)
        return None
    st.markdown(f"**Compared with {md(other.name)}** on these {c['n']:,} {r['unit']}s: {r['accuracy_name']} "
                f"{c['b_accuracy']:.3f}; {len(c['a_only']):,} right here and wrong there, {len(c['b_only']):,} "
                f"the other way, {c['both_wrong']:,} wrong in both.")
    return c


def _classes(r: dict, key: str) -> None:
    """The confusion grid (a click filters the table) beside precision / recall / F1 per class."""
    conf = r["overall"]["confusion"]
    labels = conf["labels"]
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.confusion(np.array(conf["matrix"]), labels,
                                        title="Confusion matrix (click a cell to list its examples)"),
                      width="stretch", key=f"{key}:heldout-confusion", on_select=lambda: _clicked(key, labels),
                      selection_mode="points")
    table([{"class": c["label"], "precision": round(c["precision"], 3), "recall": round(c["recall"], 3),
            "F1": round(c["f1"], 3), "support": c["support"]} for c in r["overall"]["per_class"]], right)
    for name, v in r["also"].items():
        right.caption(f"{name}: accuracy {v['accuracy']:.3f}" + (f", macro F1 {v['macro_f1']:.3f}"
                                                                    if "macro_f1" in v else ""))


def _clicked(key: str, labels: list[str]) -> None:
    """A confusion cell clicked: the table's gold and predicted filters set to it (a callback, before the run)."""
    points = st.session_state[f"{key}:heldout-confusion"].selection.points
    if points:
        gold, pred = points[0]["customdata"]
        st.session_state[f"{key}:heldout-gold"] = labels[int(gold)]
        st.session_state[f"{key}:heldout-pred"] = labels[int(pred)]
        st.session_state[f"{key}:heldout-errors"] = False
        st.session_state[f"{key}:heldout-page"] = 1


def _slices(r: dict, key: str) -> None:
    """Accuracy per bucket of each slice with more than one bucket, side by side (the `also` predictions beside)."""
    shown = {name: rows for name, rows in r["slices"].items() if len(rows) > 1}
    for name, col in zip(shown, st.columns(max(1, min(len(shown), 3))) * 3):
        rows = shown[name]
        series = {r["accuracy_name"]: [x["accuracy"] for x in rows],
                  **{k[:-len("_accuracy")]: [x[k] for x in rows] for k in rows[0] if k.endswith("_accuracy")},
                  **{m: [x[m] for x in rows] for m in r["measures"]}}
        col.plotly_chart(figures.grouped_bars([f"{x['value']} ({x['n']:,})" for x in rows], series,
                                              title=f"{r['accuracy_name'].capitalize()} by {name}",
                                              value_name="share"),
                         width="stretch", key=f"{key}:heldout-slice-chart:{name}")


def _examples(r: dict, key: str, query: Callable[[str, dict], dict], versus: dict | None = None) -> None:
    """The examples, filtered (errors only, gold, predicted, a slice's bucket, against the compared model) and
    paged; selecting a row opens it in the page's view."""
    rows = r["examples"]
    labels = sorted({x["gold"] for x in rows} | {x["pred"] for x in rows}, key=str)
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    errors = c1.toggle("Errors only", key=f"{key}:heldout-errors")
    for k in ("gold", "pred"):         # a clicked cell may name a label the picker lost (another model)
        if st.session_state.get(f"{key}:heldout-{k}") not in [ALL, *labels]:
            st.session_state[f"{key}:heldout-{k}"] = ALL
    gold = c2.selectbox("Gold", [ALL, *labels], key=f"{key}:heldout-gold")
    pred = c3.selectbox("Predicted", [ALL, *labels], key=f"{key}:heldout-pred")
    buckets = [ALL] + [f"{name}: {x['value']}" for name, xs in r["slices"].items() for x in xs]
    if st.session_state.get(f"{key}:heldout-bucket") not in buckets:
        st.session_state[f"{key}:heldout-bucket"] = ALL
    bucket = c4.selectbox("Slice", buckets, key=f"{key}:heldout-bucket")
    shown = [i for i, x in enumerate(rows)
             if (not errors or not x["correct"]) and gold in (ALL, x["gold"]) and pred in (ALL, x["pred"])
             and (bucket == ALL or str(x.get(bucket.split(": ", 1)[0])) == bucket.split(": ", 1)[1])]
    if versus is not None:
        sides = {ALL: None, f"right here, wrong in {versus['model']}": set(versus["a_only"]),
                 f"wrong here, right in {versus['model']}": set(versus["b_only"])}
        if st.session_state.get(f"{key}:heldout-versus") not in sides:
            st.session_state[f"{key}:heldout-versus"] = ALL
        side = st.radio("Against the compared model", list(sides), horizontal=True, key=f"{key}:heldout-versus")
        if sides[side] is not None:
            shown = [i for i in shown if i in sides[side]]
    orders = ["file order", "least confident first"] + [f"{m}: worst first" for m in r["measures"]]
    order = c1.selectbox("Order", orders, key=f"{key}:heldout-order")
    if order == "least confident first":
        shown.sort(key=lambda i: rows[i]["confidence"])
    elif order != "file order":
        m = order.split(": worst first")[0]
        high = r["worse"].get(m) == "high"
        shown.sort(key=lambda i: -rows[i][m] if high else rows[i][m])
    pages = max(1, -(-len(shown) // PAGE_ROWS))
    if not 1 <= st.session_state.get(f"{key}:heldout-page", 1) <= pages:
        st.session_state[f"{key}:heldout-page"] = 1
    page = st.number_input(f"Page (of {pages}; {len(shown):,} examples)", 1, pages, key=f"{key}:heldout-page")
    at = shown[(page - 1) * PAGE_ROWS:page * PAGE_ROWS]
    slices = list(r["slices"])
    cols = {"#": [i + 1 for i in at], **{c: [rows[i][c] for i in at] for c in r["columns"]},
            r["shown_name"]: [rows[i]["shown"] for i in at],
            "gold": [rows[i]["gold"] for i in at], "predicted": [rows[i]["pred"] for i in at],
            "confidence": [round(rows[i]["confidence"], 3) for i in at],
            "right": ["✓" if rows[i]["correct"] else "✗" for i in at],
            **{m: [round(rows[i][m], 3) for i in at] for m in r["measures"]},
            **{name: [rows[i][name] for i in at] for name in list(r["also"]) + slices},
            **({f"{versus['model']} predicted": [versus["b_pred"][i] for i in at]} if versus else {})}
    st.dataframe(cols, hide_index=True, width="stretch", height=min(38 + 35 * len(at), 460),
                 key=f"{key}:heldout-table", on_select=lambda: _open_row(key, r, at, query),
                 selection_mode="single-row")
    st.caption(f"Select a row to open that {r['unit']} in the view above (its link can be shared).")


def _open_row(key: str, r: dict, at: list[int], query: Callable[[str, dict], dict]) -> None:
    picked = st.session_state[f"{key}:heldout-table"].selection.rows
    if picked:
        example = r["examples"][at[picked[0]]]
        open_view(query(evaluate.input_of(r, example), example))


def _map(bundle, r: dict, key: str, query: Callable[[str, dict], dict], upload: tuple | None = None) -> None:
    """The model's representation of each example in 2-D (PCA, or t-SNE on request); a click opens one."""
    method = st.radio("Map of what it learned", ["off", "pca", "tsne"], horizontal=True, key=f"{key}:heldout-map",
                      format_func={"off": "off", "pca": "PCA", "tsne": "t-SNE (a few seconds)"}.get)
    if method == "off":
        return
    try:
        m = (call(bundle, "evaluate.heldout_map", method) if upload is None else
             call(bundle, "evaluate.file_map", *upload, method))
    except SeqvizError as e:
        error(e)
        return
    rows, at = r["examples"], m["index"]
    hover = [f"{str(rows[i]['shown'])[:80]}<br>gold {rows[i]['gold']} · predicted {rows[i]['pred']} "
             f"({rows[i]['confidence']:.2f})" for i in at]
    title = f"Each {r['unit']} as the model represents it ({'PCA' if method == 'pca' else 't-SNE'})"
    colour = r.get("colour") or "gold"
    st.plotly_chart(figures.example_map(np.array(m["xy"]), [rows[i][colour] for i in at],
                                        [not rows[i]["correct"] for i in at], hover, title=title, index=at,
                                        colour_name=colour),
                    width="stretch", key=f"{key}:heldout-map-chart", selection_mode="points",
                    on_select=lambda: _open_point(key, r, query))
    shown = f"{len(at):,} of {m['n']:,} (every error kept)" if len(at) < m["n"] else f"all {m['n']:,}"
    st.caption(f"{shown}; colour: {'the gold label' if colour == 'gold' else 'the ' + colour}, ✕: a wrong "
               "prediction. Click a point to open it.")


def _open_point(key: str, r: dict, query: Callable[[str, dict], dict]) -> None:
    points = st.session_state[f"{key}:heldout-map-chart"].selection.points
    if points:
        at = points[0]["customdata"]
        example = r["examples"][int(at[0] if isinstance(at, list) else at)]
        open_view(query(evaluate.input_of(r, example), example))
