"""The architecture contract (seqviz.contract): every registered module satisfies it, a module that does not is
named with what it lacks, and every shipped model's `predict` returns what its RESULT spec declares.

The tests here need no model; those that train or load one are in tests/model/test_contract.py."""
from __future__ import annotations

import re
import types

import pytest

from seqviz import archs, contract, store
from seqviz.contract import Out
from seqviz.errors import SeqvizError
from seqviz.params import SEED


@pytest.mark.parametrize("arch", list(archs.ARCHS))
def test_every_registered_architecture_satisfies_the_contract(arch):
    mod = archs.get(arch).module()          # the registry checks on import; check again, explicitly
    assert contract.check(mod) is mod
    for name in contract.REQUIRED:
        assert hasattr(mod, name), name
    for name in contract.OPTIONAL:          # every optional hook resolves to something usable
        assert contract.hook(mod, name) is not None


def _module(**names) -> types.ModuleType:
    mod = types.ModuleType("seqviz.fake")
    ok = archs.get("attention").module()
    for name in contract.REQUIRED:
        setattr(mod, name, getattr(ok, name))
    for name, value in names.items():
        if value is None:
            delattr(mod, name)
        else:
            setattr(mod, name, value)
    return mod


def test_a_module_short_of_the_contract_is_named_with_everything_it_lacks():
    assert contract.check(_module()).__name__ == "seqviz.fake"
    with pytest.raises(TypeError, match=r"seqviz.fake does not satisfy the architecture contract: no story; "
                                        r"no serving"):
        contract.check(_module(story=None, serving=None))
    with pytest.raises(TypeError, match=r"predict\(bundle\) .*cannot take \(bundle, text\)"):
        contract.check(_module(predict=lambda bundle: {}))
    with pytest.raises(TypeError, match="fit.*cannot take"):
        contract.check(_module(fit=lambda params, data, run, extra: None))
    with pytest.raises(TypeError, match="PARAMS has no seed"):
        contract.check(_module(PARAMS=[]))
    with pytest.raises(TypeError, match="QUICK sets a knob PARAMS does not have"):
        contract.check(_module(PARAMS=[SEED], QUICK={"epochs": 1}))
    with pytest.raises(TypeError, match="RESULT is not a dict of Out"):
        contract.check(_module(RESULT={"label": str}))
    with pytest.raises(TypeError, match="probe is not a function"):
        contract.check(_module(probe="text"))


def test_optional_hooks_default_to_what_the_services_did_without_them():
    mod = _module()
    assert contract.hook(mod, "probe")({"seed": 0}, None) == {"text": mod.EXAMPLE}
    assert contract.hook(mod, "check_params")({"a": 1}, None) == {"a": 1}
    assert contract.hook(mod, "default_model")({}) == store.DEFAULT
    assert contract.hook(mod, "FILES") == {} and contract.hook(mod, "READ_COST") == {}
    mod.predict = lambda bundle, text, **options: {"text": text, **options}
    assert contract.hook(mod, "predict_file")(None, "héllo".encode(), "in.txt", k=1) == {"text": "héllo", "k": 1}
    with pytest.raises(SeqvizError):    # a file that is not text is refused in a sentence, as a typed input is
        contract.hook(mod, "predict_file")(None, b"\xff\xfe\x00bad", "in.bin")
    own = _module(probe=lambda params, data: {"text": "mine"})
    assert contract.hook(own, "probe")({}, None) == {"text": "mine"}


SPEC = types.SimpleNamespace(__name__="seqviz.spec", RESULT={
    "tokens": Out(list[str], ("T",)), "attention": Out(list[float], ("T",)),
    "grid": Out(list[list[float]], ("T", "L")), "label": Out(str | None), "extra": Out(int, optional=True)})


def test_conform_orders_the_keys_and_names_what_breaks_the_spec():
    good = {"label": None, "grid": [[0.5, 0.5], [1.0, 0.0]], "attention": [0.25, 0.75], "tokens": ["a", "b"]}
    assert list(contract.conform(SPEC, good)) == ["tokens", "attention", "grid", "label"]
    assert contract.conform(SPEC, {**good, "extra": 3})["extra"] == 3
    for bad, says in [({**good, "surprise": 1}, "undeclared key 'surprise'"),
                      ({k: v for k, v in good.items() if k != "label"}, "missing 'label'"),
                      ({**good, "attention": [1.0]}, "'attention' has 1 along T"),
                      ({**good, "grid": [[0.5], [1.0]], "tokens": ["a", "b"]}, None),     # L is free: one column
                      ({**good, "grid": [[0.5, 0.5]]}, "'grid' has 1 along T"),
                      ({**good, "tokens": ["a", 2]}, "'tokens' is not list[str]"),
                      ({**good, "label": 1}, "'label' is not"),
                      ({**good, "attention": [True, False]}, "'attention' is not list[float]")]:
        if says is None:
            contract.conform(SPEC, bad)
            continue
        with pytest.raises(RuntimeError, match="seqviz.spec.predict broke its RESULT spec: .*" + re.escape(says)):
            contract.conform(SPEC, bad)
