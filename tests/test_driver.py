"""finetuning.driver: a new task in a few lines, run end to end."""

import json
import os

import pytest

from finetuning import driver
from finetuning import errors
from finetuning import files
from tests import toy_task


class ParityTask(driver.Task):
  """Is the number of words even? (A task written only for this test.)"""

  name = "parity"
  fields = toy_task.FIELDS

  def read_inputs(self, config):
    inputs = {}
    for split, wanted in (("train", config.do_train),
                          ("dev", config.do_eval),
                          ("test", config.do_predict)):
      if wanted:
        path = os.path.join(config.data_dir, split + ".txt")
        inputs[split] = driver.Split(files.read_text_lines(path, "text"),
                                     path)
    return inputs

  def label_list(self, inputs, recorded):
    return ["even", "odd"]

  def _features(self, lines, tokenizer):
    feats = []
    for line in lines:
      tokens = ["[CLS]"] + tokenizer.tokenize(line)[:toy_task.SEQ - 2] + [
          "[SEP]"]
      feats.append({"input_ids": tokenizer.convert_tokens_to_ids(tokens),
                    "input_mask": [1] * len(tokens),
                    "segment_ids": [0] * len(tokens),
                    "label_ids": len(line.split()) % 2})
    return feats

  def training_features(self, examples, tokenizer, config, labels):
    return self._features(examples, tokenizer), {"lines": len(examples)}

  def head_fn(self, labels):
    return toy_task.head

  def evaluate(self, context, split):
    results = context.predict(self._features(split.examples,
                                             context.tokenizer),
                              context.config.eval_batch_size,
                              "eval.tf_record")
    right = sum(int(r["probabilities"].argmax()) == len(l.split()) % 2
                for r, l in zip(results, split.examples))
    return {"accuracy": right / len(results)}

  def predict(self, context, split):
    results = context.predict(self._features(split.examples,
                                             context.tokenizer),
                              context.config.predict_batch_size,
                              "predict.tf_record")
    files.atomic_write(context.config.path("answers.tsv"), "".join(
        "%s\t%s\n" % (l, context.labels[int(r["probabilities"].argmax())])
        for l, r in zip(split.examples, results)))


