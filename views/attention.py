"""Attention page: the label, the class probabilities and where the attention looked, from one forward pass."""
import numpy as np
import streamlit as st

from seqviz import attention, explain, figures, ui
from seqviz.errors import SeqvizError


def header() -> None:
    st.title("Attention classifier")
    st.markdown("A BiLSTM reads the sentence; an attention layer scores every word, softmaxes the scores over "
                "the real (unpadded) words and sums the BiLSTM states with those weights; a dense layer "
                "classifies the sum. The layer returns its weights as a second model output, so **one** "
                "`predict` gives both the label and what the model looked at. The generated training "
                "sentences hide one or two *cue words* (e.g. *concert*, *pizza*) among filler words, and "
                "sometimes a negated cue of another class (*no pizza*) that the model must ignore.")
    ui.guide("attention")
    ui.try_this("attention")


def ticks_of(r: dict) -> list[str]:
    """The words as the figures label them: an unknown word marked (?)."""
    return [t + " (?)" if unk else t for t, unk in zip(r["tokens"], r["unknown"])]


def attention_bars(r: dict, title: str = "Attention weight per word (sums to 1)"):
    """One epoch of a replay (the sidebar's live figure and the replay view), on a fixed 0-1 scale so epochs compare."""
    att = np.array(r["attention"])
    return figures.bars(ticks_of(r), att, title=title, value_name="weight", highlight=int(att.argmax()),
                        muted=r["unknown"], value_range=(0, 1))


def sidebar():
    """The model picker, "Compare with" and the Train form; the chosen model (None: none in the store)."""
    return ui.model_sidebar("attention", data_help="CSV with columns text,label (UTF-8, ≤ 200 MB, ≥ 2 labels).",
                            compare=True, probe=lambda: {"text": st.session_state.get("attention:text")},
                            frame=lambda snap: attention_bars(snap, f"Attention ({snap['label']})"))


def _random_example():
    seed = int(np.random.default_rng().integers(1 << 30))
    st.session_state["attention:text"] = attention.make_toy(1, seed=seed).texts[0]


def input_section(bundle) -> str:
    """The text box (and a random sentence from the toy generator): the text to classify."""
    text = ui.text_input("Text to classify", key="attention:text", default=attention.EXAMPLE)
    st.button("Generate a random example", on_click=_random_example,
              disabled=bundle.data.get("source") != "generated", help="a sentence from the toy generator")
    return text


def figures_section(r: dict) -> None:
    """The verdict, the class probabilities and the attention over the words."""
    labels = list(r["probs"])
    probs = np.array(list(r["probs"].values()))
    ticks = ticks_of(r)
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
    with right:     # a cell per word that holds its number: on a phone the strip scrolls sideways, not squeezes
        ui.wide_chart(figures.heatmap(att[None, :], ticks, ["attention"], colorscale="Reds", zmin=0, zmax=1,
                                      title="Words coloured by attention weight (fixed scale 0 to 1)",
                                      value_name="weight", x_title="word", y_title="", colorbar=True),
                      key="attention:strip", min_width=110 + (32 if len(ticks) <= 24 else 14) * len(ticks))
    right.plotly_chart(figures.bars(ticks, att, title="Attention weight per word (sums to 1)", value_name="weight",
                                    highlight=int(att.argmax()), muted=r["unknown"],
                                    value_range=(0, max(0.05, float(att.max()) * 1.1))),
                       width="stretch")


def why_section(bundle, text: str, r: dict) -> None:
    """Why this label? Each explanation method's importance per word beside the attention, how far each agrees
    with it and with the true cue words, and (on request) whether attention explains over the held-out set."""
    ui.why_section(bundle, text, key="attention", ticks=ticks_of(r), targets=list(r["probs"]), predicted=r["label"],
                   title="Why this label? Explanations beside the attention, and does the attention explain?",
                   shown={"attention": np.array(r["attention"])},
                   truth=lambda target: attention.cue_truth(bundle, r["tokens"], target or r["label"]),
                   more=lambda ex, target: heldout_panel(bundle), heldout=False)


