"""AppTest of the captioning page: samples, described scenes, uploaded .npy features (this Streamlit's
AppTest can upload), beam width, the branch ablation, the URL state and bad input.

These read the repo's models/ store (the committed default) and never write to it."""
import io
import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from seqviz import captioning as cap
from seqviz.archs import ARCHS
from tests.app.helpers import open_page
from tests.conftest import FORGED_NPY

ROOT = Path(__file__).resolve().parents[2]
METRICS = json.loads((ROOT / "models" / "captioning" / "default" / "metrics.json").read_text())
D = 4096


_page = partial(open_page, "views/captioning.py")


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _heads(at) -> list[str]:
    """The two caption lines: '**caption 1 (English sentence)**: ... · P(caption) = ...'."""
    return [m.value for m in at.markdown if m.value.startswith("**caption ")]


def _ok(at, extra: int = 0):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert len(_heads(at)) == 2
    # top words x 2, features, ablation x 2, and the scene drawn when it is known (a sample, a description);
    # the beam trees and the model's curve are built when their expanders open
    scene = any(s.value.startswith("Scene: ") for s in at.subheader)
    assert len(at.get("plotly_chart")) == 5 + scene + extra


def _caption(at, k) -> str:
    line = _heads(at)[k]
    return line.split("**: ", 1)[1].split(" ✓")[0].split(" ✗")[0].split(" · P(caption)")[0].replace("\\", "")


def test_default_page_captions_sample_one_with_both_heads():
    at = _page()
    _ok(at)
    at.session_state["captioning:beams-open:0"] = True             # open head 1's beams: its tree is drawn
    at.run()
    _ok(at, extra=1)
    assert at.radio(key="captioning:source").value == "sample"
    assert at.selectbox(key="captioning:scene").value == 1
    assert [s.value for s in at.subheader][:1] == ["Scene: there are two red circles on the left"]
    assert _caption(at, 0) == "there are two red circles on the left" and "✓" in _heads(at)[0]
    assert _caption(at, 1) == "deux cercles rouges à gauche" and "✓" in _heads(at)[1]
    assert dict(at.query_params) == {"source": ["sample"], "scene": ["1"], "beam": ["3"], "ablate": ["1"],
                                     "model": ["default"]}
    # the ablation table: both branches vs branch 1 zeroed, per head
    table = at.dataframe[0].value
    assert list(table.columns) == ["both branches", "zero branch 1's features", "same", "changed words"]
    assert table.iloc[0, 0] == "there are two red circles on the left"
    for _, row in table.iterrows():      # ✓/✗ and the changed words agree with the two captions
        full, cut = row.iloc[0].split(), row.iloc[1].split()
        assert row["same"] == ("✓" if full == cut else "✗")
        assert (row["changed words"] == "") == (full == cut)
    assert "branch 1 zeroed" in at.caption[-1].value
    assert at.selectbox(key="captioning:model").value == "default"


def test_another_sample_beam_and_ablation_update_the_view_and_the_url():
    at = _page()
    at.selectbox(key="captioning:scene").select(5).run()
    _ok(at)
    assert _caption(at, 1) == "un cercle violet à droite"
    assert any("never occurred" in c.value for c in at.caption)     # sample 5 is a held-out combination
    assert any("beams" in e.label for e in at.expander)
    at.select_slider(key="captioning:beam").set_value(1).run()
    _ok(at)
    assert not any("beams" in e.label for e in at.expander)        # no beam trees at width 1
    at.radio(key="captioning:ablate").set_value("2").run()
    _ok(at)
    assert list(at.dataframe[0].value.columns)[:2] == ["both branches", "zero branch 2's features"]
    assert [s.value for s in at.subheader][-1] == "Ablation: zero branch 2's features"
    assert at.query_params["scene"] == ["5"] and at.query_params["beam"] == ["1"] and at.query_params["ablate"] == ["2"]


