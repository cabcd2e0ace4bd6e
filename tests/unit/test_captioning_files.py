"""Captioning on the user's own files: image features (.npy, N x D) and a captions CSV (row,caption_1,caption_2),
through the training service and the CLI: the checks, the held-out captions it learns, predicting on it.

The tests here need no model; those that train or load one are in tests/model/test_captioning_files.py."""
import io

import numpy as np
import pytest

from seqviz import training
from seqviz.errors import SeqvizError


def npy(x) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(x), allow_pickle=False)
    return buf.getvalue()


def _plan(csv: bytes, feats: bytes | None = None, arch="captioning", **knobs):
    return training.plan(arch, knobs, csv, "caps.csv", files={"features": ("feats.npy", feats)} if feats else None)


CSV_OK = "row,caption_1,caption_2\n" + "".join(f"{i % 5},a red circle,un cercle rouge\n" for i in range(25))


FEATS_OK = npy(np.ones((5, 16), np.float32))


@pytest.mark.parametrize("csv, feats, words", [
    (CSV_OK, None, ["needs two files", "caps.csv", "--features"]),
    (CSV_OK.replace("\n4,", "\n7,", 1), FEATS_OK, ["caps.csv", "data row 5", "feature row 7", "feats.npy has 5 rows"]),
    (CSV_OK.replace("\n3,", "\nthree,", 1), FEATS_OK, ["data row 4", "'three'", "index"]),
    (CSV_OK.replace("un cercle rouge", " ", 1), FEATS_OK, ["data row 1", "empty caption_2"]),
    (CSV_OK.replace("a red circle", "!!", 1), FEATS_OK, ["data row 1", "empty caption_1"]),
    ("row,caption\n0,a\n", FEATS_OK, ["needs the columns row, caption_1, caption_2"]),
    (CSV_OK, npy(np.full((5, 16), np.nan)), ["feats.npy", "NaN"]),
    (CSV_OK, npy(np.ones(16)), ["feats.npy", "shape (16,)", "(N, D)"]),
    (CSV_OK, b"not an npy", ["feats.npy is not a .npy file"]),
    (CSV_OK, npy(np.ones((5, 4), np.float32)), ["D = 4", "8 to 8192"]),
    ("row,caption_1,caption_2\n" + "0,a red circle,un cercle rouge\n" * 25, FEATS_OK, ["of 1 image;", "at least 20"]),
])
def test_bad_files_get_one_sentence_and_nothing_is_trained(tmp_store, csv, feats, words):
    with pytest.raises(SeqvizError) as e:
        _plan(csv.encode(), feats)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_captions_longer_than_the_set_length_and_files_other_archs_do_not_take(tmp_store):
    with pytest.raises(SeqvizError, match="caption_1 has 3 words, which needs max_len1 >= 4"):
        _plan(CSV_OK.encode(), FEATS_OK, max_len1=3)
    assert _plan(CSV_OK.encode(), FEATS_OK, max_len1=3 + 1).params["max_len1"] == 4
    with pytest.raises(SeqvizError, match="attention model takes no features file"):
        _plan(b"text,label\n", FEATS_OK, arch="attention")
    with pytest.raises(SeqvizError, match="goes with your data file"):
        training.plan("captioning", {}, None, files={"features": ("feats.npy", FEATS_OK)})
