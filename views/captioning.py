"""Captioning page: both heads caption a scene's image features, each head's per-step top words, the
feature vector, and what zeroing one branch's features does to each head."""
import io

import numpy as np
import pandas as pd
import streamlit as st

from seqviz import captioning, figures, ui
from seqviz.errors import SeqvizError
from seqviz.ui import calls


def header() -> None:
    st.title("Captioning: one model, two captions")
    st.markdown("Two encoder-decoder branches read the same image features (a vector like a CNN's, 4096-d in the "
                "default model): each projects them (Dropout → Dense), repeats them along its partial caption, "
                "concatenates its word embeddings and runs an LSTM; the two LSTM states are concatenated into "
                "**two softmax heads**: the next word of an English sentence and of a terse French label. The scenes "
                "are generated (one or two groups of coloured shapes), and their feature vectors are a fixed random "
                "projection of the objects plus noise, so the true captions are known. Training batches hold one "
                "row per (scene, step) for *both* captions: the two branches always get equal batch sizes, the "
                "mistake (47 samples for one branch, 4 for the other) that stopped the original Keras model.")
    ui.guide("captioning")
    ui.try_this("captioning")


def _probe() -> dict | None:
    """The replay's probe when Train is pressed: the sample or described scene on the page (an upload: the model's
    own example)."""
    source = st.session_state.get("captioning:source")
    if source == "sample":
        return {"text": f"sample {st.session_state.get('captioning:scene', 1)}"}
    return {"text": st.session_state.get("captioning:text")} if source == "describe" else None


def captions_frame(r: dict, short: bool = False):
    """Both heads' greedy captions, word by word with their probabilities, from one epoch of a replay (`short`:
    rows named by their head only, for the sidebar's live preview: the words are in the cells)."""
    rows = {(h.split(" (")[0] if short else f"{h.split(' (')[0]}: {c or '(empty)'}"[:48]):
            ([s["word"] for s in steps], [s["prob"] for s in steps])
            for h, c, steps in zip(r["heads"], r["captions"], r["steps"])}
    right = "" if not r.get("truth") else " · right: " + ", ".join(
        "yes" if c == t else "no" for c, t in zip(r["captions"], r["truth"]))
    return figures.word_rows(rows, title=f"Greedy captions, word by word{right}")


def choice(key: str, query: str, options: list, default):
    """Seed widget `key` from the URL once (ui.query_value), falling back to `default` for a value it
    does not offer; the widget then mirrors itself back with ui.share. Assigned on every run: a widget
    hidden for a run (e.g. while no file is uploaded) otherwise comes back showing its first option
    while Streamlit still returns the old value."""
    value = ui.query_value(key, query, default)
    match = [o for o in options if str(o) == str(value)]
    st.session_state[key] = match[0] if match else default


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array.astype(np.float32), allow_pickle=False)
    return buf.getvalue()


def _changed(full: str, cut: str) -> str:
    """The ablated caption's words that differ from the full model's at the same position."""
    a, b = full.split(), cut.split()
    words = [w for i, w in enumerate(b) if i >= len(a) or a[i] != w] + (["(shorter)"] if len(b) < len(a) else [])
    return ", ".join(words)


def sidebar():
    """The model picker, "Compare with" and the Train form; the chosen model (None: none in the store)."""
    return ui.model_sidebar(
        "captioning", compare=True, upload_types=("csv",), probe=_probe, frame=lambda r: captions_frame(r, short=True),
        files={"features": ("Your image features (.npy, N × D)", ("npy",))},
        data_help="Two files: a CSV with columns row,caption_1,caption_2 (row = the image's row in the features) "
                  "and, below it, your image features as a .npy of shape (N, D) (numpy.save of a float array).")


SOURCES = {"sample": "Sample scene", "describe": "Describe a scene", "upload": "Upload .npy features"}
SAMPLES = list(range(1, len(captioning.SAMPLES) + 1))  # 1-based, as in the URL (?scene=2) and the CLI


