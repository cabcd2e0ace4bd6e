"""Home: one card per architecture (no TensorFlow is imported here)."""
import streamlit as st

from seqviz import store, ui
from seqviz.archs import ARCHS
from seqviz.errors import SeqvizError

st.title("seqviz: see inside classic Keras sequence models")
st.markdown("Each page trains a small version of a classic architecture on demand and shows what it "
            "does inside. Every page works at once with its shipped default model; train your own from "
            "the sidebar, type your own input, upload your own data.")
ui.guide("home")
ui.warmup_panel()
for arch in ARCHS.values():
    with st.container(border=True):
        st.subheader(arch.title)
        st.markdown(arch.what)
        st.caption(f"Where it comes from: {arch.source}")
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
