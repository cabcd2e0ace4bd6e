"""Seq2seq page: the four decoder modes side by side on one input, with beams, alignments and what-ifs."""
import numpy as np
import streamlit as st

from seqviz import figures, seq2seq, store, ui
from seqviz.errors import SeqvizError

st.title("Seq2seq: four ways to decode")
st.markdown("One encoder-decoder, four ways to feed its decoder. **basic**: the encoder's last state, repeated "
            "at every step; the decoder never sees what it wrote. **feedback**: the decoder reads its own "
            "previous word. **peek**: feedback plus the encoder's last state at every step. **attention**: "
            "feedback, and at every step the decoder looks back over *all* encoder states (the alignment "
            "below). Long inputs are where they differ: one vector holds only so much.")
with st.sidebar:
    st.header("Seq2seq: four decoders")
    st.caption("Train a model of any task and mode (the knobs); it joins the pickers below when done.")
    ui.train_panel("seq2seq", upload_types=None)


def _configs() -> dict[str, dict]:
    """Every seq2seq store entry's training parameters (shipped defaults first); damaged entries left out."""
    out = {}
    for name in store.list_models("seq2seq"):
        try:
            out[name] = (store.read_json("seq2seq", name, "config") or {}).get("params", {})
        except SeqvizError:
            continue
    return out


def _pad(tokens: list, n: int) -> list:
    return list(tokens) + [""] * (n - len(tokens))


def _clamp(key: str, most: int) -> None:
    """A step picker keeps its value across inputs; a shorter output must not leave it out of range."""
    if st.session_state.get(key, 1) > most:
        st.session_state[key] = most


def _on_task_change():
    st.session_state["seq2seq:text"] = seq2seq.EXAMPLES[st.session_state["seq2seq:task"]]


def _inside(mode: str, r: dict, task: str, beam: int) -> None:
    """One decoder's beams, beam tree, per-step top-k, alignment and exposure-bias table."""
    sep = seq2seq.joiner(task)
    ui.table({"beam": [sep.join(b["tokens"]) or "(empty)" for b in r["beams"]],
              "log-prob": [round(b["logprob"], 3) for b in r["beams"]],
              "finished": [b["finished"] for b in r["beams"]]})
    left, right = st.columns(2)
    left.plotly_chart(figures.beam_tree([(b["tokens"] + ([seq2seq.END] if b["finished"] else []),
                                          b["step_logprobs"]) for b in r["beams"]],
                                        title=f"{mode}: beam tree (width {beam}), best beam in red"),
                      width="stretch", key=f"tree:{mode}")
    with right:
        n_steps = len(r["steps"])
        ui.query_number(f"seq2seq:step:{mode}", "step", 1, 1, 99)     # the open tab's view is in the URL
        _clamp(f"seq2seq:step:{mode}", n_steps)
        step = st.slider("Output step", 1, n_steps, key=f"seq2seq:step:{mode}") if n_steps > 1 else 1
        ui.share("step", step)
        top = r["steps"][step - 1]
        chosen = (r["output"] + [seq2seq.END])[step - 1]
        st.plotly_chart(figures.bars(list(top), list(top.values()), highlight=list(top).index(chosen)
                                     if chosen in top else None,
                                     title=f"Step {step}: top {len(top)} next tokens (chosen: {chosen})"),
                        width="stretch", key=f"topk:{mode}")
    if r["attention"] is not None:
        att = np.array(r["attention"])
        st.plotly_chart(figures.heatmap(att, r["source"], (r["output"] + [seq2seq.END])[:len(att)],
                                        title="Attention alignment: each output token (row) over the input "
                                              "tokens (columns); rows sum to 1",
                                        colorscale="Reds", zmin=0, zmax=1, x_title="input",
                                        y_title="output", value_name="weight"),
                        width="stretch", key=f"att:{mode}")
    st.markdown("**Exposure bias**: the same input decoded *teacher-forced* (each step is given the gold "
                "previous token) and *free-running* (each step reads its own previous output).")
    n = max(len(r["teacher_forced"]), len(r["free_running"]), len(r["gold"]) + 1)
    forced, free = _pad(r["teacher_forced"], n), _pad(r["free_running"], n)
    split = next((i for i in range(n) if forced[i] != free[i]), None)
    ui.table({"step": list(range(1, n + 1)), "gold": _pad(r["gold"] + [seq2seq.END], n),
              "teacher-forced": forced, "free-running": free,
              "": ["◀ first divergence" if i == split else "" for i in range(n)]})
    st.caption("The two agree at every step." if split is None else
               f"They part at step {split + 1}: from there the free-running decoder reads its own earlier "
               "outputs, which teacher forcing never showed it.")


