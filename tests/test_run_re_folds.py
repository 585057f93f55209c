"""biocodes/run_re_folds.py: every fold, then mean and sd."""

import json
import os

import pytest

from biocodes import re_eval
from biocodes import metrics
from tests.conftest import DATA
from tests.helpers import run_tool
from tests.test_re import _gad_slice, _re_flags

GAD = os.path.join(DATA, "RE", "GAD")


def test_fold_runner_on_two_folds(tiny_bert_dir, tmp_path):
  data = tmp_path / "GAD"
  for fold in ("1", "2"):
    _gad_slice(os.path.join(GAD, fold), str(data / fold), n_train=32,
               n_test=8)
  (data / "README").write_text("not a fold")
  out = tmp_path / "out"
  result = run_tool(["biocodes/run_re_folds.py", "--data_dir=" + str(data),
                     "--output_dir=" + str(out), "--task_name=gad"] +
                    _re_flags(tiny_bert_dir))
  for fold in ("1", "2"):
    assert len((out / fold / "test_results.tsv").read_text().splitlines()) == 8
  summary = json.loads((out / "folds_summary.json").read_text())
  assert sorted(summary["folds"]) == ["1", "2"]
  f1s = [summary["folds"][f]["f1 score"] for f in ("1", "2")]
  mean, sd = metrics.mean_sd(f1s)
  assert summary["mean"]["f1 score"] == pytest.approx(mean)
  assert summary["sd"]["f1 score"] == pytest.approx(sd)
  tsv = (out / "folds_summary.tsv").read_text().splitlines()
  assert tsv[0] == "fold\tprecision\trecall\tf1 score\tspecificity"
  assert [l.split("\t")[0] for l in tsv[1:]] == ["1", "2", "mean", "sd"]
  assert "=== 2 folds (percent)" in result.stdout
  # Each fold's score equals re_eval on that fold's files.
  scores, _ = re_eval.evaluate(str(out / "1" / "test_results.tsv"),
                               str(data / "1" / "test.tsv"))
  assert summary["folds"]["1"] == pytest.approx(dict(scores))


def test_mean_sd():
  assert metrics.mean_sd([0.5]) == (0.5, 0.0)
  mean, sd = metrics.mean_sd([0.2, 0.4, 0.6])
  assert mean == pytest.approx(0.4) and sd == pytest.approx(0.2)


def test_a_malformed_later_fold_stops_before_any_training(tiny_bert_dir,
                                                          tmp_path):
  data = tmp_path / "GAD"
  for fold in ("1", "2"):
    _gad_slice(os.path.join(GAD, fold), str(data / fold), n_train=32,
               n_test=8)
  with open(data / "2" / "test.tsv", "a") as f:
    f.write("99\tA sentence without its label\n")
  out = tmp_path / "out"
  result = run_tool(["biocodes/run_re_folds.py", "--data_dir=" + str(data),
                     "--output_dir=" + str(out), "--task_name=gad"] +
                    _re_flags(tiny_bert_dir), expect_ok=False)
  assert result.returncode == 2
  assert result.stderr.startswith("error: %s:10: " % (data / "2" / "test.tsv"))
  assert not out.exists()
