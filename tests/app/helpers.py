"""Helpers of the AppTest page tests (the fixtures are in conftest.py)."""
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_page(page: str, **query) -> AppTest:
    """Run `page` (a path from the repository root) once, as opened with the URL query `query`."""
    at = AppTest.from_file(page, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def trained_store(tmp_path_factory, archs: list[str], train) -> Path:
    """A temp store holding the shipped models of `archs` and whatever `train()` trains into it."""
    path = tmp_path_factory.mktemp("store") / "models"
    for arch in archs:
        shutil.copytree(ROOT / "models" / arch, path / arch)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQVIZ_MODELS", str(path))
        train()
    return path
