"""Small display helpers every page and panel uses: escaping user text for markdown, an error line, a table,
a chart that scrolls sideways on a phone, a training knob's widget."""
from __future__ import annotations

import re

import streamlit as st

from seqviz.params import Param

POLL_SECONDS = 1.5   # how often a polling fragment (a job's progress, the warm-up's line) redraws


def md(text) -> str:
    """Escape a user-controlled string (a label, a name, a file's cell) for Streamlit's markdown."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|~$:" else c for c in str(text))


def error(e: Exception) -> None:
    st.error(md(e))


def table(data: dict | list[dict], container=None) -> None:
    """A read-only table of columns (a dict of lists) or rows (a list of dicts), full width, no index. It
    goes to the browser as Arrow directly: Streamlit's detour through pandas costs ~0.7 ms a table."""
    import pyarrow as pa
    t = pa.Table.from_pylist(data) if isinstance(data, list) else pa.table(data)
    # every row shown up to ~15 (Streamlit's default height cuts at ~10 and scrolls), then a scrolling box
    (container or st).dataframe(t, hide_index=True, width="stretch", height=min(38 + 35 * t.num_rows, 560))


def wide_chart(fig, key: str, min_width: int) -> None:
    """A full-width chart that never gets narrower than `min_width` px: on a phone it scrolls sideways inside
    its box instead of squeezing a lattice's nodes or a grid's cells on top of each other. (The CSS is ours,
    never user text.)"""
    box = re.sub(r"[^A-Za-z0-9_-]", "-", f"scroll-{key}")
    with st.container(key=box):
        st.html(f"<style>.st-key-{box} {{overflow-x: auto}} "
                f".st-key-{box} [data-testid='stElementContainer'] {{min-width: {int(min_width)}px}}</style>")
        st.plotly_chart(fig, width="stretch", key=key)


def knob(p: Param, key: str):
    """The widget for one training knob: a select box for choices, a checkbox for flags, else a number
    input bounded by the Param's range."""
    label = p.title
    # the value lives in session_state (seeded with the default once): a preset can set it without the
    # widget also being given a default, which Streamlit would warn about
    st.session_state.setdefault(key, float(p.default) if isinstance(p.default, float) else p.default)
    if p.choices:
        return st.selectbox(label, p.choices, key=key, help=p.help)
    if isinstance(p.default, bool):
        return st.checkbox(label, key=key, help=p.help)
    if isinstance(p.default, int):
        return st.number_input(label, int(p.lo), int(p.hi), step=1, key=key, help=p.help)
    return st.number_input(label, float(p.lo), float(p.hi), key=key, help=p.help,
                           step=float(p.default) / 5 or 0.05, format="%g")
