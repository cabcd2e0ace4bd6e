"""Seq2seq page: the four decoder modes side by side on one input, with beams, alignments and what-ifs."""
import numpy as np
import streamlit as st

from seqviz import explain, figures, seq2seq, ui
from seqviz.errors import SeqvizError
from seqviz.ui import calls


def header() -> None:
    st.title("Seq2seq: four ways to decode")
    st.markdown("One encoder-decoder, four ways to feed its decoder. **basic**: the encoder's last state, repeated "
                "at every step; the decoder never sees what it wrote. **feedback**: the decoder reads its own "
                "previous word. **peek**: feedback plus the encoder's last state at every step. **attention**: "
                "feedback, and at every step the decoder looks back over *all* encoder states (the alignment "
                "below). Long inputs are where they differ: one vector holds only so much.")
    ui.guide("seq2seq")
    ui.try_this("seq2seq")


def _shown(token: str) -> str:
    """A token as a widget shows it: a space (a char-level model's) as ␣."""
    return "␣" if token == " " else token


def decode_frame(r: dict):
    """One greedy decode as a figure, from one epoch of a replay: the alignment in attention mode, else each
    step's top tokens."""
    chosen = [_shown(t) for t in r["output"] + [seq2seq.END]][:len(r["steps"])]
    verdict = {True: " (right)", False: " (wrong)", None: ""}[r["correct"]]
    if r["attention"] is not None:
        att = np.array(r["attention"])
        return figures.heatmap(att, [_shown(t) for t in r["source"]], chosen[:len(att)], colorscale="Reds", zmin=0,
                               zmax=1, title=f"Alignment of the decode {r['text']!r}{verdict}", x_title="input",
                               y_title="output", value_name="weight")
    return figures.topk_steps([[_shown(t) for t in step] for step in r["steps"]], [list(step.values()) for step in
                                                                                  r["steps"]], chosen,
                              title=f"Greedy decode {r['text']!r}{verdict}: top tokens per step")


def _clamp(key: str, most: int) -> None:
    """A step picker keeps its value across inputs; a shorter output must not leave it out of range."""
    if st.session_state.get(key, 1) > most:
        st.session_state[key] = most


def _inside(mode: str, r: dict, params: dict, beam: int) -> None:
    """One decoder's beams, beam tree, per-step top-k, alignment and exposure-bias table."""
    sep = seq2seq.joiner(params)
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
        st.plotly_chart(figures.bars([_shown(t) for t in top], list(top.values()), highlight=list(top).index(chosen)
                                     if chosen in top else None,
                                     title=f"Step {step}: top {len(top)} next tokens (chosen: {_shown(chosen)})"),
                        width="stretch", key=f"topk:{mode}")
    if r["attention"] is not None:
        att = np.array(r["attention"])
        st.plotly_chart(figures.heatmap(att, [_shown(t) for t in r["source"]],
                                        [_shown(t) for t in (r["output"] + [seq2seq.END])[:len(att)]],
                                        title="Attention alignment: each output token (row) over the input "
                                              "tokens (columns); rows sum to 1",
                                        colorscale="Reds", zmin=0, zmax=1, x_title="input",
                                        y_title="output", value_name="weight"),
                        width="stretch", key=f"att:{mode}")
    st.markdown("**Exposure bias**: the same input decoded *teacher-forced* (each step is given the gold "
                "previous token) and *free-running* (each step reads its own previous output).")
    view = seq2seq.exposure(r)
    if view is None:
        st.caption("It needs the expected output: pick a held-out pair above, or type the expected output.")
        return
    ui.table(view["columns"])
    st.caption(view["says"] + " ✗: not the gold token.")


GRADIENT_METHODS = ("ig", "grad", "occlusion")


