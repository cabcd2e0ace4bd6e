"""Language-model page: generation with temperature and top-k, the next-word distribution, and the race:
the same config trained with the sampled and with the full softmax, live, side by side."""
import streamlit as st

from seqviz import figures, lm, training, ui
from seqviz.errors import SeqvizError


def header() -> None:
    st.title("Language model: sampled vs full softmax")
    st.markdown("An LSTM reads text word by word and predicts the next word over a vocabulary of *V* words. "
                "The output layer is one matrix **W** (*V* × *H*, a row per word) and a bias **b**. Training "
                "with the **sampled softmax** (`tf.nn.sampled_softmax_loss`) scores the true next word against "
                "a few hundred sampled words, so each step touches only their rows of **W**; the **full "
                "softmax** scores all *V* words every step. Evaluation and generation always use the full "
                "softmax over the same **W** and **b**: one set of weights, no copy. The default model read "
                "the docstrings of Python's standard library.")
    ui.guide("lm")
    ui.try_this("lm")


def next_word_frame(r: dict):
    """The next-word distribution after the prompt, from a prediction or one epoch of a replay."""
    words, probs = list(r["next_word"]), list(r["next_word"].values())
    return figures.bars(words, probs, title=f"Next word after {' '.join(r['prompt'])[-40:]!r} (top {len(words)}); "
                                            f"greedy: {r['continuation'][:40]!r}",
                        horizontal=True, muted=[w in lm.SPECIALS for w in words], value_range=(0, max(probs) * 1.15))


def draw_race(jobs: dict, key: str, cancellable: bool) -> None:
    """Each side's progress, and the race's figures from their traces so far (live, or as saved)."""
    traces = lm.race_traces(jobs, key)
    for side, job in jobs.items():
        t = traces[side]
        if job.waiting:
            text = "waiting for the other run to finish"
        elif t is None or not t.steps:
            text = job.phase if job.running else job.status
        else:
            text = (f"epoch {len(t.epochs)}/{job.total_epochs} · {t.clock:.1f} s training · "
                    f"{lm.median_step(t):.4f} s per step" + (f" · {job.phase}" if job.cancelling else ""))
        st.progress(min(1.0, job.progress), text=f"**{side} softmax** (`{job.plan.name}`): {job.status} · {text}")
        if job.status == "failed":
            ui.error(SeqvizError(f"The {side} run failed: {job.error}"))
    if cancellable and any(j.running for j in jobs.values()):
        if st.button("Cancel the race", key="lm:race-cancel"):
            for j in jobs.values():
                j.cancel()
    live = {side: t for side, t in traces.items() if t is not None and t.steps}
    if not live:
        return

    summary = lm.race_summary(live)
    cols = st.columns(4)
    if "speedup" in summary:
        cols[0].metric("seconds per step, full ÷ sampled", f"{summary['speedup']:.1f}×")
    for col, side in zip(cols[1:3], ("sampled", "full")):
        if side in summary["val_perplexity"]:
            col.metric(f"validation perplexity, {side}", f"{summary['val_perplexity'][side]:.1f}")
    cols[3].metric("unigram perplexity (baseline)", f"{summary['unigram_perplexity']:.1f}")
    if "ppl_ratio" in summary:
        n = summary["epochs"]
        st.caption(f"After {n} epoch(s) the sampled-trained model's full-softmax validation perplexity is "
                   f"{summary['ppl_ratio'] - 1:+.1%} against the full-trained model's "
                   f"({live['sampled'].epochs[n - 1]['val_perplexity']:.1f} vs "
                   f"{live['full'].epochs[n - 1]['val_perplexity']:.1f}).")

    style = {"sampled": "#636efa", "full": "#ef553b"}  # Plotly's first two colours: the bar chart's too
    series, styles = {}, {}
    for side, t in live.items():
        mon = [s for s in t.steps if "full_loss" in s]
        series[f"{side}: full-softmax loss (fixed sample)"] = ([s["t"] for s in mon], [s["full_loss"] for s in mon])
        styles[f"{side}: full-softmax loss (fixed sample)"] = {"mode": "lines+markers", "line": {"color": style[side]}}
        series[f"{side}: its training loss"] = ([s["t"] for s in t.steps], [s["loss"] for s in t.steps])
        styles[f"{side}: its training loss"] = {"line": {"color": style[side], "width": 1}, "opacity": 0.35}
    left, right = st.columns(2)
    left.plotly_chart(figures.lines(series, "Loss against the training clock", "training seconds", "loss (nats)",
                                    styles=styles), width="stretch")
    steps = {side: (list(range(1, len(t.steps) + 1)), [s["step_s"] for s in t.steps]) for side, t in live.items()}
    right.plotly_chart(figures.lines(steps, "Seconds per training step (the first one builds the graph)", "step",
                                     "seconds", log_y=True, styles={s: {"line": {"color": style[s]}} for s in style}),
                       width="stretch")

    left, right = st.columns(2)
    epochs = max(len(t.epochs) for t in live.values())
    if epochs:  # per epoch: both sides (NaN where a side has not got there yet) and the unigram baseline
        ppl = {side: [e["val_perplexity"] for e in t.epochs] + [float("nan")] * (epochs - len(t.epochs))
               for side, t in sorted(live.items(), key=lambda kv: kv[0] != "sampled")}  # sampled first
        ppl["unigram baseline"] = [summary["unigram_perplexity"]] * epochs
        left.plotly_chart(figures.grouped_bars([f"epoch {i + 1}" for i in range(epochs)], ppl,
                                               title="Validation perplexity after each epoch (full softmax)",
                                               value_name="perplexity", value_range=None), width="stretch")
    if "sampled" in live:
        mon = [s for s in live["sampled"].steps if "full_loss" in s]
        gap = {"sampled loss − full-softmax loss": ([s["t"] for s in mon],
                                                    [s["sampled_loss"] - s["full_loss"] for s in mon])}
        right.plotly_chart(figures.lines(gap, "Sampled loss minus the true loss (same words, same weights)",
                                         "training seconds", "nats",
                                         styles={k: {"mode": "lines+markers", "line": {"color": style["sampled"]}}
                                                 for k in gap}),
                           width="stretch")


