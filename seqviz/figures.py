"""Pure Plotly builders shared by all pages: arrays and labels in, `go.Figure` out.

Token axes are numeric positions with the tokens as tick text: a sentence may repeat a word, and a
categorical Plotly axis would silently merge the repeats into one column.

Figures are written as plain trace and layout dicts in Plotly's canonical form (titles as {"text": ...})
and wrapped without Plotly's per-property validation: ~1 ms a figure instead of 5-15 ms, on every rerun.
tests/unit/test_figures.py checks that validating each figure changes nothing in its JSON.
"""
from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale

# No explicit template: Streamlit's own ("streamlit", its default, themed light or dark in the browser)
# applies; naming one (e.g. "plotly_white") made Plotly validate a whole template per figure, ~10 ms each.
# uniformtext: a number that would shrink below 10 px to fit its bar is hidden (it stays in the hover)
_LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), font=dict(size=13), uniformtext=dict(minsize=10, mode="hide"))
_LEGEND_TOP = dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom")


def _clean(value):
    """Drop None entries (unset properties) from nested dicts, as Plotly's validation does."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _figure(data: list[dict], **layout) -> go.Figure:
    """A figure from trace dicts (each with its "type") and layout settings, unvalidated (see above)."""
    return go.Figure(_clean(dict(data=data, layout={**_LAYOUT, **layout})), _validate=False)


def _text(text: str) -> dict:
    # titles carry tokens ("chosen: </s>"): escaped, or Plotly would take them for its HTML subset
    return dict(text=escape(str(text), quote=False))


@lru_cache(maxsize=None)
def _scale(name: str) -> tuple:
    """A named colour scale as Plotly.py's [position, colour] list: plotly.js's own scales of the same name
    differ, and validation would have expanded the name."""
    return tuple((float(pos), color) for pos, color in get_colorscale(name))


def _ticks(labels: Sequence[str]) -> dict:
    # Plotly renders a subset of HTML in text (links included): user tokens and labels are escaped.
    return dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=[escape(str(t)) for t in labels])


def loss_curve(history: dict[str, Sequence[float]], batch_loss: Sequence[float] = (),
               steps_per_epoch: int | None = None, title: str = "Training curve") -> go.Figure:
    """Per-epoch series (loss, val_loss, accuracies...) against epoch; optional per-batch loss underneath.

    Losses go on the left axis, accuracy-like series (0..1) on the right one; other series (the LM's perplexity,
    in the hundreds) have neither unit and are left to their own figures.
    """
    data = []
    if len(batch_loss) and steps_per_epoch:
        x = (np.arange(len(batch_loss)) + 1) / steps_per_epoch
        data.append(dict(type="scatter", x=x, y=list(batch_loss), mode="lines", name="batch loss",
                         line=dict(color="rgba(120,120,120,0.5)", width=1)))
    seen = []
    for name, values in history.items():
        values = [float(v) for v in values]
        if not len(values) or values in seen or not ("loss" in name or "acc" in name):
            continue                            # (Keras logs a one-loss model's loss twice: loss, probs_loss)
        seen.append(values)
        acc = "acc" in name
        data.append(dict(type="scatter", x=np.arange(1, len(values) + 1), y=list(values), mode="lines+markers",
                         name=name, yaxis="y2" if acc else "y",
                         line=dict(dash="dot" if name.startswith("val") else "solid")))
    epochs = max((len(v) for v in history.values()), default=0)
    whole = dict(tick0=1, dtick=1) if epochs <= 20 else {}      # whole epochs, not 0.5 steps
    return _figure(data, title=_text(title), xaxis=dict(title=_text("epoch"), **whole), yaxis=dict(title=_text("loss")),
                   height=320, legend=dict(orientation="h", y=-0.25),
                   yaxis2=dict(title=_text("accuracy"), overlaying="y", side="right", range=[0, 1.02],
                               showgrid=False))


def heatmap(z: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "",
            colorscale: str = "Blues", zmin: float | None = None, zmax: float | None = None,
            x_title: str = "", y_title: str = "", value_name: str = "value",
            show_values: bool | None = None, colorbar: bool | None = None, digits: int = 2) -> go.Figure:
    """A labelled heatmap; rows = y_labels (top to bottom), columns = x_labels (left to right). A one-row
    strip prints its values in the cells and has no colour bar unless `colorbar` asks for one."""
    z = np.asarray(z, dtype=float)
    if z.shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"heatmap: z has shape {z.shape}, labels give {(len(y_labels), len(x_labels))}")
    if show_values is None:   # in-cell numbers only where cells are wide enough to hold them at a readable size
        show_values = z.size <= 400 and len(x_labels) <= 24
    hover = [[f"{y_title or 'row'}: {escape(str(yl))}<br>{x_title or 'column'}: {escape(str(xl))}<br>"
              f"{value_name}: {v:.4g}"
              for xl, v in zip(x_labels, row)] for yl, row in zip(y_labels, z)]
    trace = dict(
        type="heatmap", z=z, x=list(range(len(x_labels))), y=list(range(len(y_labels))),
        colorscale=_scale(colorscale),
        zmin=zmin, zmax=zmax, hovertext=hover, hoverinfo="text",
        # a few rows leave the colour bar little height: three ticks, not six printed over each other
        colorbar=dict(title=_text(value_name), nticks=3 if len(y_labels) <= 5 else None),
        showscale=len(y_labels) > 1 if colorbar is None else colorbar,
        text=[[f"{v:.{digits}f}" for v in row] for row in z] if show_values else None,
        texttemplate="%{text}" if show_values else None)
    return _figure([trace], title=_text(title),
                   height=max(200 if len(y_labels) > 1 else 160, 60 + 34 * len(y_labels))
                   + (60 if max(map(len, x_labels), default=0) > 6 else 0),
                   xaxis=dict(title=_text(x_title), **_ticks(x_labels)),
                   yaxis=dict(title=_text(y_title), autorange="reversed", **_ticks(y_labels)))


def importance_rows(units: Sequence[str], rows: dict[str, Sequence[float]], title: str = "",
                    x_title: str = "word", y_title: str = "") -> go.Figure:
    """One row per explanation of the same units (attention, gradient × input, ...), each divided by its own
    largest |value| so every row reads on one scale: 1 = that method's most important unit, −1 = the unit that
    most opposes the target (red for, blue against); the hover gives the raw value."""
    names = list(rows)
    raw = np.array([np.asarray(rows[k], float) for k in names])
    top = np.abs(raw).max(axis=1, keepdims=True)
    z = np.round(raw / np.where(top > 0, top, 1.0), 2) + 0.0     # + 0.0: no "-0.00" in a cell
    fig = heatmap(z, list(units), names, title=title, colorscale="RdBu_r", zmin=-1, zmax=1, x_title=x_title,
                  y_title=y_title, value_name="share of the row's largest", colorbar=False)
    fig.data[0].hovertext = [[f"{escape(str(n))}<br>{escape(x_title or 'unit')}: {escape(str(u))}<br>value: {v:.4g} "
                              f"({s:+.2f} of the row's largest)" for u, v, s in zip(units, rv, rz)]
                             for n, rv, rz in zip(names, raw, z)]
    return fig


def bars(labels: Sequence[str], values: Sequence[float], title: str = "", value_name: str = "probability",
         highlight: int | Sequence[int] | None = None, muted: Sequence[bool] | None = None,
         horizontal: bool = False, value_range: tuple[float, float] | None = (0, 1),
         max_bars: int | None = None, fmt: str = ".2f") -> go.Figure:
    """Bars for a distribution: `highlight` marks the chosen item(s), `muted` greys some out
    (e.g. unknown words); `fmt` formats the values written on the bars. With `max_bars`, only the largest
    `max_bars - 1` are drawn (in their order) and the rest summed into one "others (N)" bar: a model with 50,000
    classes still sends a small chart."""
    if max_bars is not None and len(labels) > max_bars:
        v = np.asarray(values, float)
        keep = sorted(np.argsort(-v, kind="stable")[:max_bars - 1].tolist())
        at = {i: r for r, i in enumerate(keep)}
        marks = {highlight} if isinstance(highlight, (int, np.integer)) else set(highlight or ())
        highlight = [at[i] for i in marks if i in at]
        muted = None if muted is None else [muted[i] for i in keep] + [True]
        labels = [labels[i] for i in keep] + [f"others ({len(labels) - len(keep):,})"]
        values = v[keep].tolist() + [float(v.sum() - v[keep].sum())]
    n = len(labels)
    marks = {highlight} if isinstance(highlight, (int, np.integer)) else set(highlight or ())
    colors = ["#d62728" if i in marks else "#bbbbbb" if muted is not None and muted[i] else "#1f77b4"
              for i in range(n)]
    text = [format(v, fmt) for v in values]
    hover = [f"{escape(str(lab))}: {v:.4f}" for lab, v in zip(labels, values)]
    pos, values = list(range(n)), [float(v) for v in values]
    xy = dict(y=pos, x=values, orientation="h") if horizontal else dict(x=pos, y=values)
    trace = dict(type="bar", marker=dict(color=colors), text=text, hovertext=hover, hoverinfo="text",
                 textposition="auto", **xy)
    # tick labels stay flat; Plotly tilts them itself only where they would overlap
    cat_axis = dict(autorange="reversed" if horizontal else None,
                    **_ticks(labels))
    val_axis = dict(title=_text(value_name), range=list(value_range) if value_range else None)
    return _figure([trace], title=_text(title), showlegend=False, height=max(220, 40 + 28 * n) if horizontal else 340,
                   xaxis=val_axis if horizontal else cat_axis, yaxis=cat_axis if horizontal else val_axis)


def crf_lattice(emissions: np.ndarray, transitions: np.ndarray, marginals: np.ndarray, cumulative: np.ndarray,
                backpointers: np.ndarray, tags: Sequence[str], steps: Sequence[str], best_path: Sequence[int],
                greedy_path: Sequence[int] | None = None, alt_path: Sequence[int] | None = None,
                color: str = "emission", title: str = "Viterbi lattice", alt_name: str = "pinned path") -> go.Figure:
    """The CRF's tag lattice: steps (x) by tags (y), one node per (step, tag) coloured by its emission
    score or its marginal probability; the Viterbi path solid, the per-step argmax of the emissions
    (greedy) dashed, an alternative (e.g. pinned) path dotted. Hovering a node shows its emission, the
    transition into it from its best predecessor, its best cumulative score and its marginal."""
    emissions, marginals = np.asarray(emissions, float), np.asarray(marginals, float)
    t_len, k = emissions.shape
    values = emissions if color == "emission" else marginals
    tick_steps, tick_tags = list(steps), list(tags)         # _ticks escapes these itself
    steps, tags = [escape(str(s)) for s in steps], [escape(str(s)) for s in tags]
    hover = []
    for t in range(t_len):
        for j in range(k):
            prev = int(backpointers[t, j])
            into = (f"transition {tags[prev]} → {tags[j]}: {transitions[prev, j]:+.2f}<br>" if t and prev >= 0
                    else "first utterance: no transition<br>")
            hover.append(f"<b>{steps[t]}</b><br>tag: {tags[j]}<br>emission: {emissions[t, j]:+.2f}<br>{into}"
                         f"best score of a path ending here: {cumulative[t, j]:+.2f}<br>"
                         f"marginal P: {marginals[t, j]:.3f}")
    xs, ys = np.meshgrid(np.arange(t_len), np.arange(k), indexing="ij")
    data = []
    for path, name, style in [(best_path, "Viterbi path", dict(color="#d62728", width=4)),
                              (greedy_path, "per-utterance argmax", dict(color="#8c8c8c", width=2, dash="dash")),
                              (alt_path, escape(alt_name), dict(color="#ff7f0e", width=3, dash="dot"))]:
        if path is not None:
            data.append(dict(type="scatter", x=list(range(len(path))), y=[int(j) for j in path], mode="lines",
                             name=name, line=style, hoverinfo="skip"))
    name = "emission score" if color == "emission" else "marginal P"
    data.append(dict(type="scatter", x=xs.ravel(), y=ys.ravel(), mode="markers", name=name, showlegend=False,
                     marker=dict(size=20, color=values.ravel(), colorscale=_scale("Viridis"),
                                 line=dict(width=1, color="#555"),
                                 colorbar=dict(title=_text(name)), cmin=0 if color != "emission" else None,
                                 cmax=1 if color != "emission" else None),
                     hovertext=hover, hoverinfo="text"))
    return _figure(data, title=_text(title), height=max(320, 110 + 40 * k), legend=_LEGEND_TOP,
                   xaxis=dict(title=_text("utterance"), **_ticks(tick_steps)),
                   yaxis=dict(title=_text("tag"), autorange="reversed", **_ticks(tick_tags)))


def beam_tree(beams: Sequence[tuple[Sequence[str], Sequence[float]]], title: str = "Beam search tree") -> go.Figure:
    """The beams as a tree: shared prefixes merge, each node is a token labelled with its step log-prob,
    hover adds the cumulative log-prob; beams[0] (the best) is drawn red and thick.

    beams: (tokens, step log-probs) per beam, best first; the root is the start token at step 0."""
    nodes: dict[tuple, dict] = {(): {"token": "<s>", "lp": 0.0, "cum": 0.0, "children": []}}
    for tokens, lps in beams:
        cum = 0.0
        for t, (tok, lp) in enumerate(zip(tokens, lps)):
            key, cum = tuple(tokens[:t + 1]), cum + float(lp)
            if key not in nodes:
                nodes[key] = {"token": str(tok), "lp": float(lp), "cum": cum, "children": []}
                nodes[key[:-1]]["children"].append(key)
    leaves = 0

    def place(key):  # leaves get 0, 1, 2...; a parent sits at the mean of its children
        nonlocal leaves
        kids = nodes[key]["children"]
        if not kids:
            nodes[key]["y"], leaves = leaves, leaves + 1
        else:
            nodes[key]["y"] = float(np.mean([place(k) for k in kids]))
        return nodes[key]["y"]

    place(())
    best = {tuple(beams[0][0][:t]) for t in range(len(beams[0][0]) + 1)} if beams else {()}
    data = []
    for on_best, color, width in [(False, "#bbbbbb", 1.5), (True, "#d62728", 4)]:
        xs, ys = [], []
        for key, node in nodes.items():
            for kid in node["children"]:
                if (kid in best) == on_best:
                    xs += [len(key), len(kid), None]      # one polyline, broken between edges
                    ys += [node["y"], nodes[kid]["y"], None]
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=color, width=width),
                         hoverinfo="skip", name="best beam" if on_best else "other beams"))
    keys = list(nodes)
    data.append(dict(
        type="scatter", x=[len(k) for k in keys], y=[nodes[k]["y"] for k in keys], mode="markers+text",
        showlegend=False, text=[escape(nodes[k]["token"]) + (f"<br>{nodes[k]['lp']:.2f}" if k else "") for k in keys],
        textposition="top center", textfont=dict(size=11),
        marker=dict(size=9, color=["#d62728" if k in best else "#1f77b4" for k in keys]),
        hovertext=[f"{escape(nodes[k]['token'])}<br>step log-prob {nodes[k]['lp']:.3f}<br>"
                   f"cumulative {nodes[k]['cum']:.3f}" for k in keys], hoverinfo="text"))
    depth = max(len(k) for k in keys)
    return _figure(data, title=_text(title), height=max(260, 90 + 62 * leaves), legend=_LEGEND_TOP,
                   xaxis=dict(title=_text("output step"), range=[-0.5, depth + 0.5], dtick=1),
                   yaxis=dict(visible=False, range=[leaves - 0.4, -0.8]))


def signal(values: Sequence[float], title: str = "", x_title: str = "index", y_title: str = "value",
           color: str = "#1f77b4") -> go.Figure:
    """A long vector (e.g. 4096 image features) as a filled line against its index: a readable strip."""
    values = np.asarray(values, dtype=float)
    trace = dict(type="scattergl", x=np.arange(len(values)), y=values, mode="lines",
                 line=dict(color=color, width=1), hovertemplate="%{x}: %{y:.3f}<extra></extra>")
    return _figure([trace], title=_text(title), height=240, showlegend=False,
                   xaxis=dict(title=_text(x_title), range=[0, max(1, len(values) - 1)]),
                   yaxis=dict(title=_text(y_title)))


def topk_steps(words: Sequence[Sequence[str]], probs: Sequence[Sequence[float]], chosen: Sequence[str],
               title: str = "Top words per step") -> go.Figure:
    """Per decoding step (x, labelled with the word chosen there), the top-k alternatives best first (y):
    each cell shows a word and its probability, coloured by the probability; the chosen word is marked."""
    steps, k = len(words), max((len(w) for w in words), default=0)
    z = np.full((k, steps), np.nan)
    text = [[""] * steps for _ in range(k)]
    hover = [[""] * steps for _ in range(k)]
    for t, (ws, ps) in enumerate(zip(words, probs)):
        for r, (w, p) in enumerate(zip(ws, ps)):
            mark = "<b>" if w == chosen[t] else ""
            shown = f"{p:.2f}" if p >= 0.005 else f"{p:.0e}"                   # small: 3e-04, not 0.00
            text[r][t] = f"{mark}{escape(str(w))}{'</b>' if mark else ''}<br>{shown}"
            hover[r][t] = f"step {t + 1}, rank {r + 1}<br>{escape(str(w))}: {p:.4f}"
            z[r, t] = p
    trace = dict(type="heatmap", z=z, x=list(range(steps)), y=list(range(k)), colorscale=_scale("Blues"), zmin=0,
                 zmax=1,
                 text=text, texttemplate="%{text}", textfont=dict(size=13), hovertext=hover, hoverinfo="text",
                 colorbar=dict(title=_text("P")), xgap=2, ygap=2)
    return _figure([trace], title=_text(title), height=110 + 48 * k,
                   xaxis=dict(title=_text("step (chosen word)"),
                              **_ticks([f"{t + 1}. {w}" for t, w in enumerate(chosen)])),
                   yaxis=dict(title=_text("rank"), autorange="reversed", **_ticks([str(r + 1) for r in range(k)])))


def word_rows(rows: dict[str, tuple[Sequence[str], Sequence[float]]], title: str = "") -> go.Figure:
    """Several decodes as rows of cells (e.g. a captioner's two heads): each cell one chosen word and its
    probability, coloured by the probability (0 to 1); rows may differ in length."""
    names = list(rows)
    width = max((len(w) for w, _ in rows.values()), default=0) or 1
    z = np.full((len(names), width), np.nan)
    text = [[""] * width for _ in names]
    for r, (words, probs) in enumerate(rows.values()):
        for t, (w, p) in enumerate(zip(words, probs)):
            z[r, t], text[r][t] = p, f"{escape(str(w))}<br>{p:.2f}"
    trace = dict(type="heatmap", z=z, x=list(range(width)), y=list(range(len(names))), colorscale=_scale("Blues"),
                 zmin=0, zmax=1, text=text, texttemplate="%{text}", textfont=dict(size=13), hoverinfo="text",
                 hovertext=text, colorbar=dict(title=_text("P")), xgap=2, ygap=2)
    return _figure([trace], title=_text(title), height=110 + 60 * len(names),
                   xaxis=dict(title=_text("step"), **_ticks([str(t + 1) for t in range(width)])),
                   yaxis=dict(autorange="reversed", **_ticks(names)))


def grouped_bars(labels: Sequence[str], series: dict[str, Sequence[float]], title: str = "",
                 value_name: str = "probability", value_range: tuple[float, float] | None = (0, 1)) -> go.Figure:
    """Several series of bars side by side per label (e.g. a word's probability with and without a branch)."""
    data = [dict(type="bar", x=list(range(len(labels))), y=[float(v) for v in values], name=escape(str(name)),
                 text=[f"{v:.2f}" for v in values], textposition="inside", textangle=0, insidetextanchor="end",
                 hovertext=[f"{escape(str(lab))}<br>{escape(str(name))}: {v:.4f}" for lab, v in zip(labels, values)],
                 hoverinfo="text") for name, values in series.items()]
    return _figure(data, title=_text(title), barmode="group", height=320, legend=_LEGEND_TOP,
                   xaxis=dict(**_ticks(labels)),
                   yaxis=dict(title=_text(value_name), range=list(value_range) if value_range else None))


def difference(labels: Sequence[str], a: Sequence[float], b: Sequence[float], names: tuple[str, str] = ("a", "b"),
               title: str = "", value_name: str = "a − b") -> go.Figure:
    """One bar per label: a − b, coloured by the model that gives the label more (a above zero, b below), the
    two values in the hover. For two models' attention over the same words, or their probabilities."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    colors = {"a": "#1f77b4", "b": "#ff7f0e"}
    data = []
    for side, keep in (("a", d > 0), ("b", d <= 0)):
        idx = np.flatnonzero(keep)
        data.append(dict(type="bar", x=idx.tolist(), y=d[idx].tolist(), marker=dict(color=colors[side]),
                         name=f"more in {escape(str(names[0 if side == 'a' else 1]))}",
                         text=[f"{v:+.2f}" for v in d[idx]], textposition="auto",
                         hovertext=[f"{escape(str(labels[i]))}<br>{escape(str(names[0]))}: {a[i]:.4f}<br>"
                                    f"{escape(str(names[1]))}: {b[i]:.4f}<br>difference: {d[i]:+.4f}" for i in idx],
                         hoverinfo="text"))
    top = max(0.05, float(np.abs(d).max()) * 1.15) if len(d) else 1.0
    return _figure(data, title=_text(title), height=340, legend=_LEGEND_TOP, bargap=0.2,
                   xaxis=dict(**_ticks(labels), range=[-0.5, len(labels) - 0.5]),
                   yaxis=dict(title=_text(value_name), range=[-top, top], zeroline=True))


def lines(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str = "", x_title: str = "",
          y_title: str = "", log_y: bool = False, styles: dict[str, dict] | None = None,
          height: int = 360, right: Sequence[str] = (), right_title: str = "") -> go.Figure:
    """Several named (x, y) series as lines on shared axes; `styles` maps a name to Plotly scatter
    settings (e.g. {"mode": "lines+markers", "line": {"dash": "dot"}}). Empty series are left out.
    A log y axis is labelled at powers of ten only. The series named in `right` have an axis of their own on
    the right (another unit: a count beside a share, a perplexity beside a probability)."""
    data = [dict(type="scatter", x=list(x), y=list(y), name=escape(str(name)), yaxis="y2" if name in right else None,
                 **{"mode": "lines", **(styles or {}).get(name, {})}) for name, (x, y) in series.items() if len(x)]
    second = dict(yaxis2=dict(title=_text(right_title), overlaying="y", side="right", showgrid=False)) if right else {}
    return _figure(data, title=_text(title), height=height, xaxis=dict(title=_text(x_title)),
                   yaxis=dict(title=_text(y_title), type="log" if log_y else None, dtick=1 if log_y else None),
                   legend=dict(orientation="h", x=0, y=-0.3 if x_title else -0.15, yanchor="top"), **second)


_PLACE = {"left": (0.22, 0.5), "right": (0.78, 0.5), "top": (0.5, 0.84), "bottom": (0.5, 0.16),
          "centre": (0.5, 0.5)}
_SYMBOL = {"circle": "circle", "square": "square", "triangle": "triangle-up", "star": "star"}
_COLOUR = {"red": "#d62728", "green": "#2ca02c", "blue": "#1f77b4", "yellow": "#f2c80f", "purple": "#9467bd"}


def scene(groups: Sequence[tuple], title: str = "The scene") -> go.Figure:
    """A generated captioning scene drawn: each group (count, colour, shape, position) as `count` markers of
    its shape and colour, side by side at its position in the frame."""
    data = []
    for count, colour, shape, where in groups:
        cx, cy = _PLACE[where]
        xs = [cx + 0.1 * (i - (count - 1) / 2) for i in range(count)]
        data.append(dict(type="scatter", x=xs, y=[cy] * count, mode="markers", hoverinfo="text",
                         hovertext=[escape(f"{count} {colour} {shape}{'s' if count > 1 else ''}, {where}")] * count,
                         marker=dict(symbol=_SYMBOL.get(shape, "circle"), size=26, color=_COLOUR.get(colour, "#888"),
                                     line=dict(width=1, color="#333"))))
    frame = dict(range=[0, 1], showticklabels=False, showgrid=False, zeroline=False, fixedrange=True)
    return _figure(data, title=_text(title), showlegend=False, height=300,
                   xaxis=frame, yaxis={**frame, "scaleanchor": "x"},
                   shapes=[dict(type="rect", x0=0, y0=0, x1=1, y1=1, line=dict(color="#999"))])


def animated(figures: Sequence[go.Figure], names: Sequence[str], titles: Sequence[str] | None = None,
             start: int | None = None, frame_ms: int = 800) -> go.Figure:
    """One view at successive moments (a replay's epochs) as one figure with Plotly animation frames: a slider
    and a play button step through them in the browser, with no round trip to the server per frame. Each
    moment is a figure built by the view's own builder (same traces in the same order); its traces and its
    axes' ticks go into the frame, `titles` (else its own title) above it. Shown first: `start` (default the
    last moment); play runs from the first."""
    if not figures or len(figures) != len(names):
        raise ValueError("animated: one name per figure, at least one figure")
    start = len(figures) - 1 if start is None else start
    titles = ([_text(t) for t in titles] if titles is not None       # the figures' own: escaped already
              else [dict(text=f.layout.title.text or "") for f in figures])
    frames = []
    for fig, name, title in zip(figures, names, titles):
        layout = {"title": title}
        for axis in ("xaxis", "yaxis"):
            ax = fig.layout[axis]
            layout[axis] = _clean({k: ax[k] for k in ("tickvals", "ticktext", "range", "tickmode")
                                   if ax[k] is not None})
        frames.append(dict(name=str(name), data=[t.to_plotly_json() for t in fig.data], layout=layout))
    base = figures[start]
    # the controls go below the x axis' tick labels and title, not through them: long labels are drawn rotated
    # (~4.5 px of height per character at 45 degrees), a short one takes a line
    ticks = [str(t) for f in figures for t in (f.layout.xaxis.ticktext or ())]
    longest = max(map(len, ticks), default=2)
    below = (18 if longest <= 6 else int(4.5 * min(longest, 40))) + (28 if base.layout.xaxis.title.text else 0)
    play = dict(frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0), fromcurrent=False,
                mode="immediate")
    stop = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    controls = dict(
        updatemenus=[dict(type="buttons", direction="left", showactive=False, x=0, y=0, xanchor="left",
                          yanchor="top", pad=dict(t=30 + below, r=10),
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="❚❚ Pause", method="animate", args=[[None], stop])])],
        sliders=[dict(active=start, x=0.3, len=0.68, y=0, yanchor="top", pad=dict(t=20 + below, r=20),
                      currentvalue=dict(visible=False),
                      steps=[dict(label=escape(str(n)), method="animate",
                                  args=[[str(n)], dict(frame=dict(duration=0, redraw=True), mode="immediate",
                                                       transition=dict(duration=0))]) for n in names])])
    out = go.Figure(dict(data=[t.to_plotly_json() for t in base.data],
                         layout={**base.layout.to_plotly_json(), "title": titles[start],
                                 "height": max(f.layout.height or 300 for f in figures) + 80 + below,
                                 "margin": dict(l=10, r=10, t=50, b=90 + below), **controls},
                         frames=frames), _validate=False)
    return out


def confusion(matrix: np.ndarray, labels: Sequence[str], title: str = "Confusion matrix") -> go.Figure:
    """Gold (rows, top to bottom) × predicted (columns) counts as a grid of square markers: a marker can be
    clicked (Streamlit's selections see points, not heatmap cells), its customdata = [gold, predicted] index.
    Colour: each row's share (what fraction of that class went where); the count is printed in the cell."""
    m = np.asarray(matrix, float)
    k = len(labels)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    gi, pi = np.nonzero(m >= 0)                                  # every cell, row-major
    cell = max(8, min(56, 520 // max(k, 1)))                     # px: the grid fits ~520 px
    hover = [f"gold: {escape(str(labels[g]))}<br>predicted: {escape(str(labels[p]))}<br>{int(m[g, p]):,} "
             f"({share[g, p]:.0%} of {escape(str(labels[g]))})" for g, p in zip(gi, pi)]
    trace = dict(type="scatter", mode="markers+text" if k <= 15 else "markers", x=pi.tolist(), y=gi.tolist(),
                 customdata=np.stack([gi, pi], 1).tolist(),
                 marker=dict(symbol="square", size=cell, color=share[gi, pi].tolist(), colorscale=_scale("Blues"),
                             cmin=0, cmax=1, line=dict(width=1, color="#888")),
                 text=[f"{int(m[g, p])}" if m[g, p] else "" for g, p in zip(gi, pi)],
                 textfont=dict(color=["white" if share[g, p] > 0.5 else "black" for g, p in zip(gi, pi)]),
                 hovertext=hover, hoverinfo="text", showlegend=False)
    side = 140 + cell * k
    return _figure([trace], title=_text(title), height=side + 60, width=None,
                   xaxis=dict(**_ticks(labels), title=_text("predicted"), range=[-0.6, k - 0.4], side="bottom",
                              showgrid=False, zeroline=False, tickangle=-45 if k > 6 else 0),
                   yaxis=dict(**_ticks(labels), title=_text("gold"), range=[k - 0.4, -0.6], showgrid=False,
                              zeroline=False),
                   clickmode="event+select", dragmode=False)


def example_map(xy: np.ndarray, gold: Sequence[str], wrong: Sequence[bool], hover: Sequence[str],
                title: str = "", index: Sequence[int] | None = None, colour_name: str = "gold") -> go.Figure:
    """Held-out examples in 2-D (a projection of the model's representation): one colour per gold label (or
    per bucket of what `colour_name` names), a
    wrong prediction drawn as an ✕; the hover gives the example. Each point's customdata is its row `index`,
    for a click to open it."""
    xy = np.asarray(xy, float)
    index = list(range(len(xy))) if index is None else list(index)
    wrong = np.asarray(wrong, bool)
    data = []
    for label in sorted(set(gold), key=str):
        for bad in (False, True):
            at = [i for i, g in enumerate(gold) if g == label and wrong[i] == bad]
            if not at:
                continue
            data.append(dict(type="scattergl" if len(xy) > 1000 else "scatter", mode="markers",
                             x=xy[at, 0].tolist(), y=xy[at, 1].tolist(), customdata=[index[i] for i in at],
                             name=f"{escape(str(label))}{' (wrong)' if bad else ''}", legendgroup=escape(str(label)),
                             marker=dict(symbol="x" if bad else "circle", size=11 if bad else 7,
                                         line=dict(width=1, color="black") if bad else None, opacity=0.9),
                             hovertext=[hover[i] for i in at], hoverinfo="text"))
    return _figure(data, title=_text(title), height=520, legend=dict(title=_text(f"{colour_name} (✕ wrong)")),
                   xaxis=dict(showticklabels=False, zeroline=False), yaxis=dict(showticklabels=False, zeroline=False),
                   clickmode="event+select", dragmode="pan")


def step_lines(steps: Sequence[str], series: dict[str, Sequence[float]], title: str = "", y_title: str = "",
               shade: tuple[int, int] | None = None) -> go.Figure:
    """Several series over the same steps (a sentence's tokens on the axis, repeats kept apart), the steps
    `shade` (lo, hi) shaded: e.g. LSTM units over a sentence, the selected span marked."""
    data = [dict(type="scatter", mode="lines+markers", x=list(range(len(steps))),
                 y=[None if v is None or np.isnan(v) else float(v) for v in values], name=escape(str(name)))
            for name, values in series.items()]
    shapes = [] if shade is None else [dict(type="rect", xref="x", yref="paper", x0=shade[0] - 0.5, x1=shade[1] + 0.5,
                                            y0=0, y1=1, fillcolor="#f2c80f", opacity=0.25, line=dict(width=0))]
    return _figure(data, title=_text(title), height=340, shapes=shapes, xaxis=dict(**_ticks(steps)),
                   yaxis=dict(title=_text(y_title)), legend=dict(orientation="h", x=0, y=-0.2, yanchor="top"))
