"""Helpers of the AppTest page tests (the fixtures are in conftest.py)."""
from streamlit.testing.v1 import AppTest


def open_page(page: str, **query) -> AppTest:
    """Run `page` (a path from the repository root) once, as opened with the URL query `query`."""
    at = AppTest.from_file(page, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()
