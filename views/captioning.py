"""Captioning page: both heads caption a scene's image features, each head's per-step top words, the
feature vector, and what zeroing one branch's features does to each head."""
import io

import numpy as np
import pandas as pd
import streamlit as st

from seqviz import captioning, figures, ui
from seqviz.errors import SeqvizError

st.title("Captioning: one model, two captions")
st.markdown("Two encoder-decoder branches read the same image features (a vector like a CNN's, 4096-d in the "
            "default model): each projects them (Dropout → Dense), repeats them along its partial caption, "
            "concatenates its word embeddings and runs an LSTM; the two LSTM states are concatenated into "
            "**two softmax heads**: the next word of an English sentence and of a terse French label. The scenes "
            "are generated (one or two groups of coloured shapes), and their feature vectors are a fixed random "
            "projection of the objects plus noise, so the true captions are known. Training batches hold one "
            "row per (scene, step) for *both* captions: the two branches always get equal batch sizes, the "
            "mistake (47 samples for one branch, 4 for the other) that stopped the original Keras model.")

def _probe() -> dict | None:
    """The replay's probe when Train is pressed: the sample or described scene on the page (an upload: the model's
    own example)."""
    source = st.session_state.get("captioning:source")
    if source == "sample":
        return {"text": f"sample {st.session_state.get('captioning:scene', 1)}"}
    return {"text": st.session_state.get("captioning:text")} if source == "describe" else None


def captions_frame(r: dict):
    """Both heads' greedy captions, word by word with their probabilities, from one epoch of a replay."""
    rows = {f"{h.split(' (')[0]}: {c or '(empty)'}"[:48]: ([s["word"] for s in steps], [s["prob"] for s in steps])
            for h, c, steps in zip(r["heads"], r["captions"], r["steps"])}
    right = "" if not r.get("truth") else " · right: " + ", ".join(
        "yes" if c == t else "no" for c, t in zip(r["captions"], r["truth"]))
    return figures.word_rows(rows, title=f"Greedy captions, word by word{right}")


bundle = ui.model_sidebar(
    "captioning", compare=True, upload_types=("csv",), probe=_probe, frame=captions_frame,
    files={"features": ("Your image features (.npy, N × D)", ("npy",))},
    data_help="Two files: a CSV with columns row,caption_1,caption_2 (row = the image's row in the features) and, "
              "below it, your image features as a .npy of shape (N, D) (numpy.save of a float array).")
if bundle is None:
    st.info("No model in the store yet: train one from the sidebar.")
    st.stop()
params, dim = bundle.params, bundle.params["feature_dim"]
HEADS = captioning.heads(bundle)
mine = bundle.data.get("source") == "upload"     # trained on your features: no generated scenes to offer


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


SOURCES = {"sample": "Sample scene", "describe": "Describe a scene", "upload": "Upload .npy features"}
if mine:
    SOURCES = {"upload": SOURCES["upload"]}
    st.caption(ui.md(f"Model {bundle.name} was trained on your files ({bundle.data.get('filename')} and "
                     f"{(bundle.data.get('features') or {}).get('filename')}): caption your own {dim}-d feature "
                     "vectors."))
samples = list(range(1, len(captioning.SAMPLES) + 1))  # 1-based, as in the URL (?scene=2) and the CLI
choice("captioning:source", "source", list(SOURCES), next(iter(SOURCES)) if mine else "sample")
source = st.radio("Input", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="captioning:source")
ui.share("source", source)

