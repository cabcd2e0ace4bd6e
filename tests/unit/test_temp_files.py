"""The suite leaves nothing in the temp dir: tests/conftest.py points TMPDIR at a dir of its own and removes it."""
import os
import subprocess
import sys

from tests.conftest import ROOT

# What leaves files behind in a run: a tmp_path, a temp file nobody deletes (as TensorFlow's autograph writes
# /tmp/__autograph_generated_file*.py), and the same from a subprocess (a training worker, a CLI run, a server).
INNER = '''
import subprocess, sys, tempfile

def test_leaves_files(tmp_path):
    (tmp_path / "upload.csv").write_text("text,label")
    tempfile.NamedTemporaryFile(prefix="__autograph_generated_file", suffix=".py", delete=False).close()
    subprocess.run([sys.executable, "-c", "import tempfile; tempfile.mkstemp()"], check=True)

def test_in_the_other_worker(tmp_path):
    tempfile.mkdtemp()
'''


def test_a_run_on_two_workers_leaves_nothing_in_the_temp_dir(tmp_path):
    root, here = tmp_path / "tmp", tmp_path / "inner"
    root.mkdir()
    here.mkdir()
    (here / "test_inner.py").write_text(INNER)
    env = {k: v for k, v in os.environ.items() if k != "SEQVIZ_TEST_TMP"}
    env.update(TMPDIR=str(root), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "pytest", str(here), "-p", "tests.conftest", "-n", "2", "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(here), "-c", os.devnull],
                          cwd=here, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert list(root.iterdir()) == []


def test_this_run_writes_its_temp_files_in_the_dir_it_removes():
    import tempfile

    assert os.environ["TMPDIR"] == os.environ["SEQVIZ_TEST_TMP"] == tempfile.gettempdir()
    assert os.path.basename(tempfile.gettempdir()).startswith("seqviz-tests-")
