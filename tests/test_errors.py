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


def test_disk_full_is_one_line(capsys):
  import errno
  import os

  def main(argv):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/out/x.json")

  with pytest.raises(SystemExit) as e:
    errors.run_main(main)([])
  assert e.value.code == 1
  assert capsys.readouterr().err == (
      "error: no space left on device (writing /out/x.json): free some "
      "space, then run the same command again: training resumes from the "
      "last checkpoint\n")


def test_tensorflow_disk_full_is_one_line(capsys):
  import tensorflow.compat.v1 as tf

  def main(argv):
    raise tf.errors.ResourceExhaustedError(
        None, None, "/out/model.ckpt-5.data-00000-of-00001.tempstate; No "
        "space left on device")

  with pytest.raises(SystemExit) as e:
    errors.run_main(main)([])
  assert e.value.code == 1
  assert capsys.readouterr().err.startswith(
      "error: no space left on device (writing "
      "/out/model.ckpt-5.data-00000-of-00001.tempstate): free some space")


def test_other_exceptions_stay_visible():
  def main(argv):
    raise ZeroDivisionError("a bug")

  with pytest.raises(ZeroDivisionError):
    errors.run_main(main)([])