def input_section(bundle) -> tuple[np.ndarray, tuple | None, str | None, str | None, tuple | None]:
    """A sample scene, a described one or uploaded features (a model trained on your features: one of its
    held-out images, or your own rows): (features (N, D), the scene or None, the file's name, the sample or
    description asked for (what a compared model reads) or None, a held-out image's true captions per head or
    None). The page stops at input it cannot read, saying why."""
    dim = bundle.params["feature_dim"]
    mine = bundle.data.get("source") == "upload"     # trained on your features: no generated scenes to offer
    held = captioning.heldout_images(bundle)
    sources = (({"heldout": "A held-out image"} if held else {}) | {"upload": SOURCES["upload"]}) if mine else SOURCES
    features_file = (bundle.data.get("features") or {}).get("filename")
    if mine:
        st.caption(ui.md(f"Model {bundle.name} was trained on your files ({bundle.data.get('filename')} and "
                         f"{features_file}): caption one of its held-out images (never trained on) or your own "
                         f"{dim}-d feature vectors."))
    choice("captioning:source", "source", list(sources), next(iter(sources)) if mine else "sample")
    source = st.radio("Input", list(sources), format_func=sources.get, horizontal=True, key="captioning:source")
    ui.share("source", source)
    if source == "heldout":
        rows = [image["row"] for image in held]
        choice("captioning:heldout", "image", rows, rows[0])
        pick = st.selectbox(f"A held-out image of {features_file} (never trained on) and its true captions", rows,
                            key="captioning:heldout", format_func=lambda r: f"row {r}: " + " / ".join(
                                t[0] for t in next(i for i in held if i["row"] == r)["truth"]))
        ui.share("image", pick)
        image = next(i for i in held if i["row"] == pick)
        return image["features"][None], None, f"{features_file} (row {pick}, held out)", None, image["truth"]
    try:
        if source == "sample":
            choice("captioning:scene", "scene", SAMPLES, calls.CAPTIONING_SCENE)
            i = st.selectbox("Sample scene", SAMPLES, key="captioning:scene",
                             format_func=lambda j: f"{j}. " + " ".join(captioning.english(captioning.SAMPLES[j - 1])))
            ui.share("scene", i)
            asked = f"sample {i}"
            x, scene = captioning.text_features(bundle, asked)
            st.download_button(f"Download sample {i} as .npy (shape ({dim},), float32)", npy(x),
                               file_name=f"scene-{i}.npy", mime="application/octet-stream")
            return x[None], scene, None, asked, None
        if source == "describe":
            if "captioning:text" in st.session_state:   # keep the text when the box was hidden for a run
                st.session_state["captioning:text"] = st.session_state["captioning:text"]
            text = ui.text_input("Scene: a count (1-4), a colour, a shape and a position per group",
                                 key="captioning:text", default="three green stars at the top", height=68)
            x, scene = captioning.text_features(bundle, text)
            return x[None], scene, None, text, None
        if not mine:
            every = np.stack([captioning.sample_features(j - 1, dim, bundle.params["noise"]) for j in SAMPLES])
            st.download_button(f"Download all {len(SAMPLES)} samples as one .npy (shape {every.shape}) to see the "
                               "format", npy(every), file_name="scenes.npy", mime="application/octet-stream")
        upload = st.file_uploader(f"Image features: a .npy of shape ({dim},) or (N, {dim}), N ≤ "
                                  f"{captioning.MAX_ROWS}", type=["npy"], key="captioning:upload")
        if upload is None:
            st.info("Upload a .npy file of feature vectors (numpy.save of a float array)" +
                    ("." if mine else ", or download a sample above."))
            st.stop()
        x = captioning.read_features(upload.getvalue(), upload.name, dim)
        return (x[None] if x.ndim == 1 else x), None, upload.name, None, None
    except SeqvizError as e:
        ui.error(e)
        st.stop()


ABLATE = {"1": "zero branch 1's features", "2": "zero branch 2's features"}


