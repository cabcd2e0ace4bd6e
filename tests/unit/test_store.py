"""seqviz.store without TensorFlow work: what a stored model's details say it was trained on."""
from seqviz import store
from seqviz.params import resolve


def _bundle(arch: str, metrics: dict, data: dict | None = None) -> store.Bundle:
    from seqviz import archs
    params = resolve(archs.get(arch).module().PARAMS, {})
    return store.Bundle(arch, "m", params, None, {}, metrics, data or {"source": "generated"})


def test_a_model_of_generated_data_names_its_counts_and_hides_no_knob():
    seen = store.trained_on(_bundle("dialogue-acts", {"n_train_dialogues": 400, "n_val_dialogues": 70,
                                                      "val_accuracy": 1.0, "n_train_note": "x"}))
    assert seen == {"data": "the built-in data (the knobs below, seed 0)",
                    "counts": {"training dialogues": 400, "held-out dialogues": 70}, "unused": []}


def test_a_model_of_your_file_names_the_files_and_the_knobs_it_did_not_use():
    data = {"source": "upload", "filename": "captions.csv", "bytes": 20_480, "sha1": "ab",
            "features": {"filename": "feats.npy", "bytes": 9, "sha1": "cd"}}
    seen = store.trained_on(_bundle("captioning", {"n_train": 510, "n_val": 90}, data))
    assert seen["data"] == "your file captions.csv (20.5 kB) with feats.npy (features)"
    assert seen["counts"] == {"training examples": 510, "held-out examples": 90}
    assert seen["unused"] == ["n_scenes", "max_objects", "noise"]          # the generated scenes' knobs
    assert store.trained_on(_bundle("lm", {}, {"source": "upload", "filename": "t.txt"}))["unused"] == ["corpus"]