try:
    scene, filename, asked = None, None, None     # asked: the sample or description (a compared model's input)
    if source == "sample":
        choice("captioning:scene", "scene", samples, 1)
        i = st.selectbox("Sample scene", samples, key="captioning:scene",
                         format_func=lambda j: f"{j}. " + " ".join(captioning.english(captioning.SAMPLES[j - 1])))
        ui.share("scene", i)
        asked = f"sample {i}"
        x, scene = captioning.text_features(bundle, asked)
        st.download_button(f"Download sample {i} as .npy (shape ({dim},), float32)", npy(x),
                           file_name=f"scene-{i}.npy", mime="application/octet-stream")
        x = x[None]
    elif source == "describe":
        if "captioning:text" in st.session_state:   # keep the text when the box was hidden for a run
            st.session_state["captioning:text"] = st.session_state["captioning:text"]
        text = ui.text_input("Scene: a count (1-4), a colour, a shape and a position per group",
                             key="captioning:text", default="three green stars at the top", height=68)
        asked = text
        x, scene = captioning.text_features(bundle, text)
        x = x[None]
    else:
        if not mine:
            every = np.stack([captioning.sample_features(j - 1, dim, params["noise"]) for j in samples])
            st.download_button(f"Download all {len(samples)} samples as one .npy (shape {every.shape}) to see the "
                               "format", npy(every), file_name="scenes.npy", mime="application/octet-stream")
        upload = st.file_uploader(f"Image features: a .npy of shape ({dim},) or (N, {dim}), N ≤ "
                                  f"{captioning.MAX_ROWS}", type=["npy"], key="captioning:upload")
        if upload is None:
            st.info("Upload a .npy file of feature vectors (numpy.save of a float array)" +
                    ("." if mine else ", or download a sample above."))
            st.stop()
        filename = upload.name
        x = captioning.read_features(upload.getvalue(), filename, dim)
        x = x[None] if x.ndim == 1 else x
except SeqvizError as e:
    ui.error(e)
    st.stop()

c1, c2 = st.columns(2)
beams = list(range(1, 11))
choice("captioning:beam", "beam", beams, 3)
beam = c1.select_slider("Beam width per head (1 = the lock-step greedy captions)", beams, key="captioning:beam")
ui.share("beam", beam)
ABLATE = {"1": "zero branch 1's features", "2": "zero branch 2's features"}
choice("captioning:ablate", "ablate", list(ABLATE), "1")
ablate = c2.radio("Ablation (below)", list(ABLATE), format_func=ABLATE.get, horizontal=True, key="captioning:ablate")
ui.share("ablate", ablate)

row = 0
if len(x) > 1:
    greedy = captioning.greedy_captions(bundle.model, params, bundle.vocabs, x)
    caps = [[" ".join(w) for w in greedy[k]] for k in (0, 1)]
    # each row's caption probabilities (one scoring per row, in worker threads) and whether the heads agree
    scored = [ui.background(captioning.score, bundle, x[i], [caps[0][i], caps[1][i]]) for i in range(len(x))]
    p_caps = [[float(np.prod(p)) for p in f.result()] for f in scored]
    agree = [captioning.heads_agree(a, b) for a, b in zip(*caps)]
    st.subheader(f"{ui.md(filename)}: {len(x)} scenes")
    if not all(agree):
        st.caption(f"⚠ marks the {len(agree) - sum(agree)} row(s) whose two heads describe different scenes.")
    st.dataframe(pd.DataFrame({HEADS[0]: caps[0], "P(caption 1)": [p[0] for p in p_caps],
                               HEADS[1]: caps[1], "P(caption 2)": [p[1] for p in p_caps],
                               "heads agree": ["✓" if a else "⚠ no" for a in agree]},
                              index=pd.RangeIndex(1, len(x) + 1, name="row")),
                 width="stretch", height=min(38 + 35 * len(x), 560),
                 column_config={f"P(caption {k})": st.column_config.NumberColumn(format="%.3f") for k in (1, 2)})
    rows = list(range(1, len(x) + 1))
    choice("captioning:row", "row", rows, 1)
    row = st.selectbox("Row to look into", rows, key="captioning:row", format_func=lambda j: f"row {j}") - 1
    ui.share("row", row + 1)

# the decode and the ablated one side by side; the ablation's word probabilities go on in the background
# while the heads' figures are drawn
ablated = ui.background(captioning.decode, bundle, x[row], beam=beam, top_k=5, ablate=ablate)
r = captioning.decode(bundle, x[row], beam=beam, top_k=5)
scoring = [ui.background(captioning.score, bundle, x[row], r["captions"], ablate=a) for a in (ablate, "none")]
if scene is not None:
    seen = captioning.seen_in_training(params, scene)
    st.subheader("Scene: " + " ".join(captioning.english(scene)))
    st.caption("This combination of objects was among the model's training scenes." if seen else
               "This combination of objects never occurred in the model's training scenes.")
    truth = [" ".join(captioning.english(scene)), " ".join(captioning.french(scene))]
