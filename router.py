"""The router every session runs (app.py serves it): one page per architecture plus the home page."""
import streamlit as st

from seqviz import ui
from seqviz.archs import ARCHS

st.set_page_config(page_title="seqviz", layout="wide")
ui.warm_up()   # once per server (app.py's lifespan starts it first; this covers `streamlit run router.py`)
pages = [st.Page("views/home.py", title="Home", icon=":material/home:", default=True)]
pages += [st.Page(a.page, title=a.title, url_path=a.id) for a in ARCHS.values()]
st.navigation(pages).run()
