"""seqviz: `streamlit run app.py`. Streamlit serves this ASGI app: every browser session runs router.py (the
pages), and the server's lifespan starts the warm-up as the server starts, so a page opened later finds its
model loaded and traced even when nobody visited before it (SEQVIZ_WARMUP=0: off; seqviz.ui.warmup)."""
from contextlib import asynccontextmanager

from streamlit.starlette import App


@asynccontextmanager
async def lifespan(app):
    from seqviz import store
    from seqviz.errors import SeqvizError
    from seqviz.ui import warm_up
    try:
        store.expire()   # models trained more than SEQVIZ_MODEL_DAYS ago (off unless set)
    except SeqvizError as e:
        print(f"seqviz: {e}", flush=True)
    warm_up()        # a background thread: the server answers at once
    yield


app = App("router.py", lifespan=lifespan)