c1, c2, c3 = st.columns([1, 2, 1])
if ui.query_value("seq2seq:task", "task", "digits") not in seq2seq.TASKS:
    st.session_state["seq2seq:task"] = "digits"
task = c1.selectbox("Task", seq2seq.TASKS, key="seq2seq:task", on_change=_on_task_change,
                    format_func={"digits": "digits → words", "sort": "sort digits", "piglatin": "Pig Latin"}.get)
ui.share("task", task)
if "seq2seq:modes" not in st.session_state:  # seeded once from the URL, like every other widget
    asked = [m for m in st.query_params.get("modes", ",".join(seq2seq.MODES)).split(",") if m in seq2seq.MODES]
    st.session_state["seq2seq:modes"] = asked or list(seq2seq.MODES)
chosen = c2.multiselect("Modes", seq2seq.MODES, key="seq2seq:modes")
ui.share("modes", ",".join(chosen))
modes = [m for m in seq2seq.MODES if m in chosen]   # always shown in the same order, simplest first
ui.query_number("seq2seq:beam", "beam", 3, 1, 20)
beam = c3.slider("Beam width", 1, 20, key="seq2seq:beam", help="1 = greedy")
ui.share("beam", beam)
text = ui.text_input("Input (digits like 4 7 1, or one word for Pig Latin)", key="seq2seq:text",
                     default=seq2seq.EXAMPLES[task], height=68)
if not modes:
    st.info("Choose at least one mode.")
    st.stop()

# one model per mode: the shipped default (or the newest trained one) of this task, or the user's pick
bundles, missing = {}, []
done = st.session_state.pop("seq2seq:model:select", None)   # a model just trained here: pick it
configs = _configs()
for mode in modes:
    names = [name for name, p in configs.items() if p.get("task") == task and p.get("mode") == mode]
    key = f"seq2seq:model:{mode}"
    if done in names:
        st.session_state[key] = done
    if not names:
        missing.append(mode)
        continue
    if ui.query_value(key, f"model_{mode}", names[0]) not in names:   # seeded from the URL once
        st.session_state[key] = names[0]
    bundles[mode] = names
if missing:
    st.info(ui.md(f"No {task} model in mode {', '.join(missing)} yet: train one from the sidebar "
                  f"(task = {task}, mode = {missing[0]})."))

loaded, results, errors = {}, {}, {}
cols = st.columns(len(bundles)) if bundles else []
for col, (mode, names) in zip(cols, bundles.items()):
    name = col.selectbox(f"{mode} model", names, key=f"seq2seq:model:{mode}")
    ui.share(f"model_{mode}", name)
    try:
        loaded[mode] = ui.load_model("seq2seq", name)
    except SeqvizError as e:
        errors[mode] = str(e)
# the four decoders run side by side, each in its own thread
decodes = {mode: ui.predict_async(bundle, text, beam=beam) for mode, bundle in loaded.items()}
for mode, future in decodes.items():
    try:
        results[mode] = (loaded[mode], future.result())
    except SeqvizError as e:
        errors[mode] = str(e)
for message in dict.fromkeys(errors.values()):   # the same bad input is reported once, not per mode
    st.error(ui.md(message))
