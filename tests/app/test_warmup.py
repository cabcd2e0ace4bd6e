"""The warm-up (seqviz.ui.calls.WARM, run by seqviz.ui.warmup) makes each page's first-view model calls the way
the page makes them: after it, opening a page with no URL query loads no model and makes no memoised model
call that the warm-up did not (the same cache entries: model, function, arguments of the same types)."""
import numpy as np
import pytest

from seqviz import archs
from seqviz.ui import calls, session
from tests.app.helpers import open_page


def _key(value):
    """A value as the cache's key tells values apart: by type and content (an int 3 is not 3.0, a list
    ["two"] not the string "two", an array by its dtype, shape and bytes)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _key(v)) for k, v in value.items()))
    return (type(value).__name__, value)


@pytest.fixture
def seen(monkeypatch):
    """Every model load and memoised model call (seqviz.ui.session's cached functions), as cache keys."""
    out = []
    real_load, real_call = session._load, session._call

    def load(arch, name, stamp):
        out.append(("load", arch, name))
        return real_load(arch, name, stamp)

    def call(arch, name, stamp, fn, args, options):
        out.append(("call", arch, name, fn, _key(args), _key(options)))
        return real_call(arch, name, stamp, fn, args, options)

    monkeypatch.setattr(session, "_load", load)
    monkeypatch.setattr(session, "_call", call)
    return out


@pytest.mark.parametrize("arch", list(archs.ARCHS))
def test_the_warm_up_makes_exactly_the_calls_of_each_pages_first_view(arch, seen):
    assert set(calls.WARM) == set(archs.ARCHS)
    calls.WARM[arch]()
    warmed = set(seen)
    seen.clear()
    at = open_page(archs.get(arch).page)
    assert not at.exception and not at.error
    page = set(seen)
    assert any(k[0] == "call" for k in page), "the page made no memoised model call"
    assert page <= warmed, f"calls the warm-up did not make: {page - warmed}"
