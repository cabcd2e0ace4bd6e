"""AppTests of the pages' "Score a file of inputs" (seqviz.ui.batch over seqviz.batch): upload a file, the first
rows in a table with the model's answers, a refused row named, downloads; a file the page cannot read is one
sentence."""
import numpy as np

from seqviz import attention, store
from seqviz.ui.batch import flatten, to_csv
from tests.app.helpers import open_page


def _upload(page: str, key: str, name: str, raw: bytes, **query):
    at = open_page(page, **query)
    at.session_state[f"{key}:batch-open"] = True
    at.run()
    at.get("file_uploader")[0].set_value((name, raw, "application/octet-stream"))
    at.session_state[f"{key}:batch-open"] = True
    return at.run()


def test_a_csv_of_sentences_is_scored_row_by_row_on_the_attention_page():
    texts = attention.make_toy(30, seed=9).texts
    raw = ("text\n" + "".join(f"{t}\n" for t in texts) + "qqq zzz\n").encode()
    at = _upload("views/attention.py", "attention", "mine.csv", raw)
    assert not at.exception, [e.message for e in at.exception]
    assert any("31 inputs of mine.csv" in m.value.replace("\\", "") and
               "1 refused (the first: data row 31" in m.value.replace("\\", "") for m in at.markdown)
    (preview,) = [d.value for d in at.dataframe if "where" in d.value.columns]
    b = store.load("attention", "default")
    assert preview["label"].tolist() == [attention.predict(b, t)["label"] for t in texts[:20]]
    assert {"where", "tokens", "label", "probs.food"} <= set(preview.columns)
    assert any("The first 20 of 31" in c.value for c in at.caption)
    assert len(at.get("download_button")) >= 2


def test_an_npy_of_images_on_the_captioning_page():
    from seqviz import captioning
    b = store.load("captioning", "default")
    x = np.stack([captioning.text_features(b, f"sample {i}")[0] for i in (1, 2)]).astype(np.float32)
    import io
    f = io.BytesIO()
    np.save(f, x)
    at = _upload("views/captioning.py", "captioning", "two.npy", f.getvalue())
    assert not at.exception, [e.message for e in at.exception]
    assert any("2 inputs of two.npy" in m.value.replace("\\", "") for m in at.markdown)
    (preview,) = [d.value for d in at.dataframe if "where" in d.value.columns]
    assert preview["where"].tolist() == ["row 0", "row 1"]


def test_a_file_the_page_cannot_read_is_one_sentence():
    at = _upload("views/attention.py", "attention", "bad.csv", b"words\nhello\n")
    assert not at.exception
    assert any("needs the columns text" in e.value.replace("\\", "") for e in at.error)


def test_flatten_keeps_the_main_columns_and_the_csv_every_column():
    r = {"tokens": ["a", "b"], "attention": [0.5, 0.5], "label": "x", "probs": {"x": 0.9, "y": 0.1}}
    assert flatten(r) == {"tokens": "a b", "label": "x", "probs.x": 0.9, "probs.y": 0.1}
    text = to_csv([flatten(r), {"where": "data row 2", "error": "no words"}])
    assert text.splitlines()[0] == "tokens,label,probs.x,probs.y,where,error"
    assert text.splitlines()[2] == ",,,,data row 2,no words"
    assert to_csv([{"text": "=1+2", "n": -3}]).splitlines()[1] == "'=1+2,-3"       # a formula stays text
