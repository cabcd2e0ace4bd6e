"""Two models of one architecture on the same input: `predict --compare NAME` and the pages' "compare with".

    {"a": <model a's result>, "b": <model b's result>, "diff": <what differs>}

The results are each model's own `predict` (or `predict_file`), unchanged; the architecture contributes
`diff(a, ra, b, rb) -> dict` (the bundles and their results), which compares what the two share: where their
vocabularies or label sets differ, it says so and compares the common part.
"""
from __future__ import annotations

from typing import Callable

from seqviz import archs, store
from seqviz.errors import SeqvizError


def run(a: store.Bundle, b: store.Bundle, predict: Callable[[store.Bundle], dict]) -> dict:
    """`predict` on both models and the architecture's diff. An input model b cannot read is named as b's."""
    if a.arch != b.arch:
        raise SeqvizError(f"Cannot compare a {a.arch} model with a {b.arch} model.")
    ra = predict(a)
    try:
        rb = predict(b)
    except SeqvizError as e:
        raise SeqvizError(f"Model {b.name!r} (compared): {e}") from None
    return {"a": ra, "b": rb, "diff": archs.get(a.arch).module().diff(a, ra, b, rb)}


def shared(a: list, b: list) -> dict:
    """Two label sets (or vocabularies): the common part in a's order, and what only one of them has."""
    in_b, in_a = set(b), set(a)
    return {"shared": [x for x in a if x in in_b], "only_a": [x for x in a if x not in in_b],
            "only_b": [x for x in b if x not in in_a]}