def options_section() -> tuple[int, str]:
    """The beam width and the branch the ablation zeroes: (beam, ablate)."""
    c1, c2 = st.columns(2)
    beams = list(range(1, 11))
    choice("captioning:beam", "beam", beams, calls.CAPTIONING_BEAM)
    beam = c1.select_slider("Beam width per head (1 = the lock-step greedy captions)", beams, key="captioning:beam")
    ui.share("beam", beam)
    choice("captioning:ablate", "ablate", list(ABLATE), calls.CAPTIONING_ABLATE)
    ablate = c2.radio("Ablation (below)", list(ABLATE), format_func=ABLATE.get, horizontal=True,
                      key="captioning:ablate")
    ui.share("ablate", ablate)
    return beam, ablate


def rows_section(bundle, x: np.ndarray, filename: str | None) -> int:
    """An upload of several rows: every row's greedy captions, their probabilities and (a model of the generated
    scenes) whether the heads agree, and the row to look into (0-based; 0 for a single scene)."""
    if len(x) == 1:
        return 0
    heads = captioning.heads(bundle)
    greedy = captioning.greedy_captions(bundle.model, bundle.params, bundle.vocabs, x)
    caps = [[" ".join(w) for w in greedy[k]] for k in (0, 1)]
    # each row's caption probabilities (one scoring per row, in worker threads) and whether the heads agree
    scored = [ui.background(captioning.score, bundle, x[i], [caps[0][i], caps[1][i]]) for i in range(len(x))]
    p_caps = [[float(np.prod(p)) for p in f.result()] for f in scored]
    agree = captioning.agreement(bundle, *caps)
    st.subheader(f"{ui.md(filename)}: {len(x)} scenes")
    if agree is not None and not all(agree):
        st.caption(f"⚠ marks the {len(agree) - sum(agree)} row(s) whose two heads describe different scenes.")
    columns = {heads[0]: caps[0], "P(caption 1)": [p[0] for p in p_caps],
               heads[1]: caps[1], "P(caption 2)": [p[1] for p in p_caps]}
    if agree is not None:
        columns["heads agree"] = ["✓" if a else "⚠ no" for a in agree]
    st.dataframe(pd.DataFrame(columns,
                              index=pd.RangeIndex(1, len(x) + 1, name="row")),
                 width="stretch", height=min(38 + 35 * len(x), 560),
                 column_config={f"P(caption {k})": st.column_config.NumberColumn(format="%.3f") for k in (1, 2)})
    rows = list(range(1, len(x) + 1))
    choice("captioning:row", "row", rows, 1)
    row = st.selectbox("Row to look into", rows, key="captioning:row", format_func=lambda j: f"row {j}") - 1
    ui.share("row", row + 1)
    return row


