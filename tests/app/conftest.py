"""Every AppTest runs from the repository root (pages resolve paths from the working directory) against
the committed model store, and must leave that store untouched."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _store_snapshot():
    return sorted((str(p.relative_to(ROOT)), p.stat().st_mtime_ns) for p in (ROOT / "models").rglob("*"))


@pytest.fixture(autouse=True)
def repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SEQVIZ_MODELS", raising=False)
    before = _store_snapshot()
    yield ROOT
    assert _store_snapshot() == before, "a page test wrote into the repo's models/ store"


@pytest.fixture
def downloads(monkeypatch):
    """Every st.download_button call of a run: label -> its `data` (bytes, a string or a deferred callable)."""
    import streamlit
    seen = {}
    real = streamlit.download_button

    def spy(label, data, *args, **kwargs):
        seen[label] = data
        return real(label, data, *args, **kwargs)
    monkeypatch.setattr(streamlit, "download_button", spy)
    return seen
