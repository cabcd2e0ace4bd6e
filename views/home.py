"""Home: one card per architecture (no TensorFlow is imported here)."""
from pathlib import Path

import streamlit as st

from seqviz import guides, store, ui
from seqviz.archs import ARCHS
from seqviz.errors import SeqvizError

ROOT = Path(__file__).resolve().parent.parent

st.title("seqviz: see inside classic Keras sequence models")
st.markdown("Each page trains a small version of a classic architecture on demand and shows what it "
            "does inside. Every page works at once with its shipped default model; train your own from "
            "the sidebar, type your own input, upload your own data.")
ui.guide("home")
ui.warmup_panel()
CARDS = ROOT / "docs" / "screenshots" / "cards"       # a small picture of each page's main figure
for arch in ARCHS.values():
    with st.container(border=True):
        picture, words = st.columns([1, 2])
        if (CARDS / f"{arch.id}.png").is_file():
            picture.image(str(CARDS / f"{arch.id}.png"), width="stretch")
        words.subheader(arch.title)
        words.markdown(arch.what)
        words.caption(f"Where it comes from: {arch.source}")
        tries = guides.tries(arch.id)
        if tries:
            words.markdown(f"**Try this** on the page ({len(tries)} one-click views), e.g. *{ui.md(tries[0].label)}*.")
        try:
            metrics = store.read_json(arch.id, arch.default)
        except SeqvizError as e:
            st.warning(str(e))
            metrics = {}
        if metrics is None:
            st.warning("No default model in the store: train one from the page's sidebar.")
        else:
            cols = st.columns(len(arch.headline))
            for col, (key, label) in zip(cols, arch.headline.items()):
                value = metrics.get(key)
                col.metric(label, "—" if value is None else f"{value:.3g}" if isinstance(value, float) else value)
        st.page_link(arch.page, label=f"Open {arch.title} →")
