"""biocodes/re_eval.py: relation extraction scores as the original printed them."""

import pytest

from tasks import datasets
from biocodes import re_eval
from finetuning import errors
from tests.helpers import run_tool
from tests.helpers import write_file as _write


def test_re_eval_binary_hand_computed(tmp_path):
  # gold:  1 1 1 0 0 1
  # pred:  1 0 1 0 1 1   (argmax of each row)
  probs = "0.2\t0.8\n0.9\t0.1\n0.4\t0.6\n0.7\t0.3\n0.1\t0.9\n0.3\t0.7\n"
  answers = "index\tsentence\tlabel\n" + "".join(
      "%d\ts%d\t%s\n" % (i, i, l) for i, l in enumerate("111001"))
  scores, notes = re_eval.evaluate(_write(tmp_path / "p.tsv", probs),
                                   _write(tmp_path / "a.tsv", answers))
  # TP=3 (rows 0,2,5), predicted 1: 4, gold 1: 4, TN=1 of gold 0: 2.
  assert dict(scores) == pytest.approx({"f1 score": 0.75, "recall": 0.75,
                                        "precision": 0.75,
                                        "specificity": 0.5})
  assert notes == []
  assert re_eval.format_scores(scores) == (
      "f1 score    : 75.00%\nrecall      : 75.00%\n"
      "precision   : 75.00%\nspecificity : 50.00%\n")


def test_re_eval_binary_never_predicting_1_gives_zero_and_a_note(tmp_path):
  probs = "0.9\t0.1\n0.8\t0.2\n"
  answers = "index\tsentence\tlabel\n0\ta\t1\n1\tb\t0\n"
  scores, notes = re_eval.evaluate(_write(tmp_path / "p.tsv", probs),
                                   _write(tmp_path / "a.tsv", answers))
  assert dict(scores) == {"f1 score": 0.0, "recall": 0.0, "precision": 0.0,
                          "specificity": 1.0}
  assert notes == ["precision (no row predicted 1) is undefined (0/0); "
                   "reported as 0"]


def test_re_eval_chemprot_micro_with_a_class_never_predicted(tmp_path):
  labels = datasets.relation_set("chemprot").labels
  gold = ["cpr:3", "cpr:4", "cpr:4", "cpr:9", "false", "false", "cpr:6"]
  pred = ["cpr:3", "cpr:4", "false", "cpr:4", "cpr:3", "false", "cpr:6"]
  probs = "".join("\t".join("0.9" if l == p else "0.02" for l in labels) +
                  "\n" for p in pred)
  answers = "index\tsentence\tlabel\n" + "".join(
      "%d\ts\t%s\n" % (i, g) for i, g in enumerate(gold))
  scores, notes = re_eval.evaluate(_write(tmp_path / "p.tsv", probs),
                                   _write(tmp_path / "a.tsv", answers),
                                   task="chemprot")
  # CPR predictions: cpr:3, cpr:4, cpr:4, cpr:3, cpr:6 = 5, of which right:
  # rows 0, 1, 6 = 3. Gold CPR: 5 (rows 0,1,2,3,6). cpr:5 and cpr:9 are
  # never predicted.
  assert dict(scores) == pytest.approx({"f1 score": 0.6, "recall": 0.6,
                                        "precision": 0.6})
  assert notes == []


def test_re_eval_errors(tmp_path):
  answers = _write(tmp_path / "a.tsv", "index\tsentence\tlabel\n0\ta\t1\n")
  p = _write(tmp_path / "p.tsv", "0.1\t0.9\n0.2\t0.8\n")
  with pytest.raises(errors.UserError, match="2 predictions but .* has 1"):
    re_eval.evaluate(p, answers)
  result = run_tool(["biocodes/re_eval.py", "--output_path=" + p,
                     "--answer_path=" + answers], expect_ok=False)
  assert result.returncode == 2 and "Traceback" not in result.stderr