else:
    st.subheader(f"Row {row + 1} of {ui.md(filename)}")
    truth = None

for k in (0, 1):
    steps = r["steps"][k]
    mark = "" if truth is None else (" ✓" if r["captions"][k] == truth[k] else f" ✗ (true: {ui.md(truth[k])})")
    shown = ui.md(r["captions"][k]) or "*(empty: the head ended at once)*"
    st.markdown(f"**{HEADS[k]}**: {shown}{mark} · P(caption) = "
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
values = x[row]
left, right = st.columns([1, 2]) if scene is not None else (None, st.container())
if scene is not None:   # what the features were made from (an upload's picture is not known)
    left.plotly_chart(figures.scene(scene, title="The scene"), width="stretch", key="captioning:scene-figure")
right.plotly_chart(figures.signal(values, title=f"The {dim} image features ({np.mean(values > 0):.0%} non-zero, "
                                                f"mean {values.mean():.3f})", x_title="feature", y_title="value"),
                   width="stretch", key="captioning:features")

st.subheader("Ablation: " + ABLATE[ablate])
cut = ablated.result()
probs, full = (f.result() for f in scoring)
def _changed(full: str, cut: str) -> str:
    """The ablated caption's words that differ from the full model's at the same position."""
    a, b = full.split(), cut.split()
    words = [w for i, w in enumerate(b) if i >= len(a) or a[i] != w] + (["(shorter)"] if len(b) < len(a) else [])
    return ", ".join(words)


st.dataframe(pd.DataFrame({"both branches": r["captions"], ABLATE[ablate]: cut["captions"],
                           "same": ["✓" if a == b else "✗" for a, b in zip(r["captions"], cut["captions"])],
                           "changed words": [_changed(a, b) for a, b in zip(r["captions"], cut["captions"])]},
                          index=list(HEADS)), width="stretch")
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
               f"{m['ablate1_exact_2']:.2f}; branch 2 zeroed {m['ablate2_exact_1']:.2f} / {m['ablate2_exact_2']:.2f}. "
               "Each head reads both LSTM states, so zeroing either branch can hurt either head.")

def _decode(b):   # model a: the decode above; b: the same scene in its own feature space (its D, its projection)
    if b is bundle:
        return r
    if asked is not None:
        return captioning.decode(b, captioning.text_features(b, asked)[0], beam=beam, top_k=5)
    if b.params["feature_dim"] != dim:
        raise SeqvizError(f"it reads {b.params['feature_dim']}-d features and this file's rows are {dim}-d.")
    return captioning.decode(b, x[row], beam=beam, top_k=5)


compared = ui.comparison(bundle, "", run=_decode)
if compared is not None:
    other, both = compared
    rb, d = both["b"], both["diff"]
    a_name, b_name = bundle.name, other.name
    same = sum(d["same_captions"])
    st.subheader(f"Compared with {ui.md(b_name)}: {same} of 2 captions the same")
    for k in (0, 1):
        st.markdown(f"**{HEADS[k]}**")
        cols = st.columns(2)
        for col, name, res in ((cols[0], a_name, r), (cols[1], b_name, rb)):
            steps = res["steps"][k]
            ok = "" if truth is None else (" ✓" if res["captions"][k] == truth[k] else " ✗")
            col.markdown(f"{ui.md(name)}: *{ui.md(res['captions'][k]) or '(empty)'}*{ok} · "
                         f"P = {np.exp(res['logprob'][k]):.3f}")
            col.plotly_chart(figures.bars([f"{i + 1}. {s['word']}" for i, s in enumerate(steps)],
                                          [s["prob"] for s in steps], title=f"{name}: P(each word it chose)"),
                             width="stretch", key=f"captioning:compare:{k}:{name}")
ui.download_result(both if compared else r, bundle, "comparison" if compared else "result")
ui.replay_view(bundle, captions_frame)
ui.model_details(bundle)
