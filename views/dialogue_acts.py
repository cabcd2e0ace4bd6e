"""Dialogue-acts page: the CRF's Viterbi path through the tag lattice, its transitions and marginals,
where it overrules the per-utterance guess, and what pinning an utterance to another tag costs."""
import numpy as np
import pandas as pd
import streamlit as st

from seqviz import crf, dialogue_acts, figures, ui

OVERRULED = "background-color: #ffe3b3; color: #1a1a1a"     # a table row where the two tag sources disagree


def header() -> None:
    st.title("Dialogue acts: a hierarchical BiLSTM-CRF")
    st.markdown("Each utterance is read word by word by a BiLSTM and pooled into a vector; a second BiLSTM "
                "reads the sequence of utterance vectors; a dense layer gives every utterance an **emission "
                "score** per tag, and a CRF (tf2crf) adds a **transition score** for every pair of consecutive "
                "tags. The tags are the best path through the lattice (Viterbi), not each utterance's own best "
                "guess. Short replies like *yeah*, *okay*, *right* are a yes-answer after a yes/no question and a "
                "backchannel after a statement: context decides.")
    ui.guide("dialogue-acts")
    ui.try_this("dialogue-acts")


def steps_of(r: dict, width: int) -> list[str]:
    """The utterances as the lattice's and the tables' ticks: numbered, cut to `width` characters."""
    return [f"{i + 1}. {u[:width]}{'…' if len(u) > width else ''}" for i, u in enumerate(r["utterances"])]


def greedy_of(r: dict) -> list[int]:
    """Each utterance's own best tag (the argmax of its emissions), as tag indices."""
    return [r["labels"].index(t) for t in r["greedy_tags"]]


def lattice(r: dict, title: str = "Viterbi path (red) and per-utterance argmax (dashed)"):
    """The lattice coloured by marginals, from a prediction or one epoch of a replay."""
    best = dialogue_acts.viterbi_of(r)
    return figures.crf_lattice(np.array(r["emissions"]), np.array(r["transitions"]), np.array(r["marginals"]),
                               best.cumulative, best.backpointers, r["labels"], steps_of(r, 12), best.path,
                               greedy_of(r), color="marginal", title=title)


def _probe() -> dict:
    """The replay's probe when Train is pressed: the dialogue in the box, cut to the replay's length."""
    lines = [ln for ln in st.session_state.get("dialogue-acts:text", "").splitlines() if ln.strip()]
    return {"text": "\n".join(lines[:dialogue_acts.PROBE_UTTERANCES])}


def sidebar():
    """The model picker, "Compare with" and the Train form; the chosen model (None: none in the store)."""
    return ui.model_sidebar("dialogue-acts", data_help="CSV with columns conversation_id, utterance, act "
                            "(optional: speaker; split = train, val or test per conversation, to train on train and "
                            "report on test), one row per utterance in dialogue order; UTF-8, ≤ 200 MB. With it, "
                            "optionally, word vectors to start the embeddings from.",
                            compare=True, files={"vectors": ("Word vectors (optional, with your CSV): `word v1 … vD` "
                                                             "per line, GloVe text format", ("txt", "vec"))},
                            probe=_probe, frame=lambda snap: lattice(snap))


def input_section() -> str:
    return ui.text_input("Dialogue: one utterance per line, optional 'A:' / 'B:' speaker", key="dialogue-acts:text",
                         default=dialogue_acts.EXAMPLE, height=260)


