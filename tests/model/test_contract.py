"""The architecture contract (seqviz.contract): every registered module satisfies it, a module that does not is
named with what it lacks, and every shipped model's `predict` returns what its RESULT spec declares.

The tests here train or load a model; those that need none are in tests/unit/test_contract.py."""
from __future__ import annotations


import numpy as np
import pytest

from seqviz import archs, contract, store


def _conforms(arch: str, result: dict) -> dict:
    return contract.conform(archs.get(arch).module(), result)


@pytest.mark.parametrize("arch,name", [(a.id, n) for a in archs.ARCHS.values() for n in a.shipped
                                       if a.id != "seq2seq" or n.startswith(("default-sort", "default-piglatin"))
                                       or n in ("default-basic", "default-attention")])
def test_every_shipped_models_predict_returns_its_declared_result(arch, name):
    mod = archs.get(arch).module()
    bundle = store.load(arch, name)
    text = mod.EXAMPLE
    if arch == "seq2seq":
        from seqviz import seq2seq
        text = seq2seq.EXAMPLES[bundle.params["task"]]
    r = _conforms(arch, mod.predict(bundle, text))
    assert set(r) >= {k for k, o in mod.RESULT.items() if not o.optional}
    if arch == "seq2seq":       # N decoder steps: as many alignment rows as per-step top tokens
        assert (r["attention"] is None) == (bundle.params["mode"] != "attention")
        assert len(r["steps"]) >= len(r["output"])


def test_a_captioning_feature_file_gives_declared_results_per_row():
    import io
    from seqviz import captioning
    bundle = store.load("captioning", store.DEFAULT)
    x = np.random.default_rng(0).random((3, bundle.params["feature_dim"])).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    many = _conforms("captioning", captioning.predict_file(bundle, buf.getvalue(), "x.npy", beam=2))
    assert len(many["rows"]) == 3 and "captions" not in many
    for row in many["rows"]:
        _conforms("captioning", {"heads": many["heads"], "ablate": many["ablate"], **row})
    buf = io.BytesIO()
    np.save(buf, x[0], allow_pickle=False)
    one = _conforms("captioning", captioning.predict_file(bundle, buf.getvalue(), "x.npy", beam=2))
    assert len(one["captions"]) == len(one["heads"]) == 2 and "scene" not in one
