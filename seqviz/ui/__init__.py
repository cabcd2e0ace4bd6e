"""Streamlit helpers shared by the pages (the only package of seqviz that imports Streamlit), one module per
concern; every page reads them as `ui.X`:

  session   Streamlit's per-run Keras cleanup turned off; the cached model loader and `predict`; the thread
            pool that runs predictions in the background (`background`, `predict_async`)
  url       page state in the URL: `query_value`, `query_number`, `share`, `text_input`
  widgets   display helpers: `md`, `error`, `table`, `wide_chart`, `knob`
  sidebar   the sidebar frame: `model_sidebar` (picker, "Compare with", Train), `train_panel`, `comparison`
  jobs      a training job's live panel, and the other runs on this server
  details   `model_details`, `replay_view`, `keras_code`, `download_result`, `guide` (the page's guide)
  calls     each page's model calls and its first view's values, declared once: the page calls them, and
            its `warm_<arch>` (the warm-up's WARM table) calls them the same way
  warmup    `warm_up` (once per server, in the background) and the home page's `warmup_panel`
  why       `why_section`: a page's folded "Why?" (seqviz.explain's methods beside the model's own weights);
            `heldout_agreement`: the explanations' agreement over the held-out set
  heldout   `heldout_section`: a page's folded "Held-out set" (seqviz.evaluate: metrics, confusion, slices,
            every example, the map)
  states    `states_section`: a page's folded "Inside the LSTM" (seqviz.states: h, c, gates; LSTMVis' span)
  batch     `batch_section`: a page's folded "Score a file of inputs" (seqviz.batch: predict --data's rows)
"""
from seqviz.ui import calls  # noqa: F401  (ui.calls: each page's model calls and its warm-up)
from seqviz.ui.details import (download_result, export_zip, guide, keras_code, model_details, replay_view,
                                try_this)
from seqviz.ui.jobs import job_status
from seqviz.ui.session import background, call, load_model, predict, predict_async, predict_or_stop, submit
from seqviz.ui.sidebar import NO_COMPARE, compared, comparison, model_sidebar, require, train_panel
from seqviz.ui.url import MAX_URL_TEXT, bind, open_view, query_number, query_value, share, text_input
from seqviz.ui.warmup import WARMUP, warm_up, warmup_panel
from seqviz.ui.widgets import POLL_SECONDS, error, knob, md, table, wide_chart
from seqviz.ui.batch import batch_section
from seqviz.ui.heldout import heldout_section
from seqviz.ui.states import states_section
from seqviz.ui.why import heldout_agreement, why_section

__all__ = ["MAX_URL_TEXT", "NO_COMPARE", "POLL_SECONDS", "WARMUP", "background", "batch_section", "bind", "call",
           "compared", "comparison", "download_result", "error", "export_zip", "guide", "heldout_agreement",
           "heldout_section", "job_status", "keras_code", "knob", "load_model", "md", "model_details",
           "model_sidebar", "open_view", "predict", "predict_async", "predict_or_stop", "query_number",
           "query_value", "replay_view", "require", "share", "states_section", "submit", "table", "text_input",
           "train_panel", "try_this", "warm_up", "warmup_panel", "why_section", "wide_chart"]