def sidebar():
    """The model picker, "Compare with" and the Train form; the chosen model (None: none in the store)."""
    return ui.model_sidebar("lm", data_help="Plain text (.txt, UTF-8, ≤ 200 MB, at least 500 words); blank lines "
                            "separate documents.", upload_types=("txt",), compare=True,
                            probe=lambda: {"text": st.session_state.get("lm:text")}, frame=next_word_frame)


def input_section() -> tuple[str, dict]:
    """The prompt and the generation settings: (prompt, predict options)."""
    prompt = ui.text_input("Prompt", key="lm:text", default=lm.EXAMPLE, height=68)
    n_words, temperature, top_k, seed = lm.PREDICT_PARAMS
    # every control is seeded from the URL and mirrored back: a shared link restores the whole view
    ui.query_number("lm:n_words", "words", n_words.default, 1, 60)
    ui.query_number("lm:temperature", "temperature", temperature.default, 0.0, 2.0)
    ui.query_number("lm:top_k", "top_k", top_k.default, 0, int(top_k.hi))
    ui.query_number("lm:seed", "seed", seed.default, 0, int(seed.hi))
    c1, c2, c3, c4 = st.columns(4)
    options = {
        "n_words": c1.slider("words", 1, 60, key="lm:n_words", help=n_words.help),
        "temperature": c2.slider("temperature", 0.0, 2.0, step=0.05, key="lm:temperature", help=temperature.help),
        "top_k": c3.number_input("top k", 0, int(top_k.hi), key="lm:top_k", help=top_k.help),
        "seed": c4.number_input("seed", 0, int(seed.hi), key="lm:seed", help=seed.help),
    }
    for query, value in zip(("words", "temperature", "top_k", "seed"), options.values()):
        ui.share(query, value)
    return prompt, options