def gradient_section(mode: str, bundle, r: dict, text: str, beam: int) -> None:
    """Which input tokens each output token rests on (seqviz.explain, any mode): the gradient alignment beside
    the attention's, with their agreement per step. Folded away: computed only while open."""
    box = st.expander("Which input tokens each output token rests on: the gradient alignment",
                      key=f"seq2seq:grad-open:{mode}", on_change="rerun")
    if not box.open:
        return
    with box:
        method = st.radio("Importance by", GRADIENT_METHODS, format_func=explain.METHODS.get, horizontal=True,
                          key=f"seq2seq:grad-method:{mode}")
        try:
            g = ui.call(bundle, "gradient_alignment", text, beam, method)
        except SeqvizError as e:
            ui.error(e)
            return
        steps = [f"{i + 1}. {_shown(t)}" for i, t in enumerate(g["output"])]
        src = [_shown(t) for t in g["source"]]
        ui.wide_chart(figures.importance_rows(src, dict(zip(steps, g["alignment"])), x_title="input",
                                              y_title="output step",
                                              title=f"{explain.METHODS[method]}: what each output token rests on"),
                      key=f"seq2seq:grad:{mode}", min_width=max(360, 160 + 40 * len(src)))
        st.caption("A row per output step: the importance of each input token for P(that step's token | the "
                   "decode's earlier tokens), scaled to the row's largest (red for, blue against).")
        if g["tau"] is None:
            st.caption("This decoder has no attention: the gradient alignment is the only alignment there is. Each "
                       "row explains one output token's probability given the decode's earlier tokens.")
        else:
            agree = np.array(g["attention"]).argmax(1) == np.array(g["alignment"]).argmax(1)
            ui.table({"step": steps, "τ with the attention": [round(t, 2) for t in g["tau"]],
                      "same top input token": ["✓" if a else "✗" for a in agree]})
            st.caption(f"Kendall's τ between the two alignments per step (+1 the same ranking of the input tokens, "
                       f"0 unrelated): median {np.median(g['tau']):.2f}; the top input token is the same at "
                       f"{agree.sum()} of {len(agree)} steps. Attention says where the decoder looked; the gradient, "
                       "what its output depended on.")
        ui.heldout_agreement(bundle, f"seq2seq:{mode}", unit="input token")


def sidebar() -> None:
    with st.sidebar:
        st.header("Seq2seq: four decoders")
        st.caption("Train a model of any task and mode (the knobs), or on your own pairs (a CSV); it joins the "
                   "pickers below when done.")
        ui.train_panel("seq2seq", upload_types=("csv",),
                       data_help="A CSV with columns source,target (UTF-8, header), one pair per row, e.g. "
                                 "12+345,357. Set tokens = char to read every character (spaces too) as a token, word "
                                 "to split on spaces; sources and targets of at most 'longest input' tokens.",
                       probe=lambda: {"text": st.session_state.get("seq2seq:text"),
                                      "expected": st.session_state.get("seq2seq:expected") or ""},
                       frame=decode_frame)


def _on_task_change(groups: seq2seq.TaskGroups):
    key = st.session_state["seq2seq:task"]
    held = groups.examples(key)
    st.session_state["seq2seq:text"] = (seq2seq.EXAMPLES[key] if key in seq2seq.TASK_TITLES
                                        else (held[0][0] if held else ""))


def _on_example():
    st.session_state["seq2seq:text"] = st.session_state["seq2seq:example"]


def controls_section(groups: seq2seq.TaskGroups, done: str | None) -> tuple[str, list[str], int]:
    """The task (its generated task, or a file of pairs), the modes to show and the beam width:
    (task, modes in their fixed order, beam). A model just trained here switches to its task."""
    tasks = groups.tasks
    if "seq2seq:task" not in st.session_state and "task" not in st.query_params:   # a link naming a model: its task
        named = [st.query_params.get(f"model_{m}") for m in seq2seq.MODES]
        st.session_state["seq2seq:task"] = next((groups.group_of(n) for n in named if n in groups.configs),
                                                calls.SEQ2SEQ_TASK)
    if done in groups.configs and groups.group_of(done) != ui.query_value("seq2seq:task", "task", calls.SEQ2SEQ_TASK):
        st.session_state["seq2seq:task"] = groups.group_of(done)
        _on_task_change(groups)
    c1, c2, c3 = st.columns([1, 2, 1])
    if ui.query_value("seq2seq:task", "task", calls.SEQ2SEQ_TASK) not in tasks:
        st.session_state["seq2seq:task"] = calls.SEQ2SEQ_TASK
    task = c1.selectbox("Task", tasks, key="seq2seq:task", on_change=_on_task_change, args=(groups,),
                        format_func=groups.label)
    ui.share("task", task)
    ui.bind("seq2seq:modes", "modes")
    if "seq2seq:modes" not in st.session_state:  # seeded once from the URL, like every other widget
        asked = [m for m in st.query_params.get("modes", ",".join(seq2seq.MODES)).split(",") if m in seq2seq.MODES]
        st.session_state["seq2seq:modes"] = asked or list(seq2seq.MODES)
    chosen = c2.multiselect("Modes", seq2seq.MODES, key="seq2seq:modes")
    ui.share("modes", ",".join(chosen))
    ui.query_number("seq2seq:beam", "beam", calls.SEQ2SEQ_BEAM, 1, 20)
    beam = c3.slider("Beam width", 1, 20, key="seq2seq:beam", help="1 = greedy")
    ui.share("beam", beam)
    return task, [m for m in seq2seq.MODES if m in chosen], beam   # always shown in the same order, simplest first