def test_the_url_seeds_the_view_and_bad_url_values_fall_back():
    at = _page(source="describe", text="four blue triangles at the bottom", beam="2", ablate="2")
    _ok(at)
    assert at.text_area(key="captioning:text").value == "four blue triangles at the bottom"
    assert _caption(at, 1) == "quatre triangles bleus en bas"
    assert at.select_slider(key="captioning:beam").value == 2 and at.radio(key="captioning:ablate").value == "2"
    at = _page(source="bogus", scene="99", beam="x", ablate="7")
    _ok(at)
    assert at.radio(key="captioning:source").value == "sample" and at.selectbox(key="captioning:scene").value == 1
    assert at.select_slider(key="captioning:beam").value == 3 and at.radio(key="captioning:ablate").value == "1"


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("two orange circles left", "Cannot read 'orange'"),
    ("a red star left and a blue star right", "trained on scenes of at most 1"),
])
def test_a_bad_description_shows_an_error_then_recovers(text, words):
    at = _page(source="describe")
    at.text_area(key="captioning:text").input(text).run()
    assert not at.exception and len(at.error) == 1 and words in at.error[0].value.replace("\\", "")
    assert not _heads(at) and not at.get("plotly_chart")
    at.text_area(key="captioning:text").input("3 green stars on the left").run()
    _ok(at)
    assert _caption(at, 0) == "there are three green stars on the left"


def test_uploading_n_rows_shows_a_table_and_looks_into_the_chosen_row():
    at = _page(source="upload")
    assert not at.exception and not at.error and not _heads(at)
    assert at.info and "Upload a .npy" in at.info[0].value
    uploader = at.get("file_uploader")[0]
    scenes = [cap.SAMPLES[1], cap.SAMPLES[3], ((2, "yellow", "star", "top"),)]
    uploader.set_value(("three.npy", _npy(cap.scene_features(scenes, D)), "application/octet-stream"))
    at.run()
    _ok(at)
    table = at.dataframe[0].value
    assert list(table.index) == [1, 2, 3]
    assert table[cap.HEADS[1]].tolist() == [" ".join(cap.french(s)) for s in scenes]
    assert table["heads agree"].tolist() == ["✓"] * 3       # each row's two captions describe one scene
    assert ((table["P(caption 1)"] > 0.5) & (table["P(caption 1)"] <= 1)).all()
    assert ((table["P(caption 2)"] > 0.5) & (table["P(caption 2)"] <= 1)).all()
    assert [s.value for s in at.subheader][:2] == ["three\\.npy: 3 scenes", "Row 1 of three\\.npy"]
    at.selectbox(key="captioning:row").select(3).run()
    _ok(at)
    assert _caption(at, 0) == "there are two yellow stars at the top" and at.query_params["row"] == ["3"]
    assert [s.value for s in at.subheader][1] == "Row 3 of three\\.npy"


@pytest.mark.parametrize("raw, words", [
    (_npy(np.zeros(100, np.float32)), "its feature vectors have 100 values, but this model reads 4096-d"),
    (_npy(np.array(["a", "b"])), "holds <U1 values (text)"),
    (_npy(np.full(D, np.nan, np.float32)), "4096 NaN or infinite value(s)"),
    (b"not numpy at all", "is not a .npy file"),
    (FORGED_NPY, "truncated or damaged"),     # 409,600,000,000 float32 declared: nothing is allocated
], ids=["wrong-dimension", "strings", "nan", "not-npy", "forged-huge-shape"])
def test_a_bad_upload_shows_an_error_then_a_good_one_works(raw, words):
    at = _page(source="upload")
    at.get("file_uploader")[0].set_value(("bad.npy", raw, "application/octet-stream"))
    at.run()
    assert not at.exception and len(at.error) == 1 and words in at.error[0].value.replace("\\", "")
    assert not _heads(at) and not at.get("plotly_chart")
    at.get("file_uploader")[0].set_value(("one.npy", _npy(cap.scene_features([cap.SAMPLES[0]], D)[0]), "x"))
    at.run()
    _ok(at)
    assert _caption(at, 1) == "deux cercles rouges à gauche"
    assert not [s for s in at.selectbox if s.key == "captioning:row"]      # one vector: no table of rows


def test_home_card_shows_the_captioning_default_metrics():
    at = AppTest.from_file("router.py", default_timeout=60).run()
    assert not at.exception
    labels = list(ARCHS["captioning"].headline.values())
    values = {m.label: m.value for m in at.metric if m.label in labels[:4]}
    assert values == {label: f"{METRICS[key]:.3g}" for key, label in ARCHS["captioning"].headline.items()
                      if key != "train_seconds"}
    assert float(values["exact match, caption 1"]) >= 0.9 and float(values["exact match, caption 2"]) >= 0.9
