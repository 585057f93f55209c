"""Estimator plumbing: model_fn, checkpoint restore, progress, train/eval/predict.

A runner supplies a *head*: a function `head_fn(model, features, is_training)`
returning a `HeadOutput`. Everything around it (the BERT encoder, restoring
`--init_checkpoint`, the optimizer, the Estimator, progress logging) is here.
"""

import collections
import contextlib
import datetime
import json
import os
import shutil
import time

import tensorflow.compat.v1 as tf

import modeling
import optimization
import tokenization
from finetuning import errors
from finetuning import records

HeadOutput = collections.namedtuple(
    "HeadOutput", ["loss", "predictions", "eval_metrics"])
HeadOutput.__doc__ = """What a task head returns.

loss: scalar float Tensor (used in training and eval).
predictions: dict of Tensors for PREDICT mode.
eval_metrics: None, or a function of no arguments returning a dict of
  `tf.metrics`-style (value, update_op) pairs for EVAL mode.
"""


def setup_logging():
  """INFO logging, printed once (TF's logger would also reach absl's)."""
  tf.logging.set_verbosity(tf.logging.INFO)
  tf.get_logger().propagate = False


def check_file(path, flag_name, what):
  """Raises a UserError unless `path` (the value of --flag_name) exists."""
  if not path:
    raise errors.UserError("--%s is required (%s)" % (flag_name, what))
  if not tf.gfile.Exists(path):
    raise errors.UserError("--%s=%s: file not found (expected %s)" %
                           (flag_name, path, what))


def check_init_checkpoint(init_checkpoint):
  """Raises a UserError if `--init_checkpoint` names no readable checkpoint."""
  if not init_checkpoint:
    return
  try:
    tf.train.list_variables(init_checkpoint)
  except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as e:
    raise errors.UserError(
        "--init_checkpoint=%s: no readable checkpoint there (expected the "
        "prefix of model.ckpt-NNN.index / .data-* files, e.g. "
        "$BIOBERT_DIR/model.ckpt-1000000): %s" %
        (init_checkpoint, str(e).splitlines()[0]))


def load_bert_config(bert_config_file, max_seq_length):
  """Reads bert_config.json and checks `max_seq_length` against it."""
  check_file(bert_config_file, "bert_config_file", "bert_config.json")
  try:
    config = modeling.BertConfig.from_json_file(bert_config_file)
  except ValueError as e:
    raise errors.UserError(str(e))
  if max_seq_length > config.max_position_embeddings:
    raise errors.UserError(
        "Cannot use sequence length %d because the BERT model was only "
        "trained up to sequence length %d (%s)" %
        (max_seq_length, config.max_position_embeddings, bert_config_file))
  return config


def load_tokenizer(vocab_file, do_lower_case, init_checkpoint):
  """A FullTokenizer, after checking the vocab and the casing."""
  check_file(vocab_file, "vocab_file", "vocab.txt, one WordPiece a line")
  try:
    tokenization.validate_case_matches_checkpoint(do_lower_case,
                                                  init_checkpoint)
  except ValueError as e:
    raise errors.UserError(str(e))
  return tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case)


def load_model_files(bert_config_file, vocab_file, do_lower_case,
                     init_checkpoint, max_seq_length):
  """Checks the model files; returns (bert_config, tokenizer)."""
  bert_config = load_bert_config(bert_config_file, max_seq_length)
  tokenizer = load_tokenizer(vocab_file, do_lower_case, init_checkpoint)
  check_init_checkpoint(init_checkpoint)
  return bert_config, tokenizer


def train_steps(num_examples, batch_size, num_train_epochs, warmup_proportion,
                replicas=1):
  """(num_train_steps, num_warmup_steps) as the original computed them.

  With several replicas each step consumes `batch_size` examples per
  replica, so there are that many times fewer steps for the same epochs.
  """
  num_train_steps = int(num_examples / (batch_size * replicas) *
                        num_train_epochs)
  if num_train_steps < 1:
    raise errors.UserError(
        "%d training examples at --train_batch_size=%d and "
        "--num_train_epochs=%g make no training step" %
        (num_examples, batch_size, num_train_epochs))
  num_warmup_steps = int(num_train_steps * warmup_proportion)
  return num_train_steps, num_warmup_steps