def heldout_panel(bundle) -> None:
    """Jain & Wallace's question over the held-out set, for this model and the compared one."""
    st.markdown("**Is attention an explanation here?** Over 300 held-out sentences: does shuffling the weights "
                "change the output (Jain & Wallace 2019), do uniform weights do as well (Wiegreffe & Pinter 2019), "
                "and how much of each explanation lands on the true cue words.")
    if not st.toggle("Test it (a few seconds per model)", key="attention:why-heldout"):
        return
    models = [bundle] + [b for b in [ui.compared(bundle)] if b is not None]
    figures_of = {}
    for b in models:
        try:
            figures_of[b.name] = ui.call(b, "explain.heldout", 300)
        except SeqvizError as e:
            ui.error(e)
    if not figures_of:
        return
    rows = []
    for name, h in figures_of.items():
        f, m = h["faithfulness"], h["methods"]
        rows.append({"model": name, "accuracy": f["accuracy"], "with uniform weights": f["uniform_accuracy"],
                     "output change when shuffled (median)": f["permutation_tvd"],
                     "labels flipped by a shuffle": f["permutation_flips"],
                     "attention on the cue words": m["attention"]["plausibility"],
                     **{f"τ({explain.METHODS[k]}, attention)": m[k]["tau"] for k in ("ig", "occlusion")},
                     **{f"{explain.METHODS[k]} on the cue words": m[k]["plausibility"] for k in ("ig", "occlusion")}})
    ui.table([{k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in rows])
    lines = []
    for name, h in figures_of.items():
        f, m = h["faithfulness"], h["methods"]
        moves = f["permutation_tvd"] >= 0.05 or f["uniform_accuracy"] < f["accuracy"] - 0.05
        lines.append(f"**{ui.md(name)}**: " + (
            "shuffling or flattening its weights changes what it says, so its attention is part of the decision"
            if moves else "its output barely changes when the weights are shuffled or made uniform: the BiLSTM "
            "states already carry the class, so the weights say little about why")
            + f"; attention puts {m['attention']['plausibility']:.0%} of its mass on the cue words, leave-one-out "
            f"{m['occlusion']['plausibility']:.0%} of its importance.")
    st.markdown("  \n".join(lines))
    st.caption("Output change: half the summed absolute difference of the class probabilities (0 = none, 1 = "
               "all), the median over sentences of the median over 20 shuffles of the weights among the words.")


def compare_section(bundle, text: str, r: dict) -> dict | None:
    """The sidebar's "Compare with" model on the same text: both attentions, their difference, both labels'
    probabilities. Returns the comparison ({"a", "b", "diff"}), or None when nothing is compared."""
    compared = ui.comparison(bundle, text)
    if compared is None:
        return None
    other, both = compared
    rb, d = both["b"], both["diff"]
    a_name, b_name = bundle.name, other.name
    ticks = ticks_of(r)
    st.subheader(f"Compared with {ui.md(b_name)}")
    ca, cb = st.columns(2)
    for col, name, res in ((ca, a_name, r), (cb, b_name, rb)):
        col.markdown(f"**{ui.md(name)}** ({ui.md(res['label'])}, {res['probs'][res['label']]:.1%}; "
                     f"score: {ui.md(ui.load_model('attention', name).params['score'])})")
        col.plotly_chart(figures.bars(ticks, res["attention"], title=f"Attention of {name}", value_name="weight",
                                      highlight=int(np.argmax(res["attention"])), muted=res["unknown"],
                                      value_range=(0, 1)), width="stretch", key=f"attention:compare:{name}")
    st.plotly_chart(figures.difference(ticks, r["attention"], rb["attention"], names=(a_name, b_name),
                                       title=f"Attention {a_name} − {b_name}: which model puts more mass where",
                                       value_name="weight difference"), width="stretch")
    st.caption(f"{d['mass_moved']:.0%} of the attention mass sits on different words in the two models "
               "(half the summed absolute difference: 0% = the same weights, 100% = no overlap). "
               + ("Same label." if d["same_label"] else "**Different labels.**"))
    scores = {bundle.params["score"], other.params["score"]}
    if scores == {"additive", "seed"}:
        st.info("The **seed** score is the Stack Overflow user's own layer: tanh(x·w + b) bounds every score to "
                "[-1, 1], so no word can get more than e² ≈ 7.4 times the weight of another. In a sentence of ten "
                "words the cue word gets at most about half the mass, however sure the model is; the **additive** "
                "score (a hidden layer and a context vector) is unbounded and can put nearly all of it on the cue "
                "(shipped defaults, held out: 0.16 of the mass on the cue words against 0.99).")
    labels = d["labels"]
    if labels["only_a"] or labels["only_b"]:
        st.info(ui.md(f"The two models have different label sets: only in {a_name}: "
                      f"{', '.join(labels['only_a']) or 'none'}; only in {b_name}: "
                      f"{', '.join(labels['only_b']) or 'none'}. The probabilities below compare the shared labels."))
    if labels["shared"]:
        st.plotly_chart(figures.grouped_bars(labels["shared"], {a_name: [r["probs"][k] for k in labels["shared"]],
                                                                b_name: [rb["probs"][k] for k in labels["shared"]]},
                                             title="Class probabilities of the two models (shared labels)"),
                        width="stretch")
    return both


header()
bundle = ui.require(sidebar())
text = input_section(bundle)
ui.batch_section(bundle, "attention")
r = ui.predict_or_stop(bundle, text)
figures_section(r)
why_section(bundle, text, r)
ui.states_section(bundle, text, "attention")
ui.heldout_section(bundle, "attention")
both = compare_section(bundle, text, r)
ui.download_result(r if both is None else both, bundle, "result" if both is None else "comparison")
ui.replay_view(bundle, lambda snap: attention_bars(snap))
ui.model_details(bundle)
