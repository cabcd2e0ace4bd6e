"""Page state in the URL's query string: widgets seeded from it once and mirrored back, so a link restores
the view."""
from __future__ import annotations

import re

import streamlit as st

MAX_URL_TEXT = 2000
BOUND = "_url:bound"     # session state: URL query key -> the widget state seeded from it (this page's, last run)


def bind(key: str, query: str) -> None:
    """Note that widget state `key` is seeded from the URL's `query` (`open_view` re-seeds it)."""
    st.session_state.setdefault(BOUND, {})[query] = key


def open_view(query: dict) -> None:
    """What opening the page with `query` in its URL would show, without a reload (a button's on_click): the
    URL gets `query`, and each widget seeded from one of its keys forgets its value, so the next run seeds it
    from the URL again, through the same checks as a link."""
    bound = st.session_state.get(BOUND, {})
    for q, v in query.items():
        st.query_params[q] = str(v)
        if q in bound:
            st.session_state.pop(bound[q], None)


def query_value(key: str, query: str, default: str) -> str:
    """Seed the widget state `key` from the URL's `query` once; the widget then writes back with `share`."""
    bind(key, query)
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(query, default)
    return st.session_state[key]


def query_number(key: str, query: str, default, lo, hi):
    """Seed the widget state `key` from a number in the URL once: ASCII digits only (Python's int() takes
    '²' for a digit and then fails), an int or a decimal like `default`, clipped to [lo, hi]; anything else
    gives `default`. The widget then mirrors itself back with `share`."""
    bind(key, query)
    if key not in st.session_state:
        raw = st.query_params.get(query, "")
        pattern = r"-?[0-9]{1,9}" if isinstance(default, int) else r"-?[0-9]{1,9}(\.[0-9]{1,9})?"
        st.session_state[key] = (min(hi, max(lo, type(default)(raw))) if re.fullmatch(pattern, raw)
                                 else default)
    return st.session_state[key]


def share(key: str, value) -> None:
    """Mirror a value into the URL so the view can be shared."""
    if st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)


def text_input(label: str, key: str, default: str, query: str = "text", height: int = 100) -> str:
    """A text area pre-filled from the URL (or `default`), mirrored back into the URL."""
    query_value(key, query, default)
    text = st.text_area(label, key=key, height=height)
    if len(text) <= MAX_URL_TEXT:  # longer texts would make a link too long to open
        share(query, text)
    elif query in st.query_params:
        del st.query_params[query]
    return text
