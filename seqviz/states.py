"""Inside the LSTM: every recurrent layer's per-step hidden state h, cell state c and gates, recomputed from the
layer's own weights on the layer's own inputs (LSTMVis, Strobelt et al. 2017, reads the same quantities).

Keras' LSTM cell (TF 2.15), one step, with the kernel W (D, 4H), recurrent kernel U (H, 4H), bias b (4H,) split
in the order i, f, g, o:

    z = x_t W + h_{t-1} U + b
    input i = σ(z_i)   forget f = σ(z_f)   candidate g = tanh(z_g)   output o = σ(z_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g          h_t = o ⊙ tanh(c_t)

A masked step (padding) leaves h and c as they were and has no gates. A Bidirectional layer's backward direction
reads the sequence from its end; its states are returned in the input's order (position t: after reading t..T),
as Keras returns its outputs. An architecture contributes `lstm_inputs(bundle, text)`: each LSTM layer of its
model with the tokens and the inputs that layer reads for this input; the maths is here, once, tested equal to
the Keras layers' own outputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATES = ("input", "forget", "candidate", "output")       # Keras' order in the kernel's 4H columns


MAX_INPUTS = 1000         # held-out inputs a match search reads (the first ones)
MAX_MATCHES = 20          # matches listed, best first


@dataclass
class LayerInput:
    """One recurrent layer over a batch of inputs as `lstm_inputs` gives it: the Keras layer (an LSTM, a
    Bidirectional of one, or an RNN of an LSTMCell), what it reads x (N, T, D), which steps are real (N, T) and what
    each step is (row i: steps[i], a token or an utterance). A row is one input's sequence, or a part of it
    (`of[i]`: the input it belongs to; `parts[i]`: which part, e.g. "utterance 3", "" for the whole input)."""
    name: str
    layer: object
    x: np.ndarray
    mask: np.ndarray
    steps: list[list[str]]
    of: list[int] | None = None          # None: row i is input i
    parts: list[str] | None = None
    initial: tuple | None = None     # (h0, c0) each (N, H) where the layer starts from given states (a decoder)

    def rows(self) -> list[tuple[str, "LayerInput"]]:
        """Each row alone (x (1, T_i, D) cut to its steps), named as the page lists it: "word_bilstm (utterance 2)"."""
        out = []
        for i, steps in enumerate(self.steps):
            n, part = len(steps), (self.parts or [""] * len(self.steps))[i]
            init = None if self.initial is None else tuple(v[i:i + 1] for v in self.initial)
            out.append((f"{self.name} ({part})" if part else self.name,
                        LayerInput(self.name, self.layer, self.x[i:i + 1, :n], self.mask[i:i + 1, :n], [steps],
                                   initial=init)))
        return out


def _cells(layer) -> list[tuple[str, object, bool]]:
    """(direction, LSTM cell, reads backwards) of a Keras recurrent layer."""
    import tensorflow as tf
    if isinstance(layer, tf.keras.layers.Bidirectional):
        return [("forward", layer.forward_layer.cell, False), ("backward", layer.backward_layer.cell, True)]
    return [("forward", layer.cell, bool(getattr(layer, "go_backwards", False)))]


def run(cell, x: np.ndarray, mask: np.ndarray, backwards: bool = False, initial: tuple | None = None
        ) -> dict[str, np.ndarray]:
    """One LSTM cell's states over sequences x (N, T, D) (or one, (T, D)) from zeros (or `initial` (h0, c0), each
    (N, H) or (H,)): {"h", "c", and each gate} each (N, T, H) (or (T, H)), in the input's order; NaN at masked
    steps (h and c carry over them, unread). Every row steps together: one (N, D) x (D, 4H) product a step."""
    one = np.ndim(x) == 2
    x, mask = (np.asarray(x)[None], np.asarray(mask)[None]) if one else (np.asarray(x), np.asarray(mask))
    w, u, b = (v.numpy().astype(np.float64) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    units = u.shape[0]
    n, t_len = mask.shape
    out = {k: np.full((n, t_len, units), np.nan) for k in ("h", "c", *GATES)}
    if initial is None:
        h, c = np.zeros((n, units)), np.zeros((n, units))
    else:
        h, c = (np.broadcast_to(np.asarray(v, np.float64).reshape(-1, units), (n, units)).copy() for v in initial)
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))                          # noqa: E731
    for t in (range(t_len - 1, -1, -1) if backwards else range(t_len)):
        real = mask[:, t].astype(bool)
        if not real.any():
            continue
        z = np.asarray(x[real, t], np.float64) @ w + h[real] @ u + b                   # (n_real, 4H)
        i, f, g, o = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units]), np.tanh(z[:, 2 * units:3 * units]), \
            sigmoid(z[:, 3 * units:])
        c[real] = f * c[real] + i * g
        h[real] = o * np.tanh(c[real])
        for k, v in zip(("h", "c", *GATES), (h[real], c[real], i, f, g, o)):
            out[k][real, t] = v
    return {k: v[0] for k, v in out.items()} if one else out


def layer_states(item: LayerInput) -> dict:
    """{"name", "steps", "directions": {direction: run(...)}} of a layer over its batch (each (N, T, H))."""
    return {"name": item.name, "steps": item.steps,
            "directions": {d: run(cell, item.x, item.mask, back, item.initial) for d, cell, back in _cells(item.layer)}}


def inputs(bundle, text) -> list[tuple[str, LayerInput]]:
    """The page's one input as each LSTM layer reads it, a row each: [(name, LayerInput of one row)]."""
    from seqviz import archs, contract
    return [row for item in contract.hook(archs.get(bundle.arch).module(), "lstm_inputs")(bundle, [text])
            for row in item.rows()]


