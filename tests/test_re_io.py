"""biocodes/re_io.py: the relation extraction files."""

import pytest

from biocodes import re_io
from finetuning import errors
from tests.helpers import write_file as _write


def test_reader_detects_header_and_keeps_every_row(tmp_path):
  no_header = _write(tmp_path / "t.tsv", "0\tfirst row\t1\n1\tsecond\t0\n")
  rows = re_io.read_rows(no_header, labels=["0", "1"])
  assert [r.sentence for r in rows] == ["first row", "second"]
  with_header = _write(tmp_path / "h.tsv",
                       "index\tsentence\tlabel\n0\tfirst row\t1\n")
  assert [r.index for r in re_io.read_rows(with_header)] == ["0"]
  assert re_io.read_rows(with_header)[0].line == 2


def test_reader_errors_name_file_and_line(tmp_path):
  bad = _write(tmp_path / "train.tsv", "a\t1\nb\t0\tx\n")
  with pytest.raises(errors.InputError,
                     match=r"train.tsv:2: expected 2 tab-separated fields"):
    re_io.read_rows(bad)
  bad = _write(tmp_path / "train.tsv", "a\t1\nb\t2\n")
  with pytest.raises(errors.InputError,
                     match=r"train.tsv:2: label '2' is not one of"):
    re_io.read_rows(bad, labels=["0", "1"])
  bad = _write(tmp_path / "train.tsv", "just text\n")
  with pytest.raises(errors.InputError, match=r"train.tsv:1: expected 2"):
    re_io.read_rows(bad)
  empty = _write(tmp_path / "dev.tsv", "")
  assert re_io.read_rows(empty, allow_empty=True) == []
  with pytest.raises(errors.InputError, match="file is empty"):
    re_io.read_rows(empty)
