"""Traced graphs of a loaded model, built once per model and shared: `forward` (the model's call, traced) and
`once_per_model` (memoise any graph or inference model built from a model, thread-safe). A Keras model called
eagerly costs ~15 ms of Python per call; traced, ~1 ms."""
from __future__ import annotations

import threading

_BUILDING = threading.RLock()   # re-entrant: a build may ask for another memoised build


def once_per_model(build):
    """Memoise `build(model, ...)` on the model object (a traced graph, an inference model): built once per
    model, even when two sessions or a page's worker threads ask for it at the same time. The arguments
    after the model are the first caller's (they are fixed per model)."""
    attr = f"_seqviz{build.__name__}"

    def get(model, *args):
        built = getattr(model, attr, None)
        if built is None:
            with _BUILDING:
                built = getattr(model, attr, None)
                if built is None:
                    built = build(model, *args)
                    setattr(model, attr, built)
        return built
    get.__name__, get.__doc__ = build.__name__, build.__doc__
    return get


@once_per_model
def _forward(model, signature):
    import tensorflow as tf
    call = lambda x: model(x, training=False)  # noqa: E731
    # with a signature, keep the one concrete function: calling it directly skips the polymorphic
    # function's dispatch (~0.4 ms of a ~1.2 ms decoder step)
    return (tf.function(call, input_signature=[signature], autograph=False).get_concrete_function()
            if signature is not None else tf.function(call, reduce_retracing=True, autograph=False))


def forward(model, inputs, signature=None):
    """`model(inputs, training=False)`, traced once and reused: an eager call of a small Keras model costs
    ~15 ms of Python overhead per call, a traced one ~1 ms. Without a `signature` (the inputs' TensorSpecs,
    None for any size) shapes are relaxed after a retrace; a model called with ever-changing shapes (a
    decoder step over beams of any width and sources of any length) should pass one, to trace only once."""
    return _forward(model, signature)(inputs)
