"""What a training run hands an architecture's `fit`, and what `fit` reports back while it runs.

`fit(params, data, run)` gets a `Run` and passes `run.callbacks(model, vocabs)` to Keras' fit: the model its
`predict` reads and the vocabularies it reads with are arguments, not a side channel (dialogue acts fits a
CRF-loss wrapper around the model `predict` reads, so it names that one). The run's callbacks are the
training service's (progress, cancel, the replay's recorder) plus one that keeps the Keras history, which the
service stores in the metrics: an architecture never copies it. `phase` and `record` report what a run is doing
to whoever watches it (the CLI's printer, or the worker's pipe to the page); outside a run they do nothing.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

_sink = threading.local()


def emit(event: dict) -> None:
    """Report an event of the run training in this thread (no-op outside a run)."""
    fn = getattr(_sink, "fn", None)
    if fn is not None:
        fn(event)


def phase(text: str) -> None:
    """What the run is doing now, in words: "generating data", "building vocabularies"..."""
    emit({"type": "phase", "phase": text})


def record(key: str, value: Any) -> None:
    """Append `value` to the run's live record `key` (a Job keeps them in `job.records[key]`; the LM race's trace)."""
    emit({"type": "record", "key": key, "value": value})


class reporting:
    """`with reporting(fn):` the events this thread emits go to `fn(event)`."""

    def __init__(self, fn: Callable[[dict], None] | None):
        self.fn = fn

    def __enter__(self):
        _sink.fn = self.fn

    def __exit__(self, *exc):
        _sink.fn = None


Factory = Callable[[Any, dict], Any]     # (the model predict reads, its vocabularies) -> a Keras callback


class Run:
    """The Keras callbacks of one training run, made for the model `predict` reads (`callbacks(model, vocabs)`),
    and the per-epoch history of what Keras logged (`history`: {name: [one float per epoch]})."""

    def __init__(self, *factories: Factory):
        self.factories = factories
        self.history: dict[str, list[float]] = {}

    def callbacks(self, model, vocabs: dict) -> list:
        """Called by an architecture's `fit` once, right before Keras' fit: `model` (what its `predict` reads, which
        may differ from the model being fitted) and `vocabs` are what the callbacks look at."""
        import tensorflow as tf
        self.history = history = {}          # this fit's: a Run used again starts afresh

        class History(tf.keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                for k, v in (logs or {}).items():
                    history.setdefault(k, []).append(float(v))

        return [History(), *(make(model, vocabs) for make in self.factories)]


UNWATCHED = Run()    # a fit outside the training service (tests, benches): no progress, no replay
