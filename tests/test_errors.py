"""finetuning.errors: one `error:` line and exit 2, never a traceback."""

import pytest

from finetuning import errors


def test_messages_name_the_place():
  assert str(errors.InputError("a.tsv", 3, "bad tag")) == "a.tsv:3: bad tag"
  assert str(errors.InputError("a.tsv", None, "empty")) == "a.tsv: empty"
  assert str(errors.FlagError("doc_stride", 0, "a whole number >= 1")) == (
      "--doc_stride=0: expected a whole number >= 1")


def test_run_main_exits_2_with_one_line(capsys):
  def main(argv):
    raise errors.InputError("x.json", 2, "not valid JSON")

  with pytest.raises(SystemExit) as e:
    errors.run_main(main)([])
  assert e.value.code == 2
  assert capsys.readouterr().err == "error: x.json:2: not valid JSON\n"


def test_ctrl_c_is_one_line(capsys):
  def main(argv):
    raise KeyboardInterrupt()

  with pytest.raises(SystemExit) as e:
    errors.run_main(main)([])
  assert e.value.code == 130
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and err.startswith("interrupted:")
