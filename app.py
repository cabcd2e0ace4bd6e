"""seqviz: `streamlit run app.py`. Streamlit serves this ASGI app: every browser session runs router.py (the
pages), and the server's lifespan starts the warm-up as the server starts, so a page opened later finds its
model loaded and traced even when nobody visited before it (SEQVIZ_WARMUP=0: off; seqviz.ui.warmup)."""
import sys
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
    # Every session's script shares one interpreter: a thread that computes for long (a model loaded, a graph
    # traced, a held-out set scored) holds the GIL 5 ms at a time, and another session's rerun waits that long at
    # each of its ~50 messages. At 1 ms, 30 typing sessions beside such a thread: p95 0.34 s -> 0.21 s.
    sys.setswitchinterval(0.001)
    warm_up()        # a background thread: the server answers at once
    yield


app = App("router.py", lifespan=lifespan)