def _data(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  lines = ["the gene", "the cancer gene", "of disease", "in patients with",
           "tumor", "gene and disease"] * 4
  for split in ("train", "dev", "test"):
    (data / (split + ".txt")).write_text("\n".join(lines) + "\n")
  return str(data)


def test_a_new_task_trains_evaluates_and_predicts(tiny_bert_dir, tmp_path):
  out = str(tmp_path / "out")
  config = toy_task.config(tiny_bert_dir, out, data_dir=_data(tmp_path),
                           do_train=True, do_eval=True, do_predict=True,
                           num_train_epochs=1.0, cache_dir="")
  driver.run(ParityTask(), config)
  manifest = json.load(open(os.path.join(out, "run_manifest.json")))
  assert manifest["task"] == "parity"
  assert manifest["labels"] == ["even", "odd"]
  # 24 lines, batch 4, one epoch: 6 steps.
  evals = open(os.path.join(out, "eval_results.txt")).read().splitlines()
  assert [l.split(" = ")[0] for l in evals] == ["accuracy", "global_step"]
  assert evals[1] == "global_step = 6"
  answers = open(os.path.join(out, "answers.tsv")).read().splitlines()
  assert len(answers) == 24
  assert all(a.split("\t")[1] in ("even", "odd") for a in answers)


def test_inputs_are_read_before_anything_is_written(tiny_bert_dir, tmp_path):
  out = tmp_path / "out"
  data = tmp_path / "empty"
  data.mkdir()
  config = toy_task.config(tiny_bert_dir, str(out), data_dir=str(data),
                           do_train=True)
  with pytest.raises(errors.InputError, match="train.txt: file not found"):
    driver.run(ParityTask(), config)
  assert not out.exists()


def test_eval_results_format(tmp_path):
  path = driver.write_eval_results(str(tmp_path), {"loss": 0.5,
                                                   "eval_accuracy": 0.75,
                                                   "global_step": 10})
  with open(path) as f:
    assert f.read() == ("eval_accuracy = 0.75\nglobal_step = 10\n"
                        "loss = 0.5\n")


LEAVING = r"""
import sys
sys.path.insert(0, ROOT)
import tensorflow.compat.v1 as tf
from finetuning import driver
from finetuning import errors

def main(argv):
  del argv
  mode = sys.argv[1]
  if mode == "user_error":
    raise errors.UserError("bad flag")
  if mode == "code":
    return 3
  writer = tf.summary.FileWriterCache.get(sys.argv[2])
  writer.add_summary(tf.Summary(value=[tf.Summary.Value(
      tag="loss", simple_value=0.25)]), 7)
  tf.logging.warning("the log line")
  sys.stdout.write("no newline on stdout")
  sys.stderr.write("no newline on stderr")

driver.start(main)
"""


@pytest.mark.parametrize("mode,code", [("ok", 0), ("user_error", 2),
                                       ("code", 3)])
def test_a_run_that_succeeds_leaves_with_everything_written(tmp_path, mode,
                                                            code):
  import subprocess
  import sys
  import tensorflow.compat.v1 as tf
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  script = tmp_path / "leave.py"
  script.write_text("ROOT = %r\n" % root + LEAVING)
  events = tmp_path / "events"
  result = subprocess.run([sys.executable, str(script), mode, str(events)],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == code, result.stderr[-2000:]
  if mode == "user_error":
    assert result.stderr.strip().splitlines()[-1] == "error: bad flag"
  if mode != "ok":
    return
  # Unflushed streams, the log line and the summary all reached their
  # destinations before the process ended.
  assert result.stdout.endswith("no newline on stdout")
  assert "the log line" in result.stderr
  assert result.stderr.endswith("no newline on stderr")
  values = [(e.step, v.tag, v.simple_value)
            for name in os.listdir(events)
            for e in tf.train.summary_iterator(str(events / name))
            for v in e.summary.value]
  assert values == [(7, "loss", 0.25)]


def test_another_run_in_a_finished_run_dir_is_refused(tiny_bert_dir,
                                                      tmp_path):
  """A run pointed by mistake at another run's dir, with other data, writes
  nothing there: not by training, not by predicting."""
  out = str(tmp_path / "out")
  data = _data(tmp_path)
  config = toy_task.config(tiny_bert_dir, out, data_dir=data, do_train=True,
                           do_predict=True, num_train_epochs=1.0,
                           cache_dir="")
  driver.run(ParityTask(), config)
  before = {n: open(os.path.join(out, n), "rb").read()
            for n in ("answers.tsv", "run_manifest.json",
                      "outputs_manifest.json")}
  other = tmp_path / "other"
  other.mkdir()
  for split in ("train", "dev", "test"):
    (other / (split + ".txt")).write_text("one two\nthree\n")
  with pytest.raises(errors.UserError, match="training_data_sha256.train"):
    driver.run(ParityTask(), toy_task.config(
        tiny_bert_dir, out, data_dir=str(other), do_train=True,
        do_predict=True, num_train_epochs=1.0, cache_dir=""))
  with pytest.raises(errors.UserError, match="training.num_train_epochs"):
    driver.run(ParityTask(), toy_task.config(
        tiny_bert_dir, out, data_dir=data, do_train=True, do_predict=True,
        num_train_epochs=2.0, cache_dir=""))
  with pytest.raises(errors.UserError, match="holds the test predictions"):
    driver.run(ParityTask(), toy_task.config(
        tiny_bert_dir, out, data_dir=str(other), do_predict=True,
        cache_dir=""))
  after = {n: open(os.path.join(out, n), "rb").read() for n in before}
  assert after == before
  # The same run again is accepted (it resumes, here with nothing to do).
  driver.run(ParityTask(), config)