def restore_from_checkpoint(init_checkpoint):
  """Initialises the graph's trainable variables from `init_checkpoint`.

  Logs every variable, marking the restored ones `*INIT_FROM_CKPT*` as the
  original did, and warns about BERT variables the checkpoint lacks.

  Returns:
    The sorted names of the restored variables.
  """
  tvars = tf.trainable_variables()
  initialized = {}
  if init_checkpoint:
    (assignment_map, initialized) = (
        modeling.get_assignment_map_from_checkpoint(tvars, init_checkpoint))
    tf.train.init_from_checkpoint(init_checkpoint, assignment_map)

  tf.logging.info("**** Trainable Variables ****")
  missing = []
  for var in tvars:
    init_string = ""
    if var.name in initialized:
      init_string = ", *INIT_FROM_CKPT*"
    elif init_checkpoint and var.name.startswith("bert/"):
      missing.append(var.name)
    tf.logging.info("  name = %s, shape = %s%s", var.name, var.shape,
                    init_string)
  restored = sorted(n for n in initialized if not n.endswith(":0"))
  if init_checkpoint:
    tf.logging.info("Restored %d of %d trainable variables from %s",
                    len(restored), len(tvars), init_checkpoint)
  if missing:
    tf.logging.warning(
        "%d BERT variables are not in %s and start at random: %s",
        len(missing), init_checkpoint, ", ".join(missing))
  return restored


def model_fn_builder(bert_config, head_fn, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps,
                     use_one_hot_embeddings=False, loss_scale=None,
                     use_xla=False):
  """Returns an Estimator `model_fn`: BERT encoder + the task's head.

  Features must hold `input_ids`, `input_mask` and `segment_ids`, plus what
  the head reads.
  """

  def model_fn(features, labels, mode, params):
    del labels, params
    tf.logging.info("*** Features ***")
    for name in sorted(features.keys()):
      tf.logging.info("  name = %s, shape = %s", name, features[name].shape)

    is_training = (mode == tf.estimator.ModeKeys.TRAIN)
    xla_scope = (tf.xla.experimental.jit_scope() if use_xla else
                 contextlib.nullcontext())
    with xla_scope:
      model = modeling.BertModel(
          config=bert_config,
          is_training=is_training,
          input_ids=features["input_ids"],
          input_mask=features["input_mask"],
          token_type_ids=features["segment_ids"],
          use_one_hot_embeddings=use_one_hot_embeddings)
      head = head_fn(model, features, is_training)
    restore_from_checkpoint(init_checkpoint)

    if mode == tf.estimator.ModeKeys.TRAIN:
      train_op = optimization.create_optimizer(
          head.loss, learning_rate, num_train_steps, num_warmup_steps, False,
          loss_scale=loss_scale)
      return tf.estimator.EstimatorSpec(
          mode=mode, loss=head.loss, train_op=train_op)
    if mode == tf.estimator.ModeKeys.EVAL:
      metrics = head.eval_metrics() if head.eval_metrics else {}
      return tf.estimator.EstimatorSpec(
          mode=mode, loss=head.loss, eval_metric_ops=metrics)
    return tf.estimator.EstimatorSpec(mode=mode, predictions=head.predictions)

  return model_fn


def have_gpu():
  """Whether TensorFlow sees a GPU."""
  return bool(tf.config.list_physical_devices("GPU"))


def cpu_supports_bf16():
  """Whether this CPU has native bfloat16 instructions (Linux)."""
  try:
    with open("/proc/cpuinfo") as f:
      flags = f.read()
  except OSError:
    return False
  return "avx512_bf16" in flags or "amx_bf16" in flags


