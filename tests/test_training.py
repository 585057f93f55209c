"""finetuning.training: resume after a crash, seeds, step counts, the cache."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from finetuning import estimator as est
from finetuning import records
from finetuning import training
from tests import toy_task


class _Crash(tf.train.SessionRunHook):
  """Raises after `at` steps of this session, like a killed job."""

  def __init__(self, at):
    self.at = at
    self.n = 0

  def after_run(self, run_context, run_values):
    self.n += 1
    if self.n == self.at:
      raise RuntimeError("simulated crash")


def _train(tiny_bert_dir, out, num_steps=8, seed=1, hooks=(), data_seed=1):
  fmt = records.RecordFormat(toy_task.FIELDS, toy_task.SEQ)
  path = os.path.join(out, "train.tf_record")
  fmt.write(toy_task.features(), path)
  config = toy_task.config(tiny_bert_dir, out, seed=data_seed)
  data = training.TrainingData(path, {"num_features": 24}, num_steps, 1)
  model_fn = est.model_fn_builder(toy_task.bert_config(tiny_bert_dir),
                                  toy_task.head, tiny_bert_dir["ckpt"], 1e-3,
                                  num_steps, 1)
  estimator = tf.estimator.Estimator(model_fn, config=tf.estimator.RunConfig(
      model_dir=out, tf_random_seed=seed, save_checkpoints_steps=3))
  seen = []
  hook = _Progress(seen)
  assert training.train(estimator, config, fmt, data,
                        hooks=[hook] + list(hooks))
  return seen


class _Progress(tf.train.SessionRunHook):
  def __init__(self, seen):
    self.seen = seen

  def after_create_session(self, session, coord):
    self.seen.append(int(session.run(tf.train.get_global_step())))


def test_resume_after_interruption_ends_at_same_step(tiny_bert_dir, tmp_path):
  out = str(tmp_path)
  with pytest.raises(RuntimeError, match="simulated crash"):
    _train(tiny_bert_dir, out, hooks=[_Crash(5)])
  # The crash came after step 5; the last checkpoint is step 3.
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-3")
  assert _train(tiny_bert_dir, out) == [3]
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-8")
  # Running the same command again after the end trains no further.
  _train(tiny_bert_dir, out)
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-8")


def _final_weights(out):
  reader = tf.train.load_checkpoint(out)
  return reader.get_tensor("output_weights"), reader.get_tensor(
      "bert/pooler/dense/kernel")


def test_seed_makes_runs_reproducible(tiny_bert_dir, tmp_path):
  runs = {}
  for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
    out = str(tmp_path / name)
    os.makedirs(out)
    _train(tiny_bert_dir, out, num_steps=4, seed=seed, data_seed=seed)
    runs[name] = _final_weights(out)
  for x, y in zip(runs["a"], runs["b"]):
    np.testing.assert_array_equal(x, y)
  assert np.abs(runs["a"][0] - runs["c"][0]).max() > 0


def test_prepare_training_counts_steps_and_builds_once(tiny_bert_dir,
                                                       tmp_path):
  data = tmp_path / "train.tsv"
  data.write_text("x\n")
  fmt = records.RecordFormat(toy_task.FIELDS, toy_task.SEQ)
  config = toy_task.config(tiny_bert_dir, str(tmp_path / "out"),
                           cache_dir=str(tmp_path / "cache"),
                           num_train_epochs=2.0, warmup_proportion=0.25)
  calls = []

  def build():
    calls.append(1)
    return toy_task.features(), {"questions": 12}

  first = training.prepare_training(config, fmt, [str(data)], None, build)
  assert (first.num_train_steps, first.num_warmup_steps) == (12, 3)
  assert first.info == {"questions": 12, "num_features": 24,
                        "record_bytes": os.path.getsize(first.record_file)}
  again = training.prepare_training(config, fmt, [str(data)], None, build,
                                    count_examples=lambda i: i["questions"])
  assert calls == [1]  # the second call used the cache
  assert (again.num_train_steps, again.num_warmup_steps) == (6, 1)


def test_max_train_steps_caps_steps_and_warmup(tiny_bert_dir, tmp_path):
  fmt = records.RecordFormat(toy_task.FIELDS, toy_task.SEQ)
  build = lambda: (toy_task.features(), {})
  plans = {}
  for cap in (0, 5, 100):
    config = toy_task.config(tiny_bert_dir, str(tmp_path), cache_dir="",
                             num_train_epochs=3.0, warmup_proportion=0.2,
                             max_train_steps=cap)
    plan = training.plan_training(config, fmt, [], None, build)
    plans[cap] = (plan.num_train_steps, plan.num_warmup_steps)
  # 24 features, batch 4, 3 epochs: 18 steps, 3 of warmup.
  assert plans == {0: (18, 3), 5: (5, 1), 100: (18, 3)}