def input_section(groups: seq2seq.TaskGroups, task: str) -> tuple[str, str | None]:
    """The input, and for a file's task its expected output (a held-out pair picks both): (text, expected;
    None for a generated task, which knows its own)."""
    if task in seq2seq.TASK_TITLES:
        return ui.text_input("Input (digits like 4 7 1, or one word for Pig Latin)", key="seq2seq:text",
                             default=seq2seq.EXAMPLES[task], height=68), None
    examples = dict(map(tuple, groups.examples(task)))
    if st.session_state.get("seq2seq:example") not in examples:
        st.session_state.pop("seq2seq:example", None)
    st.selectbox("A held-out pair (never trained on)", list(examples), key="seq2seq:example", index=None,
                 placeholder="pick one to decode it", on_change=_on_example)
    i1, i2 = st.columns(2)
    with i1:
        text = ui.text_input("Input (a source like your pairs')", key="seq2seq:text",
                             default=next(iter(examples), ""), height=68)
    if st.session_state.get("seq2seq:text-was", text) != text:   # a new input: its own expected output, if known
        st.session_state["seq2seq:expected"] = examples.get(text.strip(), "")
    st.session_state["seq2seq:text-was"] = text
    with i2:
        expected = ui.text_input("Expected output (optional: marks the decode right or wrong)", query="expected",
                                 key="seq2seq:expected", default=examples.get(text.strip(), ""), height=68)
    return text, expected


def models_section(groups: seq2seq.TaskGroups, task: str, modes: list[str], done: str | None) -> dict:
    """Each mode's model pickers' choices, {mode: names} (the shipped default or the newest trained model of
    the task first; a model just trained here picked), and a line on the modes that have none yet."""
    mine = task not in seq2seq.TASK_TITLES
    pickers, missing = {}, []
    for mode in modes:
        names = groups.models(task, mode)
        key = f"seq2seq:model:{mode}"
        if done in names:
            st.session_state[key] = done
        if not names:
            missing.append(mode)
            continue
        if ui.query_value(key, f"model_{mode}", names[0]) not in names:   # seeded from the URL once
            st.session_state[key] = names[0]
        pickers[mode] = names
    if missing and mine:
        st.info(ui.md(f"No model of {groups.label(task)} in mode {', '.join(missing)} yet: train one from the "
                      f"sidebar on the same file (mode = {missing[0]})."))
    elif missing:
        st.info(ui.md(f"No {task} model in mode {', '.join(missing)} yet: train one from the sidebar "
                      f"(task = {task}, mode = {missing[0]})."))
    return pickers


def decodes_section(pickers: dict, text: str, beam: int, expected: str | None) -> dict:
    """A column per mode: its model picker and its decode (the modes decode side by side, each in its own
    thread); a bad input is reported once. Returns {mode: (model, result)} of the decodes that ran."""
    loaded, results, errors = {}, {}, {}
    cols = st.columns(len(pickers)) if pickers else []
    for col, (mode, names) in zip(cols, pickers.items()):
        name = col.selectbox(f"{mode} model", names, key=f"seq2seq:model:{mode}")
        ui.share(f"model_{mode}", name)
        try:
            loaded[mode] = ui.load_model("seq2seq", name)
        except SeqvizError as e:
            errors[mode] = str(e)
    decodes = {mode: calls.seq2seq_decode(bundle, text, beam, expected) for mode, bundle in loaded.items()}
    for mode, future in decodes.items():
        try:
            results[mode] = (loaded[mode], future.result())
        except SeqvizError as e:
            errors[mode] = str(e)
    for message in dict.fromkeys(errors.values()):   # the same bad input is reported once, not per mode
        st.error(ui.md(message))
    column = dict(zip(pickers, cols))
    for mode, (bundle, r) in results.items():
        with column[mode]:
            st.subheader(mode)
            sep = seq2seq.joiner(bundle.params)
            mark = {True: "✅ ", False: "❌ ", None: ""}[r["correct"]]
            st.markdown(mark + f"**{ui.md(r['text'] or '(empty)')}**")
            if r["correct"] is False:
                st.caption(ui.md(f"expected: {sep.join(r['gold'])}"))
            if any(r["unknown"]):
                st.caption(ui.md("not among the training sources' tokens (read as unknown): " +
                                 ", ".join(repr(t) for t, u in zip(r["source"], r["unknown"]) if u)))
            st.caption(f"log-prob {r['beams'][0]['logprob']:.3f} · {len(r['beams'])} beams below")
    return results


