"""finetuning.selection: dev evaluation during training, the best
checkpoint, early stopping, resume of the history."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from finetuning import estimator as est
from finetuning import records
from finetuning import selection
from finetuning import training
from tests import toy_task


def _setup(tiny_bert_dir, out, num_steps=12, **kw):
  fmt = records.RecordFormat(toy_task.FIELDS, toy_task.SEQ)
  path = os.path.join(out, "train.tf_record")
  os.makedirs(out, exist_ok=True)
  fmt.write(toy_task.features(), path)
  config = toy_task.config(tiny_bert_dir, out, eval_every_n_steps=3,
                           do_train=True, num_train_epochs=2.0,
                           save_checkpoints_steps=100, **kw)
  data = training.TrainingData(path, {"num_features": 24}, num_steps, 1)
  estimator = est.create_estimator(config, toy_task.bert_config(
      tiny_bert_dir), toy_task.head, num_steps, 1)
  return config, fmt, data, estimator


def _scripted(values, calls):
  def score_dev():
    value = values[len(calls)]
    calls.append(value)
    return "f1", value, {"n": len(calls)}
  return score_dev


def test_eval_schedule(tiny_bert_dir, tmp_path):
  def schedule(total, per_epoch, **kw):
    config = toy_task.config(tiny_bert_dir, str(tmp_path), do_train=True,
                             num_train_epochs=3.0, **kw)
    data = training.TrainingData("x", {}, total, 0, per_epoch)
    return selection.eval_schedule(config, data)

  assert schedule(12, 4.0, eval_every_n_steps=3) == {
      3: 0.75, 6: 1.5, 9: 2.25, 12: 3.0}
  assert schedule(12, 4.0, eval_every_n_steps=5) == {5: 1.25, 10: 2.5,
                                                     12: 3.0}
  # 4.25 steps an epoch (34 examples, batch 8): epochs end at steps 4, 8
  # and 12 (rounded), the last evaluation at the final step 12.
  assert schedule(12, 4.25, eval_every_epoch=True) == {4: 1.0, 8: 2.0,
                                                       12: 3.0}
  assert schedule(13, 4.4, eval_every_epoch=True) == {4: 1.0, 9: 2.0,
                                                      13: 3.0}


def test_best_checkpoint_is_kept_and_history_written(tiny_bert_dir,
                                                     tmp_path):
  out = str(tmp_path / "run")
  config, fmt, data, estimator = _setup(tiny_bert_dir, out, keep_best=True)
  calls, lines = [], []
  history = selection.train_with_dev_evaluation(
      estimator, config, fmt, data, _scripted([0.2, 0.5, 0.4, 0.3], calls),
      log=lines.append)
  assert [r["step"] for r in history] == [3, 6, 9, 12]
  assert [r["epoch"] for r in history] == [0.5, 1.0, 1.5, 2.0]
  assert lines[1] == "dev at step 6 (epoch 1.00): f1 0.5000 (best so far)"
  with open(os.path.join(out, "dev_scores.jsonl")) as f:
    assert [json.loads(l)["value"] for l in f] == [0.2, 0.5, 0.4, 0.3]
  best = selection.best_checkpoint(out)
  assert best == os.path.join(out, "best", "model.ckpt-6")
  # The kept weights are those of step 6, not of the end.
  kept = tf.train.load_checkpoint(best)
  assert kept.get_tensor("global_step") == 6
  final = tf.train.load_checkpoint(tf.train.latest_checkpoint(out))
  assert final.get_tensor("global_step") == 12
  assert np.abs(kept.get_tensor("output_weights") -
                final.get_tensor("output_weights")).max() > 0
  # TensorBoard scalars, in one events file for the run (files are named by
  # the second: a file per evaluation lost evaluations a second apart).
  assert len(os.listdir(os.path.join(out, "dev"))) == 1
  events = [e for name in os.listdir(os.path.join(out, "dev"))
            for e in tf.train.summary_iterator(os.path.join(out, "dev",
                                                            name))]
  scalars = [(e.step, round(v.simple_value, 6)) for e in events
             for v in e.summary.value if v.tag == "dev/f1"]
  assert sorted(scalars) == [(3, 0.2), (6, 0.5), (9, 0.4), (12, 0.3)]


def test_early_stopping(tiny_bert_dir, tmp_path):
  out = str(tmp_path / "run")
  config, fmt, data, estimator = _setup(tiny_bert_dir, out,
                                        early_stopping_patience=2)
  calls, lines = [], []
  selection.train_with_dev_evaluation(
      estimator, config, fmt, data, _scripted([0.5, 0.4, 0.3, 0.9], calls),
      log=lines.append)
  # Two evaluations without improvement after step 3: stop at step 9.
  assert calls == [0.5, 0.4, 0.3]
  assert est.checkpoint_step(out) == 9
  assert lines[-1].startswith("Early stopping: 2 evaluations without "
                              "improvement on dev (best f1 0.5000)")


def test_resumed_run_keeps_its_history(tiny_bert_dir, tmp_path):
  out = str(tmp_path / "run")
  config, fmt, data, estimator = _setup(tiny_bert_dir, out, keep_best=True)
  calls = []
  with pytest.raises(IndexError):  # "crashes" at the third evaluation
    selection.train_with_dev_evaluation(
        estimator, config, fmt, data, _scripted([0.2, 0.5], calls),
        log=lambda line: None)
  assert est.checkpoint_step(out) == 9
  more = []
  selection.train_with_dev_evaluation(
      estimator, config, fmt, data, _scripted([0.1, 0.7], more),
      log=lambda line: None)
  # Step 9 was trained but not scored: scored now, then 12.
  history = selection.read_history(out)
  assert [(r["step"], r["value"]) for r in history] == [
      (3, 0.2), (6, 0.5), (9, 0.1), (12, 0.7)]
  assert selection.best_checkpoint(out).endswith("model.ckpt-12")