def tags_section(r: dict) -> None:
    """Every utterance's CRF tag beside its own best guess, the rows where the CRF overrules it highlighted."""
    marg, path = np.array(r["marginals"]), r["path"]
    if r["unknown_utterances"]:
        st.warning("No known words in utterance(s) " + ", ".join(str(i + 1) for i in r["unknown_utterances"])
                   + ": the model reads them as <unk>, so only the context tags them.")
    overruled = [i for i, (a, b) in enumerate(zip(path, greedy_of(r))) if a != b]
    st.subheader(f"{len(r['utterances'])} utterances · the CRF overrules the per-utterance guess on "
                 f"{len(overruled)}")
    table = pd.DataFrame({"speaker": r["speakers"], "utterance": r["utterances"], "CRF (Viterbi) tag": r["tags"],
                          "per-utterance argmax": r["greedy_tags"],
                          "P(CRF tag)": [marg[i, k] for i, k in enumerate(path)]},
                         index=pd.RangeIndex(1, len(path) + 1, name="#"))
    st.dataframe(table.style.format({"P(CRF tag)": "{:.3f}"}).apply(
        lambda row: [OVERRULED if row.name - 1 in overruled else ""] * len(row), axis=1), width="stretch")
    st.caption("Highlighted: rows where the CRF's path disagrees with the utterance's own highest emission.")


COLOURS = {"emission": "emission score", "marginal": "marginal probability"}   # URL value -> choice


def lattice_section(r: dict) -> None:
    """The Viterbi lattice (nodes coloured by emission or marginal), the transitions and the marginals."""
    em, tr, marg, labels = np.array(r["emissions"]), np.array(r["transitions"]), np.array(r["marginals"]), r["labels"]
    best, steps = dialogue_acts.viterbi_of(r), steps_of(r, 18)
    if ui.query_value("dialogue-acts:color", "colour", "emission") in COLOURS:          # seeded from the URL once
        st.session_state["dialogue-acts:color"] = COLOURS[st.session_state["dialogue-acts:color"]]
    elif st.session_state["dialogue-acts:color"] not in COLOURS.values():
        st.session_state["dialogue-acts:color"] = COLOURS["emission"]
    color = st.radio("Node colour", list(COLOURS.values()), horizontal=True, key="dialogue-acts:color")
    ui.share("colour", "emission" if color == "emission score" else "marginal")
    ui.wide_chart(figures.crf_lattice(em, tr, marg, best.cumulative, best.backpointers, labels, steps, best.path,
                                      greedy_of(r), color="emission" if color == "emission score" else "marginal",
                                      title=f"Viterbi lattice (path score {best.score:.2f})"),
                  key="dialogue-acts:lattice", min_width=240 + 55 * len(steps))
    # full width, one under the other, each cell wide enough for its number (a phone scrolls them sideways)
    ui.wide_chart(figures.heatmap(tr, labels, labels, title="CRF transitions (row → column)", colorscale="RdBu",
                                  zmin=-np.abs(tr).max(), zmax=np.abs(tr).max(), x_title="to", y_title="from",
                                  value_name="score", digits=1),
                  key="dialogue-acts:transitions", min_width=180 + 48 * len(labels))
    ui.wide_chart(figures.heatmap(marg, labels, steps, title="Marginals P(tag | dialogue)", zmin=0, zmax=1,
                                  x_title="tag", y_title="utterance", value_name="P"),
                  key="dialogue-acts:marginals", min_width=260 + 48 * len(labels))


