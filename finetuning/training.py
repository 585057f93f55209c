"""Training: features from the cache (or built), step counts, the training
loop with progress, single- or multi-worker."""

import collections
import os
import shutil

import tensorflow.compat.v1 as tf

from finetuning import console
from finetuning import devices
from finetuning import estimator as est
from finetuning import feature_cache
from finetuning import progress

TrainingData = collections.namedtuple(
    "TrainingData", ["record_file", "info", "num_train_steps",
                     "num_warmup_steps", "steps_per_epoch"],
    defaults=[None])
TrainingData.__doc__ = """Training features on disk and the step counts.

record_file: the TFRecord of training features.
info: JSON-able counts kept with the features ("num_features" and the task's).
num_train_steps, num_warmup_steps: as the original computed them.
steps_per_epoch: updates in one pass over the examples (a float).
"""


TrainingPlan = collections.namedtuple(
    "TrainingPlan", ["key", "cached", "features", "info", "num_train_steps",
                     "num_warmup_steps", "steps_per_epoch"])
TrainingPlan.__doc__ = """Training features and step counts, nothing written.

key: the feature cache key. cached: (record path, info) of a cache hit, or
None; then `features` holds the built feature dicts and `info` their counts.
"""


def plan_training(config, record_format, input_files, labels, build,
                  count_examples=None, key_options=None):
  """The training features (cached, or built in memory by `build()`) and
  the step counts; writes nothing, so that a run that cannot train stops
  before its output dir is touched.

  Args:
    config: the RunConfig.
    record_format: the task's `records.RecordFormat`.
    input_files: the files the features come from (part of the cache key).
    labels: the label list (part of the key), or None.
    build: returns (feature dicts, JSON-able info) when the cache misses.
    count_examples: info -> the number the step count is computed from
      (default: the number of features; QA counts questions, as the
      original).
    key_options: a JSON-able dict of task settings that change the
      features (part of the key).

  Raises:
    UserError: the flags make no training step.
  """
  key = feature_cache.cache_key(input_files, config.vocab_file,
                                config.do_lower_case, labels,
                                record_format.describe(), key_options or {})
  cached = feature_cache.cached_records(config.cache_dir, key)
  if cached:
    features, info = None, cached[1]
  else:
    features, info = build()
    features = list(features)
    info = dict(info, num_features=len(features))
  num_examples = (count_examples(info) if count_examples else
                  info["num_features"])
  replicas = devices.num_replicas(config.distribution_strategy)
  num_train_steps, num_warmup_steps = est.train_steps(
      num_examples, config.train_batch_size, config.num_train_epochs,
      config.warmup_proportion, replicas, config.gradient_accumulation_steps)
  if 0 < config.max_train_steps < num_train_steps:
    num_train_steps = config.max_train_steps
    num_warmup_steps = int(num_train_steps * config.warmup_proportion)
  steps_per_epoch = num_examples / (config.train_batch_size * replicas *
                                    config.gradient_accumulation_steps)
  return TrainingPlan(key, cached, features, info, num_train_steps,
                      num_warmup_steps, steps_per_epoch)


def write_training(plan, config, record_format):
  """Writes a plan's features (unless cached); returns TrainingData."""
  if plan.cached:
    record_file, info = plan.cached
  else:
    record_file, info = feature_cache.store_records(
        config.cache_dir, plan.key, plan.features,
        {k: v for k, v in plan.info.items() if k != "num_features"},
        record_format, config.output_dir)
  return TrainingData(record_file, info, plan.num_train_steps,
                      plan.num_warmup_steps, plan.steps_per_epoch)


def prepare_training(config, record_format, input_files, labels, build,
                     count_examples=None, key_options=None):
  """`plan_training`, then `write_training`: TrainingData."""
  return write_training(
      plan_training(config, record_format, input_files, labels, build,
                    count_examples, key_options), config, record_format)


class CheckpointSaverHook(tf.train.CheckpointSaverHook):
  """The Estimator's checkpoint saver, minus the save when a session starts.

  TensorFlow's hook saves the weights (with the optimizer's slots, three
  times the model) as soon as the session exists: at step 0 that is a copy
  of --init_checkpoint, on resuming a copy of the latest checkpoint. Both
  cost seconds and change nothing a run reads back, so this one saves only
  every `save_steps` steps and at the end, as the original's did besides.
  """

  def after_create_session(self, session, coord):
    del coord
    self._timer.update_last_triggered_step(
        session.run(self._global_step_tensor))


def train(estimator, config, record_format, training, hooks=(),
          max_steps=None):
  """Trains to `max_steps` (default `training.num_train_steps`), resuming
  from the latest checkpoint.

  Returns:
    Whether this process goes on to evaluate and predict (False for the
    non-chief workers of a multi-worker run).
  """
  console.say("Training %d steps of batch %d (%d examples, %g epochs) into "
              "%s" % (training.num_train_steps, config.train_batch_size *
                      config.gradient_accumulation_steps,
                      training.info["num_features"], config.num_train_epochs,
                      config.output_dir))
  max_steps = max_steps or training.num_train_steps
  # A resumed run continues the shuffled stream where the checkpoint left
  # it, so that it ends with the weights of an uninterrupted run.
  # (Checkpoints are written right after an update: no micro-batch of an
  # accumulated step is half-way.)
  k = config.gradient_accumulation_steps
  start = est.checkpoint_step(config.output_dir)
  input_fn = record_format.input_fn(training.record_file,
                                    config.train_batch_size, True,
                                    seed=config.seed, skip_batches=start * k)
  hook = progress.ProgressHook(training.num_train_steps,
                               config.train_batch_size * k,
                               config.log_every_n_steps, runs_per_step=k)
  hooks = [hook] + list(hooks)
  multi_worker = devices.is_multi_worker(estimator.config.train_distribute)
  if config.save_checkpoints_steps and not multi_worker:
    hooks.append(CheckpointSaverHook(config.output_dir,
                                     save_steps=config.save_checkpoints_steps))
  if multi_worker:
    # Several workers: train_and_evaluate starts each worker's server and
    # runs the collective training; no task is an evaluator here.
    tf.estimator.train_and_evaluate(
        estimator,
        tf.estimator.TrainSpec(input_fn=input_fn, max_steps=max_steps,
                               hooks=hooks),
        tf.estimator.EvalSpec(input_fn=input_fn, steps=1))
    if not devices.is_chief(config.distribution_strategy):
      # A non-chief worker keeps a scratch checkpoint; the chief's in the
      # output dir is the model.
      shutil.rmtree(os.path.join(estimator.model_dir, "tmp_worker_%d" %
                                 devices.worker_index()), ignore_errors=True)
      return False
    return True
  estimator.train(input_fn=input_fn, max_steps=max_steps, hooks=hooks)
  return True