def session_config(use_fp16=False, use_xla=False):
  """ConfigProto with the mixed precision rewrite and XLA as asked.

  Mixed precision: float16 on a GPU (the caller adds loss scaling),
  bfloat16 on a CPU that supports it; otherwise a warning and float32.
  """
  from tensorflow.core.protobuf import rewriter_config_pb2
  config = tf.ConfigProto(allow_soft_placement=True)
  if use_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
    # (Auto-clustering skips CPUs; model_fn_builder also marks the model
    # for compilation explicitly, which works on every device.)
  if use_fp16:
    rewrites = config.graph_options.rewrite_options
    if have_gpu():
      rewrites.auto_mixed_precision = rewriter_config_pb2.RewriterConfig.ON
    elif cpu_supports_bf16():
      rewrites.auto_mixed_precision_onednn_bfloat16 = (
          rewriter_config_pb2.RewriterConfig.ON)
    else:
      tf.logging.warning("--use_fp16: no GPU and no bfloat16 support in this "
                         "CPU; running in float32")
  return config


def make_strategy(name):
  """A tf.distribute strategy by flag value ("none" gives None)."""
  if name in (None, "", "none"):
    return None
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(
        "/gpu:0" if have_gpu() else "/cpu:0")
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker_mirrored":
    if not os.environ.get("TF_CONFIG"):
      raise errors.UserError(
          "--distribution_strategy=multi_worker_mirrored needs TF_CONFIG "
          "describing the workers, e.g. {\"cluster\": {\"worker\": "
          "[\"host1:2222\", \"host2:2222\"]}, \"task\": {\"type\": "
          "\"worker\", \"index\": 0}}")
    return tf.distribute.experimental.MultiWorkerMirroredStrategy()
  raise errors.UserError("--distribution_strategy=%s: expected none, "
                         "one_device, mirrored or multi_worker_mirrored" %
                         name)