def figures_section(r: dict) -> None:
    """The generated text, the next-word distribution and the probability of each generated word."""
    st.markdown(f"> **{ui.md(' '.join(r['prompt']))}** {ui.md(r['continuation'])}")
    if r["unknown"]:
        st.caption("Not in the model's vocabulary (read as `<unk>`): " + ui.md(", ".join(r["unknown"])))
    left, right = st.columns(2)
    words, probs = list(r["next_word"]), list(r["next_word"].values())
    left.plotly_chart(figures.bars(words, probs, title="Next word after the prompt (full softmax, top 10)",
                                   horizontal=True, muted=[w in lm.SPECIALS for w in words],
                                   value_range=(0, max(probs) * 1.15)), width="stretch")
    right.plotly_chart(figures.bars([f"{i + 1}. {w}" for i, w in enumerate(r["tokens"])], r["token_probs"],
                                    title="Probability the model gave each generated word",
                                    value_range=(0, max(r["token_probs"]) * 1.15)), width="stretch")
    if any(w in lm.SPECIALS for w in words):
        st.caption("Grey bars: `<unk>` (any word outside the vocabulary) and `<eos>` (the end of a "
                   "document); generation never picks them.")


def compare_section(bundle, prompt: str, options: dict) -> dict | None:
    """The sidebar's "Compare with" model on the same prompt and settings: its text, both perplexities on the
    prompt, and the next word under both. Returns the comparison ({"a", "b", "diff"}), or None."""
    compared = ui.comparison(bundle, prompt, **options)
    if compared is None:
        return None
    other, both = compared
    d, a_name, b_name = both["diff"], bundle.name, other.name
    ppl = d["perplexity"]
    st.subheader(f"Compared with {ui.md(b_name)}")
    rb = both["b"]
    st.markdown(f"**{ui.md(b_name)}**: {ui.md(' '.join(rb['prompt']))} *{ui.md(rb['continuation'])}*")
    fmt = lambda v: "— (no word to score)" if v is None else f"{v:.1f}"  # noqa: E731
    ui.table({"model": [a_name, b_name],
              "held-out perplexity": [fmt(d["held_out"][s]) for s in "ab"],
              "perplexity on the prompt": [fmt(ppl[s]) for s in "ab"],
              "vocabulary (words)": [f"{d['vocabulary'][s]:,}" for s in "ab"]})
    st.caption("Perplexity: how surprised the model is by each word given the words before it (full softmax; "
               "lower = less surprised). " + " ".join(ui.md(n) for n in d["notes"]))
    words = list(d["next_word"])
    missing = [w for w in words if None in d["next_word"][w].values()]
    series = {name: [d["next_word"][w][side] or 0.0 for w in words]
              for name, side in ((a_name, "a"), (b_name, "b"))}
    top = max(max(v) for v in series.values())
    st.plotly_chart(figures.grouped_bars([w + (" (?)" if w in missing else "") for w in words], series,
                                         title="Next word after the prompt: either model's top 10, under both",
                                         value_range=(0, top * 1.15)), width="stretch")
    if missing:
        st.caption("(?) not in one model's vocabulary (drawn as 0 there): " + ui.md(", ".join(missing)))
    return both


def generate_section(bundle) -> None:
    """Generation: the prompt and settings, the text and its figures, the comparison, the download and the replay."""
    st.header("Generate")
    if bundle is None:
        st.info("No language model in the store yet: train one from the sidebar.")
        return
    prompt, options = input_section()
    ui.batch_section(bundle, "lm", options)
    try:
        r = ui.predict(bundle, prompt, **options)
    except SeqvizError as e:
        ui.error(e)
    else:
        figures_section(r)
        words = [w for w in r["next_word"] if w not in lm.SPECIALS]
        ui.why_section(bundle, prompt, key="lm", targets=words,
                       ticks=[t if t not in r["unknown"] else f"{t} (?)" for t in r["prompt"]],
                       predicted=words[0] if words else "the likeliest next word",
                       title="Why this next word? The prompt words that drive it")
        ui.states_section(bundle, prompt, "lm")
        ui.heldout_section(bundle, "lm")
        both = compare_section(bundle, prompt, options)
        ui.download_result(r if both is None else both, bundle, "result" if both is None else "comparison")
    ui.replay_view(bundle, next_word_frame)


