"""AppTest of the captioning page with a model trained on the user's own files: it offers only what such a model
can caption (uploaded feature rows), says what it was trained on, and names its heads plainly."""
import pytest

from seqviz import training
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


def test_a_model_of_your_files_offers_the_upload_only():
    at = open_page("views/captioning.py", model="mine")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.radio(key="captioning:source").options == ["Upload .npy features"]
    assert any("trained on your files" in c.value and "caps.csv" in c.value.replace("\\", "") for c in at.caption)
    assert any(i.value == "Upload a .npy file of feature vectors (numpy.save of a float array)." for i in at.info)


def test_a_generated_scene_in_the_url_falls_back_to_the_upload():
    at = open_page("views/captioning.py", model="mine", source="sample", scene="2")
    assert not at.exception and not at.error
    assert at.radio(key="captioning:source").value == "upload"
    at = open_page("views/captioning.py", model="default", source="sample", scene="2")   # the default still has them
    assert at.radio(key="captioning:source").value == "sample" and not at.exception