def captions_section(bundle, r: dict, values: np.ndarray, scene, filename: str | None, row: int,
                     beam: int, truths: tuple | None = None) -> list[list[str]] | None:
    """The scene (or the upload's row, or a held-out image), each head's caption with its top words per step and
    its beams, and the feature vector. Returns each head's true captions (a generated scene's one, a held-out
    image's `truths`; None for an upload's row)."""
    heads, dim = captioning.heads(bundle), bundle.params["feature_dim"]
    if scene is not None:
        seen = captioning.seen_in_training(bundle.params, scene)
        st.subheader("Scene: " + " ".join(captioning.english(scene)))
        st.caption("This combination of objects was among the model's training scenes." if seen else
                   "This combination of objects never occurred in the model's training scenes.")
        truths = ([" ".join(captioning.english(scene))], [" ".join(captioning.french(scene))])
    elif truths is not None:
        st.subheader(ui.md(filename))
    else:
        st.subheader(f"Row {row + 1} of {ui.md(filename)}")
    for k in (0, 1):
        steps = r["steps"][k]
        mark = "" if truths is None else (" ✓" if r["captions"][k] in truths[k] else
                                          f" ✗ (true: {ui.md(' / '.join(truths[k]))})")
        shown = ui.md(r["captions"][k]) or "*(empty: the head ended at once)*"
        st.markdown(f"**{heads[k]}**: {shown}{mark} · P(caption) = "
                    f"{np.exp(r['logprob'][k]):.3f}")
        ui.wide_chart(figures.topk_steps([[a["word"] for a in s["top"]] for s in steps],
                                         [[a["prob"] for a in s["top"]] for s in steps],
                                         [s["word"] for s in steps], title=f"Head {k + 1}: top words per step"),
                      key=f"captioning:topk:{k}", min_width=160 + 75 * len(steps))
        if beam > 1:   # the tree is drawn only while its expander is open
            box = st.expander(f"Head {k + 1}: the {len(r['beams'][k])} beams", key=f"captioning:beams-open:{k}",
                              on_change="rerun")
            if box.open:
                box.plotly_chart(figures.beam_tree([(b["tokens"], b["step_logprobs"]) for b in r["beams"][k]],
                                                   title=f"Head {k + 1} beams"), width="stretch",
                                 key=f"captioning:beams:{k}")
    left, right = st.columns([1, 2]) if scene is not None else (None, st.container())
    if scene is not None:   # what the features were made from (an upload's picture is not known)
        left.plotly_chart(figures.scene(scene, title="The scene"), width="stretch", key="captioning:scene-figure")
    right.plotly_chart(figures.signal(values, title=f"The {dim} image features ({np.mean(values > 0):.0%} non-zero, "
                                                    f"mean {values.mean():.3f})", x_title="feature", y_title="value"),
                       width="stretch", key="captioning:features")
    return None if truths is None else [list(t) for t in truths]


def ablation_section(bundle, r: dict, ablated, scores, ablate: str) -> None:
    """Both heads' captions with branch `ablate` zeroed against the full model's, and each word's probability
    under both (`ablated` and `scores`: the futures `calls.captioning_views` started)."""
    heads = captioning.heads(bundle)
    st.subheader("Ablation: " + ABLATE[ablate])
    cut = ablated.result()
    probs, full = (f.result() for f in scores)
    st.dataframe(pd.DataFrame({"both branches": r["captions"], ABLATE[ablate]: cut["captions"],
                               "same": ["✓" if a == b else "✗" for a, b in zip(r["captions"], cut["captions"])],
                               "changed words": [_changed(a, b) for a, b in zip(r["captions"], cut["captions"])]},
                              index=list(heads)), width="stretch")
    for k in (0, 1):
        words = r["captions"][k].split() + [captioning.END]
        st.plotly_chart(figures.grouped_bars([f"{i + 1}. {w}" for i, w in enumerate(words)],
                                             {"both branches": full[k], ABLATE[ablate]: probs[k]},
                                             title=f"Head {k + 1}: P(each word of its caption)"),
                        width="stretch", key=f"captioning:ablation:{k}")
    m = bundle.metrics
    if "ablate1_exact_1" in m:
        st.caption("On the held-out scenes, exact match of caption 1 / caption 2: both branches "
                   f"{m['val_exact_1']:.2f} / {m['val_exact_2']:.2f}; branch 1 zeroed {m['ablate1_exact_1']:.2f} / "
                   f"{m['ablate1_exact_2']:.2f}; branch 2 zeroed {m['ablate2_exact_1']:.2f} / "
                   f"{m['ablate2_exact_2']:.2f}. Each head reads both LSTM states, so zeroing either branch can hurt "
                   "either head.")