def inside_section(results: dict, text: str, beam: int, expected: str | None) -> None:
    """A tab per decoder, only the open one built (its figures and its pinned re-decode): a rerun costs one
    mode's, not four. In it: the what-if pin, the decoder's figures, the download, replay and details."""
    st.subheader("Inside each decoder")
    if ui.query_value("seq2seq:inspect", "inspect", next(iter(results))) not in results:
        st.session_state["seq2seq:inspect"] = next(iter(results))
    tabs = st.tabs(list(results), key="seq2seq:inspect", on_change="rerun")
    ui.share("inspect", st.session_state["seq2seq:inspect"])
    for tab, (mode, (bundle, r)) in zip(tabs, results.items()):
        if tab.open:
            with tab:
                _tab(mode, bundle, r, text, beam, expected)


def _tab(mode: str, bundle, r: dict, text: str, beam: int, expected: str | None) -> None:
    views = st.container()    # filled below, while the pinned re-decode runs in its thread
    st.markdown("**What if**: pin the token at one step and let the decoder continue from there.")
    targets = calls.seq2seq_pin_tokens(bundle)
    p1, p2 = st.columns(2)
    ui.query_number(f"seq2seq:pin_at:{mode}", "pin_at", calls.SEQ2SEQ_PIN_AT, 1, 99)
    _clamp(f"seq2seq:pin_at:{mode}", len(r["output"]) + 1)
    at = p1.number_input("Pin at step", 1, max(1, len(r["output"]) + 1), key=f"seq2seq:pin_at:{mode}")
    preset = calls.seq2seq_pin_default(r, at, targets)                # the step's second choice
    tok_key = f"seq2seq:pin_tok:{mode}"
    if ui.query_value(tok_key, "pin", preset) not in targets:          # seeded from the URL once
        st.session_state[tok_key] = preset
    if st.session_state.get(f"{tok_key}:at", at) != at:               # another step: its second choice
        st.session_state[tok_key] = preset
    st.session_state[f"{tok_key}:at"] = at
    token = p2.selectbox("Token", targets, key=tok_key, help="pre-set to the decoder's second choice there",
                         format_func=_shown)
    ui.share("pin_at", at)
    ui.share("pin", token)
    pinning = calls.seq2seq_pinned(bundle, text, beam, r, at, token, expected)
    pinned_line = st.empty()
    ui.download_result(r, bundle)
    ui.replay_view(bundle, decode_frame)
    ui.model_details(bundle)
    with views:
        _inside(mode, r, bundle.params, beam)
        gradient_section(mode, bundle, r, text, beam)
        ui.states_section(bundle, text, f"seq2seq:{mode}")
        ui.batch_section(bundle, f"seq2seq:{mode}", {"beam": beam})
        ui.heldout_section(bundle, f"seq2seq:{mode}", lambda text, ex: {"text": text, "expected": ex["gold"]})
    try:
        pinned = pinning.result()
    except SeqvizError as e:
        with pinned_line:
            ui.error(e)
        return
    b0 = pinned["beams"][0]
    pinned_line.markdown(ui.md(f"pinned decode: {pinned['text'] or '(empty)'}") +
                         f" · log-prob {b0['logprob']:.3f} (unpinned best {r['beams'][0]['logprob']:.3f})")


def accuracy_section(groups: seq2seq.TaskGroups, task: str) -> None:
    mine = task not in seq2seq.TASK_TITLES
    st.subheader(f"Held-out accuracy of every model of {groups.label(task)}" if mine else
                 f"Held-out accuracy of every {task} model")
    st.caption("Free-running greedy decodes of pairs never seen in training" +
               (": the rows of your file held out from training (their sources not among the training ones)."
                if mine else ", at a short and at the longest training length (@ n = input tokens)."))
    ui.table(groups.accuracy(task))


header()
sidebar()
groups = seq2seq.group_by_task()
done = st.session_state.pop("seq2seq:model:select", None)   # a model just trained here: pick it (and its task)
task, modes, beam = controls_section(groups, done)
text, expected = input_section(groups, task)
if not modes:
    st.info("Choose at least one mode.")
    st.stop()
pickers = models_section(groups, task, modes, done)
results = decodes_section(pickers, text, beam, expected)
if not results:
    st.stop()
inside_section(results, text, beam, expected)
accuracy_section(groups, task)