def what_if_section(r: dict) -> None:
    """Pin one utterance to a tag (pre-set: the least certain utterance's runner-up) and see the best path
    that goes through it: what the pin costs and which other tags it changes."""
    em, tr, marg, labels = np.array(r["emissions"]), np.array(r["transitions"]), np.array(r["marginals"]), r["labels"]
    best, steps = dialogue_acts.viterbi_of(r), steps_of(r, 18)
    st.subheader("What if: pin an utterance to another tag")
    # Start on the least certain utterance, pinned to its runner-up tag: the most interesting question.
    unsure = int(np.argmin(marg.max(1)))
    utt, tag, seen = "dialogue-acts:pin-utt", "dialogue-acts:pin-tag", "dialogue-acts:pin-for"
    if st.session_state.get(seen) != (tuple(steps), tuple(labels)):   # first run or a new dialogue: pick the pin
        i, t = unsure, int(np.argsort(marg[unsure])[-2])
        asked = st.query_params.get("pin", "") if seen not in st.session_state else ""   # a shared link's pin, once
        u_s, _, t_s = asked.partition(":")
        if u_s.isascii() and u_s.isdigit() and 1 <= int(u_s) <= len(steps) and t_s in labels:
            i, t = int(u_s) - 1, labels.index(t_s)
        st.session_state[utt], st.session_state[tag], st.session_state[seen] = i, t, (tuple(steps), tuple(labels))
        st.session_state[f"{utt}:was"], st.session_state[f"{tag}:was"] = i, t
    elif utt not in st.session_state or tag not in st.session_state:   # back from another page: Streamlit forgot
        st.session_state[utt] = st.session_state[f"{utt}:was"]        # the widgets' values; the pin is kept
        st.session_state[tag] = st.session_state[f"{tag}:was"]
    if st.session_state[utt] != st.session_state[f"{utt}:was"]:       # another utterance: its runner-up tag
        st.session_state[tag] = int(np.argsort(marg[st.session_state[utt]])[-2])
        st.session_state[f"{utt}:was"] = st.session_state[utt]
    c1, c2 = st.columns(2)
    i = c1.selectbox("Utterance", range(len(steps)), key=utt, format_func=lambda j: steps[j])
    t = c2.selectbox("Tag", range(len(labels)), key=tag, format_func=lambda j: labels[j])
    st.session_state[f"{tag}:was"] = t
    ui.share("pin", f"{i + 1}:{labels[t]}")
    pinned = crf.constrained_viterbi(em, tr, {i: t})
    changed = [j for j, (a, b) in enumerate(zip(best.path, pinned.path)) if a != b]
    st.markdown(f"Pinned path score **{pinned.score:.2f}** vs best **{best.score:.2f}**: the pin costs "
                f"**{best.score - pinned.score:.2f}** (probability ratio e^-{best.score - pinned.score:.2f} = "
                f"{np.exp(pinned.score - best.score):.2g}); tags that change: "
                + (", ".join(f"{j + 1} ({ui.md(labels[best.path[j]])} → {ui.md(labels[pinned.path[j]])})"
                             for j in changed) or "none"))
    ui.wide_chart(figures.crf_lattice(em, tr, marg, pinned.cumulative, pinned.backpointers, labels, steps,
                                      best.path, None, pinned.path, color="marginal",
                                      title="Best path (red) and the pinned path (orange)"),
                  key="dialogue-acts:pinned-lattice", min_width=240 + 55 * len(steps))


def why_section(bundle, text: str, r: dict) -> None:
    """Why this tag? For a chosen utterance's tag: its words' importance (seqviz.explain), and what each other
    utterance contributes (its words read as <unk>: the tag's log-odds drop)."""
    n = len(r["tags"])
    over = [i for i, (a, b) in enumerate(zip(r["tags"], r["greedy_tags"])) if a != b]
    first = over[0] if over else n - 1

    def label(k: str) -> str:
        i = int(k.split(":")[0]) - 1
        return f"utterance {i + 1}: {r['utterances'][i][:40]} → {r['tags'][i]}"

    def context(ex: dict, target) -> None:
        c = ui.call(bundle, "context_importance", text, target)
        u = c["utterance"]
        st.plotly_chart(figures.bars([f"{i + 1}. {t[:24]}" for i, t in enumerate(r["utterances"])], c["drop"],
                                     title=f"The context behind utterance {u + 1}'s tag", value_name="drop in log-odds",
                                     highlight=u, value_range=None), width="stretch", key="dialogue-acts:why-ctx")
        st.caption(f"P(utterance {u + 1} = {c['tag']}) = {c['marginal']:.4f}, log-odds {c['log_odds']:.2f}. Each "
                   "bar: how much less sure the CRF is of that tag when one utterance's words are all read as <unk> "
                   "(the utterance itself included, in red): the context the dialogue BiLSTM and the transitions "
                   "used.")

    ui.why_section(bundle, text, key="dialogue-acts", ticks=None, targets=[str(i + 1) for i in range(n)],
                   predicted=f"utterance {first + 1}: {r['utterances'][first][:40]} → {r['tags'][first]}",
                   label=label, more=context,
                   title="Why this tag? The words of an utterance and its neighbours behind the CRF's choice")


