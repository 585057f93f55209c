"""Relation extraction: run_re.py, re_eval.py and the fold runner."""

import json
import os

import pytest

from biocodes import re_eval
from biocodes import re_io
from biocodes import run_re_folds
from finetuning import errors
from tests.conftest import DATA
from tests.helpers import bert_flags, run_tool

GAD = os.path.join(DATA, "RE", "GAD")


def _gad_slice(src_fold, dst, n_train=64, n_test=24):
  os.makedirs(dst, exist_ok=True)
  with open(os.path.join(src_fold, "train.tsv"), encoding="utf-8") as f:
    train = f.read().splitlines()
  # Take both labels into training.
  pos = [l for l in train if l.endswith("\t1")][:n_train // 2]
  neg = [l for l in train if l.endswith("\t0")][:n_train // 2]
  with open(os.path.join(dst, "train.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(pos + neg) + "\n")
  with open(os.path.join(src_fold, "test.tsv"), encoding="utf-8") as f:
    test = f.read().splitlines()
  with open(os.path.join(dst, "test.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(test[:n_test + 1]) + "\n")
  open(os.path.join(dst, "dev.tsv"), "w").close()
  return test[1:n_test + 1]


def _re_flags(tiny_bert_dir, **kw):
  flags = {"max_seq_length": 48, "train_batch_size": 16,
           "num_train_epochs": 1.0, "learning_rate": 1e-3, "seed": 2,
           "do_lower_case": "false"}
  flags.update(kw)
  return ["--%s=%s" % kv for kv in flags.items()] + bert_flags(tiny_bert_dir)


def test_gad_train_predict_and_score(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "gad")
  test_rows = _gad_slice(os.path.join(GAD, "1"), data)
  out = tmp_path / "out"
  result = run_tool(["run_re.py", "--task_name=gad", "--do_train=true",
                     "--do_eval=true", "--do_predict=true",
                     "--data_dir=" + data, "--output_dir=" + str(out)] +
                    _re_flags(tiny_bert_dir))
  # Empty dev.tsv: a message, no crash, no eval file.
  assert "dev.tsv is empty: nothing to evaluate" in result.stdout
  assert not (out / "eval_results.txt").exists()
  lines = (out / "test_results.tsv").read_text().splitlines()
  assert len(lines) == len(test_rows) == 24
  for line in lines:
    probs = [float(x) for x in line.split("\t")]
    assert len(probs) == 2 and abs(sum(probs) - 1) < 1e-5
  # Long GAD sentences at 48 pieces: counted and reported.
  assert "test sentences are longer than 46 word pieces and were cut" in (
      result.stdout)
  scored = run_tool(["biocodes/re_eval.py",
                     "--output_path=" + str(out / "test_results.tsv"),
                     "--answer_path=" + os.path.join(data, "test.tsv")])
  names = [l.split(" : ")[0] for l in scored.stdout.splitlines()]
  assert names == ["f1 score   ", "recall     ", "precision  ",
                   "specificity"]
  # The printed numbers are those of the module on the same files.
  scores, _ = re_eval.evaluate(str(out / "test_results.tsv"),
                               os.path.join(data, "test.tsv"))
  assert scored.stdout == re_eval.format_scores(scores)


CHEMPROT_TRAIN = [
    ("@CHEMICAL$ inhibits @GENE$ activity in vitro.", "cpr:4"),
    ("@CHEMICAL$ is a substrate of @GENE$.", "cpr:9"),
    ("@GENE$ is upregulated by @CHEMICAL$.", "cpr:3"),
    ("@CHEMICAL$ is an agonist of @GENE$.", "cpr:5"),
    ("@CHEMICAL$ antagonizes @GENE$ signalling.", "cpr:6"),
    ("@CHEMICAL$ was given and @GENE$ was measured.", "false"),
] * 4


def _chemprot_fixture(directory):
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, "train.tsv"), "w") as f:
    f.write("".join("%s\t%s\n" % r for r in CHEMPROT_TRAIN))
  with open(os.path.join(directory, "dev.tsv"), "w") as f:
    f.write("".join("%s\t%s\n" % r for r in CHEMPROT_TRAIN[:6]))
  with open(os.path.join(directory, "test.tsv"), "w") as f:
    f.write("index\tsentence\tlabel\n")
    f.write("".join("%d\t%s\t%s\n" % (i, s, l)
                    for i, (s, l) in enumerate(CHEMPROT_TRAIN[:6])))


def test_chemprot_fixture_end_to_end(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "chemprot")
  _chemprot_fixture(data)
  out = tmp_path / "out"
  run_tool(["run_re.py", "--task_name=chemprot", "--do_train=true",
            "--do_eval=true", "--do_predict=true", "--data_dir=" + data,
            "--output_dir=" + str(out)] +
           _re_flags(tiny_bert_dir, train_batch_size=8))
  keys = [l.split(" = ")[0] for l in
          (out / "eval_results.txt").read_text().splitlines()]
  assert keys == ["eval_accuracy", "eval_loss", "global_step", "loss"]
  assert "global_step = 3\n" in (out / "eval_results.txt").read_text()
  lines = (out / "test_results.tsv").read_text().splitlines()
  assert len(lines) == 6 and all(len(l.split("\t")) == 6 for l in lines)
  manifest = json.loads((out / "run_manifest.json").read_text())
  assert manifest["labels"] == ["cpr:3", "cpr:4", "cpr:5", "cpr:6", "cpr:9",
                                "false"]
  scored = run_tool(["biocodes/re_eval.py", "--task=chemprot",
                     "--output_path=" + str(out / "test_results.tsv"),
                     "--answer_path=" + os.path.join(data, "test.tsv")])
  assert [l.split(" : ")[0] for l in scored.stdout.splitlines()] == [
      "f1 score   ", "recall     ", "precision  "]


def _write(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


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
  labels = re_io.TASK_LABELS["chemprot"]
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


def test_unknown_task_exits_2(tiny_bert_dir, tmp_path):
  result = run_tool(["run_re.py", "--task_name=ddi", "--do_train=true",
                     "--data_dir=" + str(tmp_path),
                     "--output_dir=" + str(tmp_path / "o")] +
                    bert_flags(tiny_bert_dir), expect_ok=False)
  assert result.returncode == 2
  assert "--task_name=ddi: expected one of chemprot, euadr, gad" in (
      result.stderr)


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
  mean, sd = run_re_folds.mean_sd(f1s)
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
  assert run_re_folds.mean_sd([0.5]) == (0.5, 0.0)
  mean, sd = run_re_folds.mean_sd([0.2, 0.4, 0.6])
  assert mean == pytest.approx(0.4) and sd == pytest.approx(0.2)
