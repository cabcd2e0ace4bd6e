"""Every page lets a user take its numbers, its model and its code away: the whole result as JSON (what the CLI
prints), the model as a SavedModel .zip (built when clicked), and the Keras code that builds it (read from the
module's own source)."""
import inspect
import io
import json
import zipfile

import pytest

from seqviz import archs
from seqviz.params import resolve
from tests.app.conftest import ROOT
from tests.app.helpers import open_page

PAGES = [  # (page, arch, model shown, keys the result JSON must have)
    ("views/attention.py", "attention", "default", {"tokens", "attention", "label", "probs"}),
    ("views/dialogue_acts.py", "dialogue-acts", "default", {"tags", "emissions", "transitions", "marginals"}),
    ("views/seq2seq.py", "seq2seq", "default-basic", {"output", "beams", "attention", "steps"}),
    ("views/captioning.py", "captioning", "default", {"captions", "steps", "beams"}),
    ("views/lm.py", "lm", "default", {"continuation", "next_word"}),
]


@pytest.mark.parametrize("page, arch, model, keys", PAGES, ids=[p[1] for p in PAGES])
def test_every_page_offers_its_result_its_model_and_its_code(downloads, page, arch, model, keys):
    at = open_page(page)
    assert not at.exception
    result = json.loads(downloads["Download the result (JSON)"])
    assert keys <= set(result)
    assert "Export as a TensorFlow SavedModel (.zip)" not in downloads          # the details are folded
    assert not at.code                                                          # and so is the code

    at.session_state[f"details:{arch}:{model}"] = True                         # what opening them does
    at.session_state[f"code:{arch}"] = True
    at.run()
    assert not at.exception
    assert callable(downloads["Export as a TensorFlow SavedModel (.zip)"])      # built only when clicked
    (code,) = at.code
    mod = archs.get(arch).module()
    assert "def build(params: dict, vocabs: dict[str, Vocab])" in code.value
    assert inspect.getsource(mod.build).rstrip() in code.value                  # the module's own source
    (settings,) = [d.value for d in at.dataframe if list(d.value.columns) == ["params[...]", "value"]]
    saved = json.loads((ROOT / "models" / arch / model / "config.json").read_text())["params"]
    params = resolve(mod.PARAMS, saved)                        # a knob added since: its default
    assert dict(zip(settings["params[...]"], settings["value"])) == {k: str(v) for k, v in params.items()}


def test_the_json_download_is_what_the_cli_prints(downloads, capsys):
    from seqviz import cli
    at = open_page("views/attention.py", text="the storm and the rain came again")
    assert not at.exception
    assert cli.main(["predict", "attention", "--text", "the storm and the rain came again"]) == 0
    printed = capsys.readouterr().out.strip()
    assert downloads["Download the result (JSON)"] == printed


def test_the_export_download_is_a_zip_of_the_savedmodel(downloads):
    at = open_page("views/lm.py")
    at.session_state["details:lm:default"] = True
    at.run()
    data = downloads["Export as a TensorFlow SavedModel (.zip)"]()               # what a click runs
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"default/saved_model.pb", "default/README.md", "default/config.json"} <= set(names)
