"""The LSTM layers of attention, dialogue acts, seq2seq and the LM, with one graph each instead of two
(captioning builds RNN(LSTMCell), which has no implementation switch to skip).

Keras 2.15's LSTM, called on symbolic tensors (building a model, tracing a training or prediction graph), traces
both a cuDNN-compatible and a generic implementation, and the gradients of both, for Grappler to pick one at run
time. On a machine without a GPU the generic one runs anyway and it is the same maths, so the other is pure
tracing cost: the dialogue-acts model built in ~1 s instead of ~7 s once its BiLSTMs skipped it, seq2seq's
inference models in 0.1 s instead of 1.4 s. With a GPU visible the switch is left alone (cuDNN is worth it).
`_could_use_gpu_kernel` is private to Keras 2.15 (pinned); it is read when the layer is called, so it is set here,
at construction, on both directions of a Bidirectional (the backward one is a copy Bidirectional makes).
"""
from __future__ import annotations

from functools import lru_cache

import tensorflow as tf


@lru_cache(maxsize=1)
def _gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def _generic(layer: tf.keras.layers.LSTM) -> tf.keras.layers.LSTM:
    if not _gpu():
        layer._could_use_gpu_kernel = False
    return layer


def lstm(units: int, **kwargs) -> tf.keras.layers.LSTM:
    """tf.keras.layers.LSTM(units, **kwargs), tracing one implementation on a CPU-only machine."""
    return _generic(tf.keras.layers.LSTM(units, **kwargs))


def bilstm(units: int, name: str, **kwargs) -> tf.keras.layers.Bidirectional:
    """Bidirectional(LSTM(units, **kwargs), name=name), tracing one implementation per direction on a CPU."""
    layer = tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(units, **kwargs), name=name)
    _generic(layer.forward_layer)
    _generic(layer.backward_layer)
    return layer
