"""What the pages ask of the architecture modules instead of computing it themselves: seq2seq's models grouped
by task, the LM race's plan, its runs and traces, and the dialogue-acts decode a prediction carries.

The tests here train or load a model; those that need none are in tests/unit/test_page_logic.py."""
import json

import numpy as np
import pytest

from seqviz import crf, store
from seqviz import dialogue_acts as da


@pytest.fixture(scope="module")
def default_bundle():
    return store.load("dialogue-acts", "default")


def test_a_dialogue_prediction_carries_the_viterbi_decode_the_lattice_draws(default_bundle):
    r = da.predict(default_bundle, da.EXAMPLE)
    best = crf.viterbi(np.array(r["emissions"]), np.array(r["transitions"]))
    old = {k: v for k, v in r.items() if k not in ("cumulative", "backpointers")}   # a replay's older snapshot
    for v in (da.viterbi_of(r), da.viterbi_of(json.loads(json.dumps(r))), da.viterbi_of(old)):
        assert v.path == best.path and v.score == pytest.approx(best.score)
        np.testing.assert_allclose(v.cumulative, best.cumulative, rtol=1e-12)
        np.testing.assert_array_equal(v.backpointers, best.backpointers)
