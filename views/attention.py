"""Attention page: the label, the class probabilities and where the attention looked, from one forward pass."""
import numpy as np
import streamlit as st

from seqviz import attention, figures, ui
from seqviz.errors import SeqvizError

st.title("Attention classifier")
st.markdown("A BiLSTM reads the sentence; an attention layer scores every word, softmaxes the scores over "
            "the real (unpadded) words and sums the BiLSTM states with those weights; a dense layer "
            "classifies the sum. The layer returns its weights as a second model output, so **one** "
            "`predict` gives both the label and what the model looked at. The generated training "
            "sentences hide one or two *cue words* (e.g. *concert*, *pizza*) among filler words, and "
            "sometimes a negated cue of another class (*no pizza*) that the model must ignore.")

bundle = ui.model_sidebar("attention", data_help="CSV with columns text,label (UTF-8, ≤ 5 MB, ≥ 2 labels).")
if bundle is None:
    st.info("No model in the store yet: train one from the sidebar.")
    st.stop()


def _random_example():
    seed = int(np.random.default_rng().integers(1 << 30))
    st.session_state["attention:text"] = attention.make_toy(1, seed=seed).texts[0]


text = ui.text_input("Text to classify", key="attention:text", default=attention.EXAMPLE)
st.button("Generate a random example", on_click=_random_example,
          disabled=bundle.data.get("source") != "generated", help="a sentence from the toy generator")
try:
    r = ui.predict(bundle, text)
except SeqvizError as e:
    ui.error(e)
    st.stop()

labels = list(r["probs"])
probs = np.array(list(r["probs"].values()))
ticks = [t + " (?)" if unk else t for t, unk in zip(r["tokens"], r["unknown"])]
n_unknown, n_words = sum(r["unknown"]), len(r["tokens"])
if 2 * n_unknown > n_words:   # most of the sentence is invisible to the model: say so before the verdict
    st.warning(f"{n_unknown} of {n_words} words are unknown to this model; the prediction rests on "
               f"{n_words - n_unknown}.")
st.subheader(f"Predicted: {ui.md(r['label'])} ({r['probs'][r['label']]:.1%})")
if n_unknown:
    unknown = sorted({t for t, u in zip(r["tokens"], r["unknown"]) if u})
    st.caption("Marked (?) and shown grey: not in the model's vocabulary, read as <unk>: "
               + ui.md(", ".join(unknown)))

left, right = st.columns([1, 2])
left.plotly_chart(figures.bars(labels, probs, title="Class probabilities", highlight=int(probs.argmax()),
                               horizontal=True, max_bars=20), width="stretch")
att = np.array(r["attention"])
right.plotly_chart(figures.heatmap(att[None, :], ticks, ["attention"], colorscale="Reds", zmin=0, zmax=1,
                                   title="Words coloured by attention weight (fixed scale 0 to 1)",
                                   value_name="weight", x_title="word", y_title="", colorbar=True), width="stretch")
right.plotly_chart(figures.bars(ticks, att, title="Attention weight per word (sums to 1)", value_name="weight",
                                highlight=int(att.argmax()), muted=r["unknown"],
                                value_range=(0, max(0.05, float(att.max()) * 1.1))),
                   width="stretch")
ui.download_result(r, bundle)
ui.model_details(bundle)