def _rows(bundle, text, layer: str | None = None):
    """(name, the model's layer, steps, {direction: {"h", "c", gates: (T, H)}}) of each LSTM layer row for one
    input (or only the one named `layer`); each model layer runs once over its rows (a dialogue's utterances)."""
    from seqviz import archs, contract
    from seqviz.errors import SeqvizError
    items = contract.hook(archs.get(bundle.arch).module(), "lstm_inputs")(bundle, [text])
    named = [(item, [name for name, _ in item.rows()]) for item in items]
    if layer is not None and not any(layer in names for _, names in named):
        raise SeqvizError(f"The model has no LSTM layer {layer!r}; it has "
                          f"{', '.join(n for _, names in named for n in names)}.")
    for item, names in named:
        if layer is not None and layer not in names:
            continue
        got = layer_states(item)["directions"]
        for i, (name, steps) in enumerate(zip(names, item.steps)):
            if layer is None or name == layer:
                yield name, item.name, list(steps), {d: {k: v[i, :len(steps)] for k, v in s.items()}
                                                     for d, s in got.items()}


def of(bundle, text: str, layer: str | None = None) -> dict:
    """Every LSTM layer's states for one input of a stored model (or the one named `layer`) -> {"layers": [...
    {"name", "layer" (the model's layer), "steps", "directions": {direction: {"h", "c", gates: [[...]] (T, H),
    null where masked}}}]}."""
    return {"layers": [{"name": name, "layer": base, "steps": steps,
                        "directions": {d: {k: _json(v) for k, v in s.items()} for d, s in got.items()}}
                       for name, base, steps, got in _rows(bundle, text, layer)]}


def _json(a: np.ndarray) -> list:
    """(T, H) floats to 6 decimals, NaN (a masked step) as None."""
    return np.where(np.isnan(a), None, np.round(a, 6)).tolist()


def span_units(values: np.ndarray, lo: int, hi: int, threshold: float) -> dict:
    """LSTMVis' selection: for one layer's activations (T, H) and a span of steps lo..hi (inclusive), the units
    that are on (> `threshold`) at every step of the span and off at every other step, and every unit ranked by
    how much higher it is on the span than elsewhere -> {"on": [unit], "ranked": [unit], "contrast": (H,)}.
    Masked steps (NaN) count as neither."""
    a = np.asarray(values, float)
    inside = np.zeros(len(a), bool)
    inside[lo:hi + 1] = True
    real = ~np.isnan(a).all(axis=1)
    span, rest = a[inside & real], a[~inside & real]
    on = (span > threshold).all(axis=0) & ((rest <= threshold).all(axis=0) if len(rest) else True)
    contrast = span.mean(axis=0) - (rest.mean(axis=0) if len(rest) else 0.0)
    ranked = np.argsort(-contrast, kind="stable")
    return {"on": [int(u) for u in ranked if on[u]], "ranked": ranked.tolist(), "contrast": contrast}


