"""Choosing the model on dev: evaluation during training, the best
checkpoint, early stopping.

Training runs in stretches between evaluation points; after each, the
task's real metric is computed on the dev set with the newest checkpoint,
logged, appended to dev_scores.jsonl and written for TensorBoard
(<output_dir>/dev). With keep_best the best checkpoint so far is copied to
<output_dir>/best/ (so that keep_checkpoint_max never deletes it); with a
patience, training stops after that many evaluations without improvement.
A run killed half-way resumes: the history in dev_scores.jsonl is read
back, and evaluation points already scored are not scored again.
"""

import json
import os
import shutil

import tensorflow.compat.v1 as tf

from finetuning import errors
from finetuning import estimator as est
from finetuning import files
from finetuning import training as training_lib

DEV_SCORES = "dev_scores.jsonl"
BEST_DIR = "best"
BEST_RECORD = "best.json"


def steps_per_epoch(config, training):
  """Updates in one epoch (from the training data, else from the steps)."""
  return (training.steps_per_epoch or
          training.num_train_steps / config.num_train_epochs)


def eval_schedule(config, training):
  """{step: epoch} of the dev evaluations, the last at the final step.

  --eval_every_n_steps: every N steps; --eval_every_epoch: the step where
  each epoch ends (rounded), so that epoch k is scored after k passes.
  """
  total = training.num_train_steps
  per_epoch = steps_per_epoch(config, training)
  if config.eval_every_n_steps:
    points = list(range(config.eval_every_n_steps, total,
                        config.eval_every_n_steps)) + [total]
    return {p: round(p / per_epoch, 4) for p in points}
  schedule = {}
  epoch = 1
  while True:
    point = min(total, max(1, int(round(epoch * per_epoch))))
    schedule.setdefault(point, float(epoch))
    if point >= total:
      break
    epoch += 1
  return schedule


def read_history(output_dir):
  """The evaluations recorded in dev_scores.jsonl (oldest first)."""
  path = os.path.join(output_dir, DEV_SCORES)
  if not os.path.isfile(path):
    return []
  history = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.strip():
        try:
          history.append(json.loads(line))
        except ValueError:
          break  # a line cut by a crash: the rest is re-evaluated
  return history


def _append_history(output_dir, record, history):
  history.append(record)
  files.atomic_write(os.path.join(output_dir, DEV_SCORES), "".join(
      json.dumps(r, sort_keys=True) + "\n" for r in history))


def _tensorboard(writer, step, metric, value):
  """One dev score for TensorBoard, flushed (a killed run keeps it)."""
  writer.add_summary(tf.Summary(value=[tf.Summary.Value(
      tag="dev/" + metric, simple_value=float(value))]), step)
  writer.flush()


def best_checkpoint(output_dir):
  """The kept best checkpoint's prefix, or None."""
  record = os.path.join(output_dir, BEST_DIR, BEST_RECORD)
  if not os.path.isfile(record):
    return None
  best = files.read_json(record, "the record of the kept best checkpoint")
  if not isinstance(best, dict) or not isinstance(best.get("step"), int):
    raise errors.InputError(record, None, "expected {\"step\": N, ...}")
  return os.path.join(output_dir, BEST_DIR, "model.ckpt-%d" % best["step"])


def _keep(output_dir, checkpoint, record):
  """Copies `checkpoint` (prefix) into best/, replacing the previous one."""
  best = os.path.join(output_dir, BEST_DIR)
  tmp = best + ".tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  prefix = os.path.basename(checkpoint)
  for name in os.listdir(os.path.dirname(checkpoint)):
    if name.startswith(prefix + ".") and not name.endswith(".meta"):
      shutil.copy2(os.path.join(os.path.dirname(checkpoint), name), tmp)
  files.atomic_write(os.path.join(tmp, BEST_RECORD),
                     json.dumps(record, indent=2, sort_keys=True) + "\n")
  old = best + ".old"
  shutil.rmtree(old, ignore_errors=True)
  if os.path.isdir(best):
    os.replace(best, old)
  os.replace(tmp, best)
  shutil.rmtree(old, ignore_errors=True)


def train_with_dev_evaluation(estimator, config, record_format, training,
                              score_dev, log=print):
  """Trains, scoring the dev set at each evaluation point.

  Args:
    estimator, config, record_format, training: as `training.train`.
    score_dev: function of no argument: (metric name, value, details dict)
      of the newest checkpoint on the dev set; higher is better.
    log: where a line per evaluation goes.

  Returns:
    The history: a dict per evaluation (step, epoch, metric, value, details).
  """
  history = read_history(config.output_dir)
  schedule = eval_schedule(config, training)
  best, since_best = None, 0
  for r in history:
    if best is None or r["value"] > best:
      best, since_best = r["value"], 0
    else:
      since_best += 1
  scored = {r["step"] for r in history}
  start = est.checkpoint_step(config.output_dir)
  # Points not scored yet; one trained to but not scored (a crash during
  # its evaluation) is scored first.
  points = [p for p in sorted(schedule) if p >= start and p not in scored]
  # One events file for the run: TensorFlow names them by the second, so
  # a writer per evaluation overwrote the file of an evaluation made in the
  # same second.
  writer = tf.summary.FileWriter(os.path.join(config.output_dir, "dev"))
  try:
    for point in points:
      if (config.early_stopping_patience and
          since_best >= config.early_stopping_patience):
        log("Early stopping: %d evaluations without improvement on dev "
            "(best %s %.4f)" % (since_best, history[-1]["metric"], best))
        break
      if point > start:
        training_lib.train(estimator, config, record_format, training,
                           max_steps=point)
      step = est.checkpoint_step(config.output_dir)
      metric, value, details = score_dev()
      record = {"step": step, "epoch": schedule.get(step, round(
          step / steps_per_epoch(config, training), 4)),
                "metric": metric, "value": value, "details": details}
      _append_history(config.output_dir, record, history)
      scored.add(step)
      _tensorboard(writer, step, metric, value)
      improved = best is None or value > best
      if improved:
        best, since_best = value, 0
        if config.keep_best:
          _keep(config.output_dir, tf.train.latest_checkpoint(
              config.output_dir), record)
      else:
        since_best += 1
      log("dev at step %d (epoch %.2f): %s %.4f%s" %
          (step, record["epoch"], metric, value,
           " (best so far)" if improved else ""))
  finally:
    writer.close()
  return history
