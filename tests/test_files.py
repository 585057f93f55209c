"""finetuning.files: located read errors, atomic writes with ordinary modes."""

import os
import stat

import pytest

from finetuning import errors
from finetuning import files


def test_read_text_lines_bom_crlf_and_empty(tmp_path):
  p = tmp_path / "a.tsv"
  p.write_bytes(b"\xef\xbb\xbfa\tB\r\nb\tO\r\n")
  assert files.read_text_lines(str(p), "x") == ["a\tB", "b\tO"]
  (tmp_path / "e.tsv").write_text("\n\n")
  with pytest.raises(errors.InputError, match="e.tsv: file is empty"):
    files.read_text_lines(str(tmp_path / "e.tsv"), "token<TAB>tag lines")
  assert files.read_text_lines(str(tmp_path / "e.tsv"), "x",
                               allow_empty=True) == []
  with pytest.raises(errors.InputError, match="file not found"):
    files.read_text_lines(str(tmp_path / "none.tsv"), "x")
  with pytest.raises(errors.InputError, match="is a directory"):
    files.read_text_lines(str(tmp_path), "x")


def test_bad_utf8_is_reported_by_line_and_column(tmp_path):
  p = tmp_path / "big.tsv"
  p.write_bytes(b"a\tO\n" * 99999 + b"ab\xff\tO\n")
  with pytest.raises(errors.InputError) as e:
    files.read_text_lines(str(p), "x")
  assert str(e.value) == ("%s:100000: not UTF-8 text: byte 0xff at column 3"
                          % p)


def test_read_json_errors(tmp_path):
  p = tmp_path / "c.json"
  p.write_text('{"a": 1,\n "b": }\n')
  with pytest.raises(errors.InputError, match=r"c.json:2: not valid JSON "
                     r"\(expected a config\)"):
    files.read_json(str(p), "a config")
  p.write_bytes(b'\xef\xbb\xbf{"a": 1}')
  assert files.read_json(str(p), "x") == {"a": 1}


def test_atomic_write_leaves_no_partial_file(tmp_path):
  path = str(tmp_path / "out.txt")
  files.atomic_write(path, "old\n")
  with pytest.raises(TypeError):
    files.atomic_write(path, object())
  with open(path) as f:
    assert f.read() == "old\n"
  assert os.listdir(str(tmp_path)) == ["out.txt"]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600),
                                        (0o002, 0o664)])
def test_atomic_write_honours_the_umask(tmp_path, umask, mode):
  old = os.umask(umask)
  try:
    files.atomic_write(str(tmp_path / "f.txt"), "x")
  finally:
    os.umask(old)
  assert stat.S_IMODE(os.stat(str(tmp_path / "f.txt")).st_mode) == mode