def race_form(running: bool) -> None:
    """The race's settings and its Start button (disabled while this race runs). A start plans both runs
    (`lm.plan_race`): a race with these settings that ran already is shown instead of run again."""
    with st.form("lm:race-form"):
        cols = st.columns(4)
        values = {}
        for i, p in enumerate(lm.race_knobs()):
            with cols[i % 4]:
                values[p.name] = ui.knob(p, f"lm:race:{p.name}")
        start = st.form_submit_button("Start the race", type="primary", disabled=running)
    if not start:
        return
    try:
        race = lm.plan_race(values)
    except SeqvizError as e:
        ui.error(e)
        return
    if race.ran:   # the same race again: show the one that was run (its models are in the store)
        st.session_state.pop("lm:race", None)
        st.session_state["lm:race-flash"] = "This race was run already (same settings); here it is."
    else:
        jobs = {}
        try:                           # the two sides count as one of this session's runs
            for side, p in race.runs.items():
                jobs[side] = ui.submit(p, ticket=f"race-{race.key}")
        except SeqvizError as e:       # the queue filled between the two: no half race
            for job in jobs.values():
                job.cancel()
            ui.error(e)
            return
        st.session_state["lm:race"] = {side: job.id for side, job in jobs.items()}
        st.session_state.pop("lm:race-flash", None)
    st.session_state["lm:race-key"] = race.key
    ui.share("race", race.key)
    st.rerun()


def race_section() -> None:
    """The race: its form, then this session's race live (polled while it runs), or the race the URL names
    (its runs on this server, else its saved models)."""
    st.header("The race: sampled vs full softmax")
    st.markdown("Train the same config twice, once per softmax, and watch them live (one after the other: "
                "training runs take turns). The clock counts only the seconds inside training steps. Both runs "
                "use the same optimizer (LazyAdam) and are saved as models you can then pick in the sidebar.")
    mine = st.session_state.get("lm:race") or {}          # {side: job id} of the race this session started
    jobs = {side: training.get(i) for side, i in mine.items()}
    key = lm.race_key(ui.query_value("lm:race-key", "race", ""))
    if not mine and key:   # a reload or a shared link: the race's runs still on this server, else its saved models
        jobs = lm.race_jobs(key)
    running = any(j is not None and j.running for j in jobs.values())
    race_form(running)
    if jobs and all(j is not None for j in jobs.values()):
        if running:
            @st.fragment(run_every=ui.POLL_SECONDS)
            def live_race():
                draw_race(jobs, key, cancellable=bool(mine))
                if not any(j.running for j in jobs.values()):
                    st.rerun(scope="app")  # draw the final state outside the polling fragment

            live_race()
        else:
            draw_race(jobs, key, cancellable=False)
    elif key and any(lm.race_traces({}, key).values()):
        if st.session_state.get("lm:race-flash"):
            st.info(st.session_state["lm:race-flash"])
        st.caption(f"The race `{key}`: its two models, `{lm.race_name(key, 'sampled')}` and "
                   f"`{lm.race_name(key, 'full')}`, as they were saved.")
        draw_race({}, key, cancellable=False)
    elif mine or key:
        st.info("That race's runs are no longer known to this app and were not saved (cancelled, or the app was "
                "restarted); start a new race.")


header()
bundle = sidebar()
generate_section(bundle)
race_section()
if bundle is not None:
    ui.model_details(bundle)
