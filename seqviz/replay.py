"""Replay: what a model does inside on one fixed input (the *probe*), before training and after every epoch.

One mechanism for the five architectures: the training service adds `recorder(...)` to the run's callbacks; at
the start of training (epoch 0, the untrained model) and after every epoch it calls the architecture's own
`snapshot(bundle, probe)`, a thin selection of its `predict` output (no second implementation of any maths),
on the model being trained. Which model `predict` reads, and with which vocabularies, the architecture's `fit`
says when it asks for the run's callbacks (`seqviz.run.Run.callbacks(model, vocabs)`: dialogue acts trains a
CRF wrapper around the model it names). The snapshot's bundle says it holds a model in training
(`Bundle.training`): what a page would trace for a model it keeps is not worth tracing for one thrown away.

Beside it, every snapshot keeps each LSTM layer's hidden state h on the probe (seqviz.states.snapshot): the
replay's "Inside the LSTM" heatmap, epoch by epoch.

A replay is saved with the model: `replay.json` = {"probe": {...}, "snapshots": [{"epoch": 0, "logs": {...},
...}, ...]}, written by the store in the same atomic move as the rest of the entry (a cancelled run saves
nothing). A probe is the keyword arguments of the architecture's `snapshot`: {"text": ...} everywhere,
{"text", "expected"} for seq2seq, {"features": [...]} for a captioning model of your own image features.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

from seqviz import contract, states, store
from seqviz.errors import SeqvizError

DIGITS = 6        # significant digits a snapshot keeps: replay.json stays small, figures cannot tell


def compact(obj: Any) -> Any:
    """JSON-ready and small: floats to DIGITS significant digits (NaN and infinities as None), numpy to lists."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return float(f"{obj:.{DIGITS}g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): compact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [compact(v) for v in obj]
    if hasattr(obj, "tolist"):              # numpy arrays and scalars
        return compact(obj.tolist())
    return obj


def default_probe(mod, params: dict, data) -> dict:
    """The architecture's probe for a run: its own choice for your data (a held-out example), else its EXAMPLE."""
    return contract.hook(mod, "probe")(params, data)


def check_probe(probe) -> dict:
    """A probe as the CLI or a page gives it: a dict of `snapshot` keyword arguments, text within limits."""
    if not isinstance(probe, dict) or not probe:
        raise SeqvizError("The probe must be an input for the model, e.g. --probe \"some text\".")
    text = probe.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise SeqvizError("The probe is empty; give the input the replay should follow (--probe TEXT).")
    if isinstance(text, str) and len(text) > 50_000:
        raise SeqvizError(f"The probe has {len(text):,} characters; the limit is 50,000.")
    return probe


