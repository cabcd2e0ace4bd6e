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


@dataclass
class LayerInput:
    """One recurrent layer of a model as `lstm_inputs` gives it: the Keras layer (an LSTM, a Bidirectional of
    one, or an RNN of an LSTMCell), what it reads for this input, (T, D), which steps are real (T,) and what each
    step is (a token, an utterance)."""
    name: str
    layer: object
    x: np.ndarray
    mask: np.ndarray
    steps: list[str]
    initial: tuple | None = None     # (h0, c0) each (H,) where the layer starts from given states (a decoder)


def _cells(layer) -> list[tuple[str, object, bool]]:
    """(direction, LSTM cell, reads backwards) of a Keras recurrent layer."""
    import tensorflow as tf
    if isinstance(layer, tf.keras.layers.Bidirectional):
        return [("forward", layer.forward_layer.cell, False), ("backward", layer.backward_layer.cell, True)]
    return [("forward", layer.cell, bool(getattr(layer, "go_backwards", False)))]


def run(cell, x: np.ndarray, mask: np.ndarray, backwards: bool = False, initial: tuple | None = None
        ) -> dict[str, np.ndarray]:
    """One LSTM cell's states over one sequence x (T, D) from zeros (or `initial` (h0, c0)): {"h", "c", and each
    gate} each (T, H), in the input's order; NaN at masked steps (h and c carry over them, unread)."""
    w, u, b = (v.numpy().astype(np.float64) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    units = u.shape[0]
    t_len = len(x)
    out = {k: np.full((t_len, units), np.nan) for k in ("h", "c", *GATES)}
    h, c = (np.zeros(units), np.zeros(units)) if initial is None else (np.asarray(v, np.float64) for v in initial)
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))                          # noqa: E731
    for t in (range(t_len - 1, -1, -1) if backwards else range(t_len)):
        if not mask[t]:
            continue
        z = np.asarray(x[t], np.float64) @ w + h @ u + b
        i, f, g, o = sigmoid(z[:units]), sigmoid(z[units:2 * units]), np.tanh(z[2 * units:3 * units]), \
            sigmoid(z[3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip(("h", "c", *GATES), (h, c, i, f, g, o)):
            out[k][t] = v
    return out


def layer_states(item: LayerInput) -> dict:
    """{"name", "steps", "directions": {direction: run(...)}} of one layer."""
    return {"name": item.name, "steps": list(item.steps),
            "directions": {d: run(cell, item.x, item.mask, back, item.initial) for d, cell, back in _cells(item.layer)}}


def of(bundle, text: str, layer: str | None = None) -> dict:
    """Every LSTM layer's states for one input of a stored model (or the one named `layer`) -> {"layers": [...
    {"name", "steps", "directions": {direction: {"h", "c", gates: [[...]] (T, H), null where masked}}}]}."""
    from seqviz import archs, contract
    from seqviz.errors import SeqvizError
    items = contract.hook(archs.get(bundle.arch).module(), "lstm_inputs")(bundle, text)
    if layer is not None:
        named = [i for i in items if i.name == layer]
        if not named:
            raise SeqvizError(f"The model has no LSTM layer {layer!r}; it has {', '.join(i.name for i in items)}.")
        items = named
    return {"layers": [_json(layer_states(i)) for i in items]}


def _json(states: dict) -> dict:
    return {**states, "directions": {d: {k: [[None if np.isnan(v) else round(float(v), 6) for v in row]
                                              for row in a] for k, a in s.items()}
                                     for d, s in states["directions"].items()}}


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