def compare_section(bundle, text: str, r: dict) -> dict | None:
    """The sidebar's "Compare with" model on the same dialogue: both tag columns, and both paths on one
    lattice where the tag sets match. Returns the comparison ({"a", "b", "diff"}), or None."""
    compared = ui.comparison(bundle, text)
    if compared is None:
        return None
    other, both = compared
    rb, d = both["b"], both["diff"]
    a_name, b_name = bundle.name, other.name
    labels, steps = r["labels"], steps_of(r, 18)
    st.subheader(f"Compared with {ui.md(b_name)}: {len(d['differs'])} of {len(steps)} tags differ")
    heads = {a_name: bundle.params["head"], b_name: other.params["head"]}
    st.caption(ui.md(" · ".join(f"{n}: {h} head, {m.params['pooling']} pooling, held-out tag accuracy "
                                f"{m.metrics.get('val_accuracy', float('nan')):.3f}"
                                for n, h, m in ((a_name, heads[a_name], bundle), (b_name, heads[b_name], other)))))
    side = pd.DataFrame({"utterance": r["utterances"], a_name: r["tags"], b_name: rb["tags"],
                         "same": ["✓" if i not in d["differs"] else "✗" for i in range(len(steps))]},
                        index=pd.RangeIndex(1, len(steps) + 1, name="#"))
    st.dataframe(side.style.apply(lambda row: [OVERRULED if row.name - 1 in d["differs"] else ""] * len(row),
                                  axis=1), width="stretch")
    if set(heads.values()) == {"crf", "softmax"}:
        st.info("A **softmax** head is this network with the CRF's transitions fixed at zero: each utterance is "
                "tagged by its own emissions alone, which the dialogue-level BiLSTM has already made context-aware. "
                "Rows that differ are where the CRF's transitions (what usually follows what) change the decision. "
                "Trained as the shipped default, both reach 100% on held-out generated dialogues: there the BiLSTM "
                "carries the context (the CRF-trained network leaves more of it to the transitions: its own "
                "per-utterance argmax gets 85%). With less to learn from (the Quick preset: 150 dialogues, 2 "
                "epochs) the CRF is ahead: 70% and 63% against 56% and 47% (seeds 0 and 1).")
    if rb["labels"] == labels:   # one lattice: model a's scores, both paths
        best = dialogue_acts.viterbi_of(r)
        ui.wide_chart(figures.crf_lattice(np.array(r["emissions"]), np.array(r["transitions"]),
                                          np.array(r["marginals"]), best.cumulative, best.backpointers, labels, steps,
                                          best.path, None, rb["path"], color="marginal", alt_name=f"{b_name} path",
                                          title=f"{a_name}'s lattice with both paths: {a_name} (red), "
                                                f"{b_name} (orange)"),
                      key="dialogue-acts:compare-lattice", min_width=240 + 55 * len(steps))
    else:
        only = d["labels"]
        st.info(ui.md(f"The two models have different tag sets (only in {a_name}: "
                      f"{', '.join(only['only_a']) or 'none'}; only in {b_name}: "
                      f"{', '.join(only['only_b']) or 'none'}), so their paths are not drawn on one lattice; the "
                      "table compares the tags."))
    return both


header()
bundle = ui.require(sidebar())
text = input_section()
ui.batch_section(bundle, "dialogue-acts")
r = ui.predict_or_stop(bundle, text)
tags_section(r)
lattice_section(r)
what_if_section(r)
why_section(bundle, text, r)
ui.states_section(bundle, text, "dialogue-acts")
ui.heldout_section(bundle, "dialogue-acts")
both = compare_section(bundle, text, r)
ui.download_result(r if both is None else both, bundle, "result" if both is None else "comparison")
ui.replay_view(bundle, lattice)
ui.model_details(bundle)