column = dict(zip(bundles, cols))
for mode, (_, r) in results.items():
    with column[mode]:
        st.subheader(mode)
        sep = seq2seq.joiner(task)
        st.markdown(("✅ " if r["correct"] else "❌ ") + f"**{ui.md(sep.join(r['output']) or '(empty)')}**")
        if not r["correct"]:
            st.caption(ui.md(f"expected: {sep.join(r['gold'])}"))
        st.caption(f"log-prob {r['beams'][0]['logprob']:.3f} · {len(r['beams'])} beams below")
if not results:
    st.stop()

st.subheader("Inside each decoder")
# Only the open tab is built (its figures and its pinned re-decode): a rerun costs one mode's, not four.
if ui.query_value("seq2seq:inspect", "inspect", next(iter(results))) not in results:
    st.session_state["seq2seq:inspect"] = next(iter(results))
tabs = st.tabs(list(results), key="seq2seq:inspect", on_change="rerun")
ui.share("inspect", st.session_state["seq2seq:inspect"])
for tab, (mode, (bundle, r)) in zip(tabs, results.items()):
    if not tab.open:
        continue
    with tab:
        views = st.container()    # filled below, while the pinned re-decode runs in its thread
        st.markdown("**What if**: pin the token at one step and let the decoder continue from there.")
        targets = [t for t in bundle.vocabs["target"].tokens if t not in ("<pad>", "<unk>", seq2seq.START)]
        p1, p2 = st.columns(2)
        ui.query_number(f"seq2seq:pin_at:{mode}", "pin_at", 1, 1, 99)
        _clamp(f"seq2seq:pin_at:{mode}", len(r["output"]) + 1)
        at = p1.number_input("Pin at step", 1, max(1, len(r["output"]) + 1), key=f"seq2seq:pin_at:{mode}")
        runner_up = list(r["steps"][min(at, len(r["steps"])) - 1])[1]     # the step's second choice
        tok_key = f"seq2seq:pin_tok:{mode}"
        if ui.query_value(tok_key, "pin", runner_up) not in targets:    # seeded from the URL once
            st.session_state[tok_key] = runner_up if runner_up in targets else targets[0]
        if st.session_state.get(f"{tok_key}:at", at) != at:               # another step: its second choice
            st.session_state[tok_key] = runner_up if runner_up in targets else targets[0]
        st.session_state[f"{tok_key}:at"] = at
        token = p2.selectbox("Token", targets, key=tok_key, help="pre-set to the decoder's second choice there")
        ui.share("pin_at", at)
        ui.share("pin", token)
        pinning = ui.predict_async(bundle, text, beam=beam, prefix=" ".join(r["output"][:at - 1] + [token]),
                                   exposure=False)
        pinned_line = st.empty()
        ui.download_result(r, bundle)
        ui.model_details(bundle)
        with views:
            _inside(mode, r, task, beam)
        try:
            pinned = pinning.result()
        except SeqvizError as e:
            with pinned_line:
                ui.error(e)
            continue
        b0 = pinned["beams"][0]
        sep = seq2seq.joiner(task)      # joined like the main output
        pinned_line.markdown(ui.md(f"pinned decode: {sep.join(pinned['output']) or '(empty)'}") +
                             f" · log-prob {b0['logprob']:.3f} (unpinned best {r['beams'][0]['logprob']:.3f})")

st.subheader(f"Held-out accuracy of every {task} model")
rows = []
for name in [name for name, p in configs.items() if p.get("task") == task]:
    try:
        m = store.read_json("seq2seq", name)
    except SeqvizError:
        continue
    if not m:
        continue
    rows.append({"model": name, "mode": configs[name]["mode"], "depth": configs[name].get("depth"),
                 "exact (all)": m.get("val_exact"),
                 f"exact @ {m.get('len_short')}": m.get("exact_short"),
                 f"token acc @ {m.get('len_short')}": m.get("token_accuracy_short"),
                 f"exact @ {m.get('len_long')}": m.get("exact_long"),
                 f"token acc @ {m.get('len_long')}": m.get("token_accuracy_long"),
                 "train s": m.get("train_seconds")})
st.caption("Free-running greedy decodes of inputs never seen in training, at a short and at the longest "
           "training length (@ n = input tokens).")
ui.table(rows)