def runs(on: np.ndarray) -> np.ndarray:
    """The maximal runs of True in each row of `on` (N, T) -> (M, 3) [row, first step, last step], row-major."""
    d = np.diff(np.pad(on.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    starts, ends = np.argwhere(d == 1), np.argwhere(d == -1)              # both in row-major order: they pair up
    return np.column_stack([starts[:, 0], starts[:, 1], ends[:, 1] - 1]) if len(starts) else np.zeros((0, 3), int)


def matches(values: np.ndarray, units: list[int], threshold: float, length: int, limit: int = MAX_MATCHES) -> dict:
    """LSTMVis' match search: in activations (N, T, H) (NaN where masked), the places where all `units` are on
    (> `threshold`) together, each a maximal run of steps; ranked by how close the run's length is to the selected
    span's `length`, then by the units' mean activation over it -> {"n": all runs, "rows": rows with one,
    "found": [{"row", "lo", "hi", "score"}] (the best `limit`)}."""
    a = np.asarray(values)[:, :, list(units)]                                     # (N, T, U)
    with np.errstate(invalid="ignore"):
        on = (a > threshold).all(axis=-1)
    found = runs(on)
    if not len(found):
        return {"n": 0, "rows": 0, "found": []}
    scores = np.array([np.nanmean(a[r, lo:hi + 1]) for r, lo, hi in found])
    order = np.lexsort((-scores, np.abs(found[:, 2] - found[:, 1] + 1 - length)))[:limit]
    return {"n": int(len(found)), "rows": int(len(np.unique(found[:, 0]))),
            "found": [{"row": int(found[k, 0]), "lo": int(found[k, 1]), "hi": int(found[k, 2]),
                       "score": float(scores[k])} for k in order]}


def heldout(bundle, layer: str) -> dict:
    """The model's layer `layer` (as the model names it) over its held-out inputs (the architecture's
    `lstm_heldout`: at most MAX_INPUTS), kept on the loaded model: {"inputs": [what opens each input in the page's
    view], "of": [input of each row], "parts", "steps": [[...]] per row, "directions": {d: {"h", "c", gates:
    (N, T, H) float32}}}."""
    from seqviz import archs, contract
    from seqviz.errors import SeqvizError
    kept = bundle.model.__dict__.setdefault("_seqviz_states", {})
    if layer not in kept:
        mod = archs.get(bundle.arch).module()
        items, opens = contract.hook(mod, "lstm_heldout")(bundle)
        items, opens = items[:MAX_INPUTS], opens[:MAX_INPUTS]
        named = [i for i in contract.hook(mod, "lstm_inputs")(bundle, items) if i.name == layer]
        if not named:
            raise SeqvizError(f"The model has no LSTM layer {layer!r}.")
        item = named[0]
        got = layer_states(item)
        kept[layer] = {"inputs": list(opens), "of": item.of or list(range(len(item.steps))),
                       "parts": item.parts or [""] * len(item.steps), "steps": item.steps,
                       "directions": {d: {k: v.astype(np.float32) for k, v in s.items()}
                                      for d, s in got["directions"].items()}}
    return kept[layer]


def heldout_matches(bundle, layer: str, direction: str, show: str, units: list[int], threshold: float,
                    length: int) -> dict:
    """`matches` of the selected units over the held-out inputs -> {"n", "rows", "inputs" (searched), "found":
    [{"input" (what opens it), "part", "steps", "lo", "hi", "score"}]}."""
    h = heldout(bundle, layer)
    m = matches(h["directions"][direction][show], units, threshold, length)
    return {"n": m["n"], "rows": m["rows"], "inputs": len(h["inputs"]),
            "found": [{"input": h["inputs"][h["of"][f["row"]]], "part": h["parts"][f["row"]],
                       "steps": h["steps"][f["row"]], "lo": f["lo"], "hi": f["hi"], "score": f["score"]}
                      for f in m["found"]]}


def search(bundle, text: str, layer: str, lo: int, hi: int, threshold: float = 0.5, direction: str = "forward",
           show: str = "h") -> dict:
    """The whole LSTMVis loop for one input: the units of `layer` (as `of` names it) on over steps lo..hi
    (0-based, inclusive) and off elsewhere, then where they turn on together in the held-out set ->
    {"layer", "direction", "show", "span": [lo, hi], "steps", "on", "matches": heldout_matches(...)}."""
    from seqviz.errors import SeqvizError
    (got,) = of(bundle, text, layer)["layers"]
    if direction not in got["directions"]:
        raise SeqvizError(f"Layer {layer!r} has no {direction} direction; it has {', '.join(got['directions'])}.")
    if show not in got["directions"][direction]:
        raise SeqvizError(f"No {show!r} to show; choose one of h, c, {', '.join(GATES)}.")
    n = len(got["steps"])
    if not 0 <= lo <= hi < n:
        raise SeqvizError(f"The span {lo + 1}:{hi + 1} is not within the input's {n} steps.")
    a = np.array(got["directions"][direction][show], dtype=float)
    on = span_units(a, lo, hi, threshold)["on"]
    found = heldout_matches(bundle, got["layer"], direction, show, on, threshold, hi - lo + 1) if on else \
        {"n": 0, "rows": 0, "inputs": 0, "found": []}
    return {"layer": layer, "direction": direction, "show": show, "span": [lo, hi], "steps": got["steps"],
            "on": on, "matches": found}


def outputs(bundle, text, layer: str) -> dict[str, np.ndarray]:
    """What layer `layer` (as `of` names it) outputs for the page's one input: h per direction, (T, H)."""
    ((_, _, _, got),) = _rows(bundle, text, layer)
    return {d: v["h"] for d, v in got.items()}


def per_direction(values, directions) -> dict[str, list[float]]:
    """A value per unit of a layer's output (forward units, then backward: Keras' concatenation) per direction."""
    values = np.asarray(values, float)
    n = len(values) // len(directions)
    return {d: values[k * n:(k + 1) * n].tolist() for k, d in enumerate(directions)}


def effects(bundle, text, layer: str) -> dict | None:
    """Each unit of `layer` against the output the page shows (the architecture's `unit_effects`): {"target" (what
    is measured), "link" (what the weight is), "weights" and "ablation" ({direction: [per unit]}: the unit's
    weight into the target, and how much the target drops with the unit's output set to 0, all units' variants
    in one batch)}; None for a layer that feeds the output only through others."""
    from seqviz import archs, contract
    return contract.hook(archs.get(bundle.arch).module(), "unit_effects")(bundle, text, layer)


def snapshot(bundle, probe: dict) -> dict | None:
    """The replay's look inside the LSTMs (seqviz.replay, every epoch): each layer's h on the probe, 2 decimals
    (a heatmap cannot tell more) -> {layer: {"steps", "h": {direction: (T, H)}}}; None where the model cannot
    read the probe this way (the replay goes on without it)."""
    from seqviz.errors import SeqvizError
    x = probe["text"] if "text" in probe else np.asarray(probe["features"], np.float32)
    try:
        return {name: {"steps": steps, "h": {d: np.round(np.nan_to_num(v["h"]), 2).tolist() for d, v in got.items()}}
                for name, _, steps, got in _rows(bundle, x)}
    except SeqvizError:
        return None


def replay_units(frames: list[np.ndarray], n: int) -> list[int]:
    """The `n` units a replay's heatmap follows through the epochs: the most active at the last epoch (mean |h|
    over the steps), kept in one order in every frame."""
    return np.argsort(-np.abs(frames[-1]).mean(axis=0), kind="stable")[:n].tolist()
