"""AppTest of the captioning page with a model trained on the user's own files: it offers only what such a model
can caption (uploaded feature rows), says what it was trained on, and names its heads plainly."""
import pytest

from seqviz import captioning, training
from tests.app.helpers import open_page, trained_store
from tests.model.test_captioning_files import user_files


@pytest.fixture(scope="module")
def files_store(tmp_path_factory):
    """The shipped captioning model and "mine", trained on generated scenes written as the user's two files."""
    csv, feats, _ = user_files(100, 16)
    return trained_store(tmp_path_factory, ["captioning"], lambda: training.train(
        training.plan("captioning", {"epochs": 1, "units": 8}, csv, "caps.csv", "mine",
                      files={"features": ("feats.npy", feats)})))


@pytest.fixture(autouse=True)
def store(files_store, monkeypatch, repo_root):
    monkeypatch.setenv("SEQVIZ_MODELS", str(files_store))    # after the autouse fixture cleared it
    return files_store


def test_a_model_of_your_files_offers_its_held_out_images_and_the_upload():
    at = open_page("views/captioning.py", model="mine")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.radio(key="captioning:source").options == ["A held-out image", "Upload .npy features"]
    assert any("trained on your files" in c.value and "caps.csv" in c.value.replace("\\", "") for c in at.caption)
    # a held-out image with its true captions: each head's caption is marked right or wrong against them
    picker = at.selectbox(key="captioning:heldout")
    rows = captioning.heldout_images(store_load())
    assert picker.options and len(picker.options) == len(rows) and picker.value == rows[0]["row"]
    marks = [m.value for m in at.markdown if m.value.startswith("**caption ")]
    assert len(marks) == 2 and all(" ✓" in m or "✗ (true: " in m for m in marks), marks
    picker.set_value(rows[-1]["row"]).run()
    assert not at.exception and at.query_params.get("image") == [str(rows[-1]["row"])]
    at.session_state["captioning:why-open"] = True      # a held-out image's features explained as they are
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if "method" in d.value.columns)
    assert len(table) == 4 and set(table["its top input"]) <= {"image → branch 1", "image → branch 2", "1: <s>",
                                                                 "2: <s>"}
    at.radio(key="captioning:source").set_value("upload").run()
    assert any(i.value == "Upload a .npy file of feature vectors (numpy.save of a float array)." for i in at.info)


def store_load():
    from seqviz import store
    return store.load("captioning", "mine")


def test_a_generated_scene_in_the_url_falls_back_to_the_held_out_images():
    at = open_page("views/captioning.py", model="mine", source="sample", scene="2")
    assert not at.exception and not at.error
    assert at.radio(key="captioning:source").value == "heldout"
    at = open_page("views/captioning.py", model="default", source="sample", scene="2")   # the default still has them
    assert at.radio(key="captioning:source").value == "sample" and not at.exception