def recorder(mod, arch: str, params: dict, data_info: dict, probes: list[dict], strict: bool,
             send: Callable[[dict], None]):
    """The Keras callback that takes the snapshots (`bind(model, vocabs)`, a `seqviz.run.Run` factory: the model
    the architecture's `predict` reads and its vocabularies), following the first of `probes` the model can read
    (a page's input may not suit a model of other data: the next is the architecture's own example, and the
    replay's "note" says so). `strict` (the CLI's --probe): the run stops with the reason instead. When no probe can be
    read the run goes on without a replay (`replay` is then None): a figure is never worth a lost training run."""
    import tensorflow as tf

    class Recorder(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.probe, self.note, self.snapshots, self.off = probes[0], None, [], False
            self.seconds = 0.0      # spent taking snapshots: what the replay costs the run
            self.watched = None     # (the model predict reads, its vocabularies), from `bind`

        def bind(self, model, vocabs: dict):
            self.watched = (model, vocabs)
            return self

        def _take(self, epoch: int, logs: dict | None) -> None:
            t0 = time.perf_counter()
            try:
                self._snapshot(epoch, logs)
            finally:
                self.seconds += time.perf_counter() - t0

        def _snapshot(self, epoch: int, logs: dict | None) -> None:
            if self.off:
                return
            model, vocabs = self.watched
            bundle = store.Bundle(arch, "(training)", params, model, vocabs, {}, data_info, training=True)
            snap, errors = None, []
            for probe in (probes if epoch == 0 else [self.probe]):
                try:
                    snap, self.probe = mod.snapshot(bundle, **probe), probe
                    break
                except SeqvizError as e:
                    if strict or epoch:
                        raise SeqvizError(f"The replay's probe cannot be read by this model: {e}") from None
                    errors.append(str(e))
            if snap is None:
                self.off, self.note = True, f"no replay: no probe could be read ({'; '.join(errors)})"
                return
            if errors:
                self.note = (f"The input given could not be read by this model ({errors[0]}); the replay follows "
                             "the model's own example instead.")
            inside = states.snapshot(bundle, self.probe)        # the LSTMs' h on the probe: the replay's heatmap
            snap = compact({"epoch": epoch, "logs": {k: float(v) for k, v in (logs or {}).items()}, **snap,
                            **({"states": inside} if inside else {})})
            self.snapshots.append(snap)
            send(snap)

        def on_train_begin(self, logs=None):
            self._take(0, None)

        def on_epoch_end(self, epoch, logs=None):
            self._take(epoch + 1, logs)

        @property
        def replay(self) -> dict | None:
            if self.off or not self.snapshots:
                return None
            out = {"probe": compact(self.probe), "snapshots": self.snapshots}
            if self.note:
                out["note"] = self.note
            return out

    return Recorder()


def read(arch: str, name: str) -> dict | None:
    """A stored model's replay, or None (a model trained before replays existed). A damaged file raises."""
    rep = store.read_json(arch, name, "replay")
    if rep is None:
        return None
    if not isinstance(rep, dict) or not isinstance(rep.get("snapshots"), list) or not rep["snapshots"] \
            or not all(isinstance(s, dict) and isinstance(s.get("epoch"), int) for s in rep["snapshots"]):
        raise SeqvizError(f"The store entry {arch}/{name} is damaged (replay.json is not a replay); retrain it.")
    return rep


def epochs(replay: dict) -> list[int]:
    return [s["epoch"] for s in replay["snapshots"]]


def first_stable(values: list, final=None) -> int | None:
    """The index from which `values` equal `final` (default: the last value) to the end; None if never."""
    if not values:
        return None
    final = values[-1] if final is None else final
    i = len(values)
    while i > 0 and values[i - 1] == final:
        i -= 1
    return i if i < len(values) else None


def metric_name(key: str) -> str:
    """A Keras log's name in words: "val_probs_accuracy" -> "held-out accuracy", "next_2_loss" -> "loss (head 2)"
    (Keras names a multi-output model's metrics after its output layers: probs, next_1, next_2)."""
    held = key.startswith("val_")
    name = key[len("val_"):] if held else key
    head = None
    for prefix in ("probs_", "next_1_", "next_2_"):
        if name.startswith(prefix):
            name, head = name[len(prefix):], prefix.split("_")[1] if prefix.startswith("next") else None
    return ("held-out " if held else "") + name.replace("_", " ") + (f" (head {head})" if head else "")


def epoch_title(snap: dict) -> str:
    """A replay frame's title: the epoch, its first Keras metrics (loss first) in words, and the label the model
    gave the probe then, where it gives one."""
    if snap["epoch"] == 0:
        return "Epoch 0: the untrained model" + (f" · predicts {snap['label']}" if isinstance(snap.get("label"), str)
                                                 else "")
    logs = {k: v for k, v in (snap.get("logs") or {}).items() if v is not None}
    names: dict[str, float] = {}
    for k in sorted(logs, key=lambda k: (k != "loss", k.startswith("val") is False, k)):
        names.setdefault(metric_name(k), logs[k])           # probs_loss and loss: one "loss"
    parts = [f"{n} {v:.3g}" for n, v in list(names.items())[:3]]
    if isinstance(snap.get("label"), str):
        parts.append(f"predicts {snap['label']}")
    return f"Epoch {snap['epoch']}: " + " · ".join(parts)


def units(lines: dict[str, list]) -> tuple[list[str], list[str]]:
    """A story's lines split by unit for two y axes: (shares, between 0 and 1; the others: counts, perplexities).
    All on one side when they are all of one kind."""
    share = [k for k, v in lines.items() if all(x is None or 0 <= x <= 1 for x in v)]
    other = [k for k in lines if k not in share]
    return (share, other) if share and other else (list(lines), [])
