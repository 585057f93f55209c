"""finetuning/cluster.py's helpers that both Dask tools use."""

from finetuning import cluster


def test_durations_for_people():
  assert [cluster.duration(s) for s in (0, 44.6, 185, 3725, -3)] == [
      "0 s", "45 s", "3 min 05 s", "1 h 02 min", "0 s"]


def test_eta_at_the_pace_of_finished_jobs():
  assert cluster.eta(120.0, 2, 3) == "3 min 00 s"
  assert cluster.eta(120.0, 0, 3) is None  # nothing finished yet
  assert cluster.eta(120.0, 2, 0) is None  # nothing left


def test_pin_worker_outside_a_worker_changes_nothing(monkeypatch):
  import os
  before = os.sched_getaffinity(0)
  monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
  cluster.pin_worker()
  assert os.sched_getaffinity(0) == before
  assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_a_folder_of_other_files_is_not_an_output_dir(tmp_path):
  import pytest
  from finetuning import errors
  cluster.check_own_output_dir(str(tmp_path / "new"), "m.json", "x.py", "y")
  cluster.check_own_output_dir(str(tmp_path), "m.json", "x.py", "y")  # empty
  (tmp_path / "notes.txt").write_text("mine")
  with pytest.raises(errors.UserError) as e:
    cluster.check_own_output_dir(str(tmp_path), "m.json", "x.py", "its runs")
  assert str(e.value) == (
      "--output_dir=%s is not empty (notes.txt) and holds no m.json: it is "
      "not the output of x.py, and its runs would be mixed with what is "
      "there. Use a new or empty --output_dir." % tmp_path)
  (tmp_path / "m.json").write_text("{}")
  cluster.check_own_output_dir(str(tmp_path), "m.json", "x.py", "y")
