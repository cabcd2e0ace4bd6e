"""seqviz.batch without a model: reading a file's inputs, the progress line, the options."""
import pytest

from seqviz import batch
from seqviz.errors import SeqvizError


def test_a_csv_column_or_the_lines_of_a_text_file():
    assert batch.text_rows(b"text,label\nhello there,a\n,b\nbye,c\n", "x.csv") == [
        ("data row 1", "hello there"), ("data row 2", ""), ("data row 3", "bye")]     # empty kept: the model says why
    assert batch.text_rows(b"one\n\n  \ntwo\r\n", "x.txt") == [("line 1", "one"), ("line 4", "two")]
    assert batch.text_rows(b"source\n3 1 4\n", "p.csv", "source") == [("data row 1", "3 1 4")]
    with pytest.raises(SeqvizError, match="needs the columns source"):
        batch.text_rows(b"text\nx\n", "p.csv", "source")


def test_each_puts_a_refusal_in_its_rows_place():
    def one(bundle, x):
        if not x:
            raise SeqvizError("empty")
        return {"x": x}
    got = batch.each(one)(None, ["a", "", "b"])
    assert got[0] == {"x": "a"} and isinstance(got[1], SeqvizError) and got[2] == {"x": "b"}


def test_progress_line_and_options():
    assert batch.progress_line(1024, 10_000, 2.0) == "1,024/10,000 rows · 512 rows/s · 18 s left"
    assert batch.progress_line(5, 5, 0.0).startswith("5/5 rows")
    for size, on_error, says in ((0, "stop", "from 1 to 4096"), (10, "ignore", "one of stop, skip")):
        with pytest.raises(SeqvizError, match=says):
            batch.check_options(size, on_error)