def num_replicas(strategy_name):
  """Replicas that train in step together under a strategy."""
  if strategy_name in (None, "", "none"):
    return 1
  if strategy_name == "multi_worker_mirrored":
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster",
                                                                 {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    gpus = max(1, len(tf.config.list_physical_devices("GPU")))
    return max(1, workers) * gpus
  if strategy_name == "mirrored":
    return max(1, len(tf.config.list_physical_devices("GPU")))
  return 1


def is_chief(strategy_name):
  """False for the non-chief workers of a multi-worker run."""
  if strategy_name != "multi_worker_mirrored":
    return True
  config = json.loads(os.environ.get("TF_CONFIG", "{}"))
  task = config.get("task", {})
  if "chief" in config.get("cluster", {}):
    return task.get("type") == "chief"
  return task.get("type", "worker") == "worker" and task.get("index", 0) == 0


def build_estimator(model_fn, output_dir, save_checkpoints_steps,
                    keep_checkpoint_max=5, seed=None, log_step_count_steps=100,
                    use_fp16=False, use_xla=False, distribution_strategy=None):
  """A `tf.compat.v1.estimator.Estimator` writing to `output_dir`."""
  strategy = make_strategy(distribution_strategy)
  run_config = tf.estimator.RunConfig(
      train_distribute=strategy,
      model_dir=output_dir,
      tf_random_seed=seed,
      save_checkpoints_steps=save_checkpoints_steps,
      keep_checkpoint_max=keep_checkpoint_max,
      log_step_count_steps=log_step_count_steps,
      session_config=session_config(use_fp16, use_xla))
  return tf.estimator.Estimator(model_fn=model_fn, config=run_config)


def create_estimator(bert_config, head_fn, options, num_train_steps=0,
                     num_warmup_steps=0):
  """model_fn + Estimator from the common options (`flags.run_options`)."""
  fp16_on_gpu = options.get("use_fp16") and have_gpu()
  model_fn = model_fn_builder(
      bert_config, head_fn, options["init_checkpoint"],
      options["learning_rate"], num_train_steps, num_warmup_steps,
      loss_scale=options.get("loss_scale") if fp16_on_gpu else None,
      use_xla=options.get("use_xla", False))
  return build_estimator(model_fn, options["output_dir"],
                         options["save_checkpoints_steps"],
                         options["keep_checkpoint_max"], options["seed"],
                         options["log_every_n_steps"],
                         use_fp16=options.get("use_fp16", False),
                         use_xla=options.get("use_xla", False),
                         distribution_strategy=options.get(
                             "distribution_strategy"))


def _format_duration(seconds):
  return str(datetime.timedelta(seconds=int(round(max(0.0, seconds)))))


class ProgressHook(tf.train.SessionRunHook):
  """Logs step, examples/s and an ETA every `every_n_steps` training steps.

  The rate is that of the last interval (the first one includes graph
  start-up), and the ETA follows from it.
  """

  def __init__(self, total_steps, batch_size, every_n_steps=100,
               log_fn=None):
    self._total = total_steps
    self._batch_size = batch_size
    self._every = max(1, every_n_steps)
    self._log = log_fn or tf.logging.info
    self.start_step = None
    self.last_message = None
    self.rates = []

  def after_create_session(self, session, coord):
    del coord
    self.start_step = int(session.run(tf.train.get_global_step()))
    self._step = self.start_step
    self._t0 = self._t_last = time.time()
    self._done = self._done_last = 0
    if self.start_step:
      self._log("Resuming training at step %d of %d" %
                (self.start_step, self._total))

  def after_run(self, run_context, run_values):
    del run_context, run_values
    self._step += 1
    self._done += 1
    if self._done % self._every == 0 or self._step >= self._total:
      now = time.time()
      steps = self._done - self._done_last
      rate = steps * self._batch_size / max(now - self._t_last, 1e-9)
      self.rates.append(rate)
      eta = (self._total - self._step) * self._batch_size / max(rate, 1e-9)
      self.last_message = (
          "step %d/%d (%.1f%%), %.1f examples/s, elapsed %s, ETA %s" %
          (self._step, self._total, 100.0 * self._step / self._total, rate,
           _format_duration(now - self._t0), _format_duration(eta)))
      self._log(self.last_message)
      self._t_last, self._done_last = now, self._done


def train(estimator, input_fn, num_train_steps, batch_size, num_examples,
          log_every_n_steps=100, hooks=()):
  """Trains to `num_train_steps` (resuming from the latest checkpoint)."""
  tf.logging.info("***** Running training *****")
  tf.logging.info("  Num examples = %d", num_examples)
  tf.logging.info("  Batch size = %d", batch_size)
  tf.logging.info("  Num steps = %d", num_train_steps)
  progress = ProgressHook(num_train_steps, batch_size, log_every_n_steps)
  hooks = [progress] + list(hooks)
  if isinstance(estimator.config.train_distribute,
                tf.distribute.experimental.MultiWorkerMirroredStrategy):
    # Several workers: train_and_evaluate starts each worker's server and
    # runs the collective training; no task is an evaluator here.
    tf.estimator.train_and_evaluate(
        estimator,
        tf.estimator.TrainSpec(input_fn=input_fn, max_steps=num_train_steps,
                               hooks=hooks),
        tf.estimator.EvalSpec(input_fn=input_fn, steps=1))
    if not is_chief("multi_worker_mirrored"):
      # A non-chief worker keeps a scratch checkpoint; the chief's in the
      # output dir is the model.
      task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
      shutil.rmtree(os.path.join(estimator.model_dir,
                                 "tmp_worker_%d" % task.get("index", 0)),
                    ignore_errors=True)
  else:
    estimator.train(input_fn=input_fn, max_steps=num_train_steps,
                    hooks=hooks)
  return progress


def train_on_records(estimator, record_file, lengths, batch_size,
                     num_train_steps, num_examples, seed=None,
                     log_every_n_steps=100, bucketed=False):
  """Trains on a TFRecord of features (see `feature_cache`).

  With `bucketed`, the records hold unpadded features and batches group
  examples of similar length (see `records.input_fn_builder`).
  """
  input_fn = records.input_fn_builder(
      record_file, lengths, True, True, batch_size, seed=seed,
      bucketed=bucketed, max_seq_length=_max_length(lengths))
  return train(estimator, input_fn, num_train_steps, batch_size,
               num_examples, log_every_n_steps)


TrainingData = collections.namedtuple(
    "TrainingData", ["record_file", "info", "num_train_steps",
                     "num_warmup_steps"])


def prepare_training(options, input_files, labels, lengths, build,
                     num_examples=None, **key_options):
  """Training features (from the cache or `build()`) and the step counts.

  Args:
    options: the common flag values (`flags.run_options`).
    input_files: the files the features come from (part of the cache key).
    labels: the label list (part of the key), or None.
    lengths: feature lengths.
    build: returns (feature dicts, JSON-able info) when the cache misses.
    num_examples: what the step count is computed from (default: the
      number of features; run_qa counts questions, as the original).
    **key_options: task settings that change the features (task name...).

  Returns:
    TrainingData.
  """
  from finetuning import feature_cache
  key = feature_cache.cache_key(
      input_files, options["vocab_file"], options["do_lower_case"],
      options["max_seq_length"], labels,
      bucketed=options["bucket_by_length"], **key_options)
  record_file, info = feature_cache.training_records(
      options["cache_dir"], key, build, lengths, options["bucket_by_length"],
      options["output_dir"])
  num_train_steps, num_warmup_steps = train_steps(
      info["num_features"] if num_examples is None else num_examples,
      options["train_batch_size"],
      options["num_train_epochs"], options["warmup_proportion"],
      num_replicas(options["distribution_strategy"]))
  return TrainingData(record_file, info, num_train_steps, num_warmup_steps)


def run_training(estimator, training, lengths, options):
  """Trains on `training` (a TrainingData).

  Returns:
    Whether this process goes on to evaluate and predict (False for the
    non-chief workers of a multi-worker run).
  """
  train_on_records(estimator, training.record_file, lengths,
                   options["train_batch_size"], training.num_train_steps,
                   training.info["num_features"], options["seed"],
                   options["log_every_n_steps"], options["bucket_by_length"])
  return is_chief(options["distribution_strategy"])


def _max_length(lengths):
  return max(l for l in lengths.values() if l is not None)


def features_input_fn(features, lengths, record_file, batch_size,
                      bucketed=False):
  """Writes features to `record_file`; an input_fn of one ordered pass.

  With `bucketed`, each batch is padded only to its longest member.
  """
  if bucketed:
    features = [records.trim_padding(f, lengths) for f in features]
  records.write_features(features, record_file)
  return records.input_fn_builder(record_file, lengths, False, False,
                                  batch_size, bucketed=bucketed,
                                  max_seq_length=_max_length(lengths))


def predict_features(estimator, features, lengths, record_file, batch_size,
                     bucketed=False):
  """Predictions for `features`, one dict each, in the order given.

  With `bucketed`, features are predicted sorted by length (so that batches
  hold similar lengths and little padding) and the results are put back in
  order. Sequence outputs then have the length of their batch.
  """
  if not bucketed:
    input_fn = features_input_fn(features, lengths, record_file, batch_size)
    for result in _timed(estimator.predict(input_fn,
                                           yield_single_examples=True),
                         batch_size):
      yield result
    return
  features = list(features)
  order = sorted(range(len(features)),
                 key=lambda i: records.feature_length(features[i]))
  input_fn = features_input_fn([features[i] for i in order], lengths,
                               record_file, batch_size, bucketed=True)
  results = [None] * len(features)
  # The generator first: zip stops at the first exhausted iterator, and the
  # generator must run to its end (where it logs).
  for result, i in zip(_timed(
      estimator.predict(input_fn, yield_single_examples=True), batch_size),
                       order):
    results[i] = result
  for result in results:
    yield result


def _timed(results, batch_size):
  """Passes `results` through; logs the start-up time and the steady rate."""
  start = time.time()
  first = None
  n = 0
  for result in results:
    if first is None:
      first = time.time()  # graph built, checkpoint restored, batch 1 done
    n += 1
    yield result
  end = time.time()
  steady = max(n - batch_size, 0)
  tf.logging.info(
      "Predicted %d examples in %.1f s; after the first batch (%.1f s of "
      "start-up): %.2f examples/s", n, end - start, (first or end) - start,
      steady / max(end - (first or end), 1e-9))


def format_eval_results(result):
  """`key = value` lines, sorted by key, as in the original eval_results.txt."""
  return "".join("%s = %s\n" % (key, str(result[key]))
                 for key in sorted(result.keys()))


def write_eval_results(output_dir, result, name="eval_results.txt",
                       title="Eval results"):
  """Logs and writes `result` (a dict) to `output_dir/name`."""
  tf.logging.info("***** %s *****", title)
  for key in sorted(result.keys()):
    tf.logging.info("  %s = %s", key, str(result[key]))
  path = os.path.join(output_dir, name)
  errors.atomic_write(path, format_eval_results(result))
  return path