def why_section(bundle, values: np.ndarray, r: dict) -> None:
    """Why this word? For a chosen word of either head's greedy caption: what the image (as each branch reads it)
    and each word read before it contribute (seqviz.explain)."""
    words = [c.split() + [captioning.END] for c in r["greedy"]]
    lengths = captioning.input_lengths(bundle.params)
    targets = [f"{h + 1}:{n + 1}" for h in (0, 1) for n in range(min(len(words[h]), lengths[h]))]

    def label(k: str) -> str:
        h, n = (int(x) for x in k.split(":"))
        return f"caption {h}, word {n}: {words[h - 1][n - 1]}"

    def how(ex: dict, target) -> None:
        st.caption("The lock-step greedy captions: at word N each branch reads the image and its own caption's "
                   "first N − 1 words (“1: …” are caption 1's, “2: …” caption 2's), and each head "
                   "reads both branches. Occluding the image zeroes it for that branch, as the ablation below does; "
                   "an occluded word is read as `<unk>`.")

    ui.why_section(bundle, values, key="captioning", ticks=None, targets=targets[1:], predicted=label(targets[0]),
                   label=label, unit="input", more=how, heldout=bundle.data.get("source") != "upload" or
                   bool(bundle.heldout),
                   title="Why this word? The image, as each branch reads it, and the words before it")


def compare_section(bundle, r: dict, values: np.ndarray, asked: str | None, beam: int,
                    truths: list[list[str]] | None) -> dict | None:
    """The sidebar's "Compare with" model on the same scene (a sample or description in its own feature space:
    its D, its projection; an upload's row as it is): both models' captions per head and each word's
    probability. Returns the comparison ({"a", "b", "diff"}), or None."""
    heads, dim = captioning.heads(bundle), bundle.params["feature_dim"]

    def decode(b):   # model a: the decode above
        if b is bundle:
            return r
        if asked is not None:
            return calls.captioning_decode(b, captioning.text_features(b, asked)[0], beam)
        if b.params["feature_dim"] != dim:
            raise SeqvizError(f"it reads {b.params['feature_dim']}-d features and this file's rows are {dim}-d.")
        return calls.captioning_decode(b, values, beam)

    compared = ui.comparison(bundle, "", run=decode)
    if compared is None:
        return None
    other, both = compared
    rb, d = both["b"], both["diff"]
    a_name, b_name = bundle.name, other.name
    same = sum(d["same_captions"])
    st.subheader(f"Compared with {ui.md(b_name)}: {same} of 2 captions the same")
    for k in (0, 1):
        st.markdown(f"**{heads[k]}**")
        cols = st.columns(2)
        for col, name, res in ((cols[0], a_name, r), (cols[1], b_name, rb)):
            steps = res["steps"][k]
            ok = "" if truths is None else (" ✓" if res["captions"][k] in truths[k] else " ✗")
            col.markdown(f"{ui.md(name)}: *{ui.md(res['captions'][k]) or '(empty)'}*{ok} · "
                         f"P = {np.exp(res['logprob'][k]):.3f}")
            col.plotly_chart(figures.bars([f"{i + 1}. {s['word']}" for i, s in enumerate(steps)],
                                          [s["prob"] for s in steps], title=f"{name}: P(each word it chose)"),
                             width="stretch", key=f"captioning:compare:{k}:{name}")
    return both


def opener(text: str, example) -> dict:
    """The page's query that opens a held-out image: your features' row N, or a generated scene's words."""
    return {"source": "heldout", "image": text.split()[-1]} if text.startswith("row ") else \
        {"source": "describe", "text": text}


header()
bundle = ui.require(sidebar())
x, scene, filename, asked, held_truth = input_section(bundle)
beam, ablate = options_section()
ui.batch_section(bundle, "captioning", {"beam": beam, "ablate": ablate})
row = rows_section(bundle, x, filename)
# the decode now; the ablated decode and both scorings go on in worker threads while the heads are drawn
r, ablated, scores = calls.captioning_views(bundle, x[row], beam, ablate)
truths = captions_section(bundle, r, x[row], scene, filename, row, beam, held_truth)
why_section(bundle, x[row], r)
ui.states_section(bundle, x[row], "captioning", lambda text: opener(text, None))
ablation_section(bundle, r, ablated, scores, ablate)
both = compare_section(bundle, r, x[row], asked, beam, truths)
ui.heldout_section(bundle, "captioning", opener)
ui.download_result(r if both is None else both, bundle, "result" if both is None else "comparison")
ui.replay_view(bundle, captions_frame)
ui.model_details(bundle)
