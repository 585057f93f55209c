"""The task driver: one train / eval / predict / raw-text flow for every task.

A runner defines a `Task` (how to read each split, its labels, features,
head, and how to score and write its outputs) and calls `run(task, config)`
with the `RunConfig` its flags parsed into. The driver reads and checks
every input before anything is written, guards the output dir, trains
(features from the cache, resume, progress), then evaluates, predicts and
tags raw text through the task.

Adding a task: subclass `Task`, fill in the methods a runner needs (see
run_re.py for the smallest one), and give it a `main` that parses flags into
a RunConfig and calls `run`.
"""

import collections
import contextlib
import dataclasses
import json
import logging
import os
import sys

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

from finetuning import console
from finetuning import devices
from finetuning import errors
from finetuning import estimator as est
from finetuning import files
from finetuning import heads
from finetuning import model_files
from finetuning import predictor as predictor_lib
from finetuning import progress
from finetuning import records
from finetuning import run_dir
from finetuning import selection
from finetuning import training as training_lib

Split = collections.namedtuple("Split", ["examples", "path", "golden"],
                               defaults=[None])
Split.__doc__ = """The examples of one input file (path: the file they came
from; golden: the answers a task scores them against, when they come from
another file, as BioASQ's golden JSON)."""

Context = collections.namedtuple("Context",
                                 ["config", "tokenizer", "labels", "predict"])
Context.__doc__ = """What a task's evaluate/predict/raw_text receive.

config: the RunConfig. tokenizer: the FullTokenizer. labels: the label list
(None for QA). predict(features, batch_size, record_name): the model's
result dicts for a list of features, in order (a `predictor.Predictor`
that keeps its session; record_name names the split in logs).
"""


class Task(object):
  """A fine-tuning task as the driver sees it; runners subclass it.

  Attributes:
    name: recorded in run_manifest.json ("ner", "gad", "qa", ...).
    kind: its kind ("ner", "re", "qa": `tasks.MODULES`), recorded too.
    head: the name of its head in `heads.HEADS` (recorded too).
    fields: {feature name: records.SEQUENCE or records.SCALAR}.
    packable: its features are all sequences and its head is per position,
      so --pack_sequences can put several in a row.
  """

  name = None
  kind = None
  head = None
  fields = {}
  packable = False

  def dataset_name(self, config):
    """The data set a training run learns from, as run_manifest.json
    records it: the base name of --data_dir (or of --train_file)."""
    path = config.data_dir or getattr(config.task, "train_file", None)
    if not path:
      return None
    base = os.path.basename(os.path.normpath(path))
    return base if config.data_dir else os.path.splitext(base)[0]

  def record_fields(self, training):
    """The feature fields of training (or prediction) records."""
    del training
    return dict(self.fields)

  def check_config(self, config):
    """Raises UserError when the flags cannot make a run of this task."""

  def read_inputs(self, config):
    """Reads and checks every input file the run needs.

    Returns:
      {"train"/"dev"/"test": Split, "raw": lines}, only the parts asked for.
    """
    raise NotImplementedError

  def label_list(self, inputs, recorded):
    """The model's labels; `recorded` is those of run_manifest.json or None."""
    del inputs, recorded
    return None

  def check_inputs(self, inputs, labels):
    """Raises InputError for inputs the labels cannot describe."""

  def cache_options(self, config):
    """Task settings that change the training features (cache key)."""
    del config
    return {}

  def training_features(self, examples, tokenizer, config, labels):
    """(unpadded feature dicts, JSON-able info) of the training examples."""
    raise NotImplementedError

  def count_training_examples(self, info):
    """What the step count is computed from (default: the features)."""
    return info["num_features"]

  def report_training(self, examples, info, config):
    """Logs what building the training features did (cuts, windows...)."""

  def head_fn(self, labels):
    """The head: `head_fn(model, features, is_training)` -> HeadOutput
    (by default the registered head `self.head`)."""
    return heads.HEADS[self.head].build(len(labels or []))

  def evaluate(self, context, split):
    """Scores the dev split; returns the eval_results dict, or None."""
    raise errors.UserError("--do_eval is not supported by task %s" %
                           self.name)

  def dev_score(self, context, split):
    """(metric name, value, details dict) of the dev split; higher is better.

    Used to choose the model during training (--eval_every_n_steps...).
    """
    raise errors.UserError("dev evaluation during training is not "
                           "supported by task %s" % self.name)

  def predict(self, context, split):
    """Predicts the test split and writes the outputs."""
    raise NotImplementedError

  def raw_text(self, context, lines):
    """Predicts raw text lines and writes the outputs."""
    raise NotImplementedError

  def for_stage(self, stage):
    """The task for a stage of `run_paper_protocol`: "select" trains on the
    training split alone, "final" on training + dev."""
    raise errors.UserError("the dev-then-train+dev protocol is not "
                           "supported by task %s" % self.name)

  def test_scores(self, output_dir):
    """The test scores a finished run wrote into `output_dir` (JSON-able)."""
    raise NotImplementedError


def format_eval_results(result):
  """`key = value` lines, sorted by key, as in the original eval_results.txt."""
  return "".join("%s = %s\n" % (key, str(result[key]))
                 for key in sorted(result.keys()))


def write_eval_results(output_dir, result, name="eval_results.txt"):
  """Prints and writes `result` (a dict) to `output_dir/name`."""
  path = os.path.join(output_dir, name)
  console.say("***** Eval results (%s) *****\n%s" % (
      path, format_eval_results(result).rstrip("\n")))
  files.atomic_write(path, format_eval_results(result))
  return path


def run(task, config):
  """Runs `task` as `config` asks: train, eval, predict, raw text.

  Every input, flag and model file is read and checked before anything is
  written; the output dir is locked for the run.
  """
  if config.pack_sequences and not task.packable:
    raise errors.FlagError(
        "pack_sequences", True, "false for this task: packing puts several "
        "examples in one row, which only per-token heads (run_ner.py) can "
        "take apart")
  task.check_config(config)
  config = run_dir.adopt_recorded(config, console.say)
  bert_config, tokenizer = model_files.load_model_files(config)
  inputs = task.read_inputs(config)
  for part in ("train", "dev", "test"):
    split = inputs.get(part)
    if split is not None and split.path:
      console.say("Read %s: %d examples" % (split.path, len(split.examples)))
  labels = task.label_list(inputs, run_dir.recorded_labels(config.output_dir))
  task.check_inputs(inputs, labels)
  if config.evaluates_during_training:
    dev = inputs.get("dev")
    if dev is None or not dev.examples:
      raise errors.UserError(
          "--eval_every_n_steps / --eval_every_epoch need a development set, "
          "and %s is empty" % (dev.path if dev else "the task has none"))
  manifest = run_dir.describe_run(
      task.name, labels, bert_config, config.max_seq_length,
      config.do_lower_case, config.vocab_file, config.init_checkpoint,
      head=task.head, kind=task.kind)
  if config.do_train:
    manifest["dataset"] = task.dataset_name(config)
    manifest.update(run_dir.describe_training(
        config, _paths(inputs, ["train"] + (
            ["dev"] if config.evaluates_during_training else [])),
        task.cache_options(config)))
  latest = run_dir.check_output_dir(config.output_dir, manifest,
                                    training=config.do_train)
  outputs = run_dir.describe_outputs(_output_sources(config, inputs))
  run_dir.check_outputs(config.output_dir, outputs)
  best = selection.best_checkpoint(config.output_dir)
  for checkpoint in {latest, best} - {None}:  # resumed, or predicted with
    model_files.check_run_checkpoint(config.output_dir, checkpoint)
  plan = None
  if config.do_train:  # tokenizes and counts steps: may refuse the flags
    train = inputs["train"]
    plan = training_lib.plan_training(
        config, _record_format(task, config, True), [train.path], labels,
        lambda: task.training_features(train.examples, tokenizer, config,
                                       labels),
        task.count_training_examples, task.cache_options(config))
  # Everything is checked: from here on the run writes.
  chief = devices.is_chief(config.distribution_strategy)
  lock = (run_dir.locked(config.output_dir) if chief else
          contextlib.nullcontext())
  with lock:
    if config.do_train:
      run_dir.record_run(config.output_dir, manifest)
    if chief:
      run_dir.record_outputs(config.output_dir, outputs)
    if chief:
      console.log_to(config.output_dir)
    if labels:
      tf.logging.info("Labels: %s", " ".join(labels))
    _train_and_predict(task, config, bert_config, tokenizer, inputs, labels,
                       plan)


def _paths(inputs, parts):
  """{part: the file it was read from} of `parts` of the task's inputs."""
  found = {}
  for part in parts:
    split = inputs.get(part)
    if split is not None and isinstance(split.path, str):
      found[part] = split.path
  return found


def _output_sources(config, inputs):
  """{part: input file} of the outputs this run writes into its output dir
  (dev scores, test predictions, raw-text predictions at their default
  place)."""
  wanted = (["dev"] if config.do_eval else []) + (
      ["test"] if config.do_predict else [])
  sources = _paths(inputs, wanted)
  raw = getattr(config.task, "raw_text_file", None)
  if inputs.get("raw") is not None and raw and not getattr(
      config.task, "raw_output_file", None):
    sources["raw"] = raw
  return sources


def _record_format(task, config, training):
  return records.RecordFormat(task.record_fields(training),
                              config.max_seq_length, config.bucket_by_length,
                              packed=config.pack_sequences)


def _train_and_predict(task, config, bert_config, tokenizer, inputs, labels,
                       plan):
  training = None
  if plan is not None:
    training = training_lib.write_training(
        plan, config, _record_format(task, config, True))
    task.report_training(inputs["train"].examples, training.info, config)

  estimator = est.create_estimator(
      config, bert_config, task.head_fn(labels),
      training.num_train_steps if training else 0,
      training.num_warmup_steps if training else 0)
  predict_format = _record_format(task, config, False)
  model_fn = est.model_fn_of(config, bert_config, task.head_fn(labels))
  predictors = {}

  def context_of(checkpoint_path):
    def predict(features, batch_size, record_name):
      del record_name  # the predictor feeds batches directly
      checkpoint = checkpoint_path or tf.train.latest_checkpoint(
          config.output_dir)
      if checkpoint not in predictors:
        for old in predictors.values():  # one model in memory at a time
          old.close()
        predictors.clear()
        predictors[checkpoint] = predictor_lib.Predictor(
            model_fn, checkpoint, predict_format,
            devices.session_config(config.use_fp16, config.use_xla,
                                   for_prediction=True))
      return progress.timed_list(
          lambda: predictors[checkpoint].predict(features, batch_size),
          len(features))
    return Context(config, tokenizer, labels, predict)

  if training and config.evaluates_during_training:
    selection.train_with_dev_evaluation(
        estimator, config, _record_format(task, config, True), training,
        lambda: task.dev_score(context_of(None), inputs["dev"]))
  elif training and not training_lib.train(
      estimator, config, _record_format(task, config, True), training):
    return  # a non-chief worker: the chief evaluates and predicts

  # One rule for the runners and export_model.py: a kept best/ is the model.
  best = selection.best_checkpoint(config.output_dir)
  if best and (config.do_eval or config.do_predict or "raw" in inputs):
    console.say("Using the best checkpoint on dev: %s" % best)
  context = context_of(best)
  if config.do_eval:
    result = task.evaluate(context, inputs["dev"])
    if result is not None:
      result["global_step"] = (int(best.rsplit("-", 1)[1]) if best else
                               est.checkpoint_step(config.output_dir))
      write_eval_results(config.output_dir, result)
  if config.do_predict:
    task.predict(context, inputs["test"])
  if inputs.get("raw") is not None:
    task.raw_text(context, inputs["raw"])


PROTOCOL_REPORT = "protocol_report.json"


def run_paper_protocol(task, config, log=print):
  """The BioBERT paper's protocol in one run.

  1. <output_dir>/select: train on the training split with a dev
     evaluation after every epoch, up to --num_train_epochs;
  2. pick the epoch count with the best dev score;
  3. <output_dir>/final: train on training + dev for that many epochs and
     predict the test split;
  4. write <output_dir>/protocol_report.json: the dev curve, the chosen
     epochs and the test scores.

  The task gives the two stages' inputs (`Task.for_stage`) and its test
  scores (`Task.test_scores`).
  """
  select_dir, final_dir = config.path("select"), config.path("final")
  quiet = dict(do_eval=False, keep_best=False, early_stopping_patience=0,
               eval_every_n_steps=0)
  run(task.for_stage("select"), dataclasses.replace(
      config, output_dir=select_dir, do_train=True, do_predict=False,
      eval_every_epoch=True, **quiet))
  history = selection.read_history(select_dir)
  best = max(history, key=lambda r: r["value"])  # the first best
  epochs = max(1, int(round(best["epoch"])))
  log("Best dev %s %.4f after %d epochs: training on training + dev for %d "
      "epochs" % (best["metric"], best["value"], epochs, epochs))
  run(task.for_stage("final"), dataclasses.replace(
      config, output_dir=final_dir, do_train=True, do_predict=True,
      eval_every_epoch=False, num_train_epochs=float(epochs), **quiet))
  report = {
      "metric": best["metric"],
      "dev_curve": [{"epoch": r["epoch"], "step": r["step"],
                     "value": r["value"]} for r in history],
      "chosen_epochs": epochs,
      "test": task.test_scores(final_dir),
  }
  files.atomic_write(config.path(PROTOCOL_REPORT),
                     json.dumps(report, indent=2, sort_keys=True) + "\n")
  log("Wrote %s" % config.path(PROTOCOL_REPORT))
  return report


def start(main):
  """Runs an absl `main` in graph mode; user errors exit 2 without a trace.

  A run that succeeds leaves at once (`leave_when_done`). The console gets
  what a user needs (`console`); TensorFlow's deprecation notices are off.
  """
  console.no_deprecation_notices()
  tf.disable_v2_behavior()

  def quiet_main(argv):
    verbosity = app.FLAGS["verbosity"]
    console.setup(verbose=verbosity.present and verbosity.value >= 0)
    return main(argv)

  app.run(leave_when_done(errors.run_main(quiet_main)),
          flags_parser=parse_flags)


HELP_ARGS = ("--help", "-help", "-h", "--helpshort", "--helpfull", "-?")


def help_text(program):
  """--help: what the runner does, its own flags, then the common ones."""
  by_module = app.FLAGS.flags_by_module_dict()
  own = [m for m in by_module if not m.startswith(
      ("absl.", "tensorflow.", "finetuning."))]
  doc = (sys.modules["__main__"].__doc__ or "").strip()
  parts = [doc, ""] if doc else []
  def listing(module):  # absl's, without its line naming the module
    return app.FLAGS.module_help(module).lstrip("\n").split("\n", 1)[-1]

  for module in own:
    parts += ["Flags of %s:" % os.path.basename(program), listing(module),
              ""]
  parts += ["Flags common to run_ner.py, run_re.py and run_qa.py:",
            listing("finetuning.config"), "",
            "TensorFlow's own log goes to <output_dir>/%s; --verbosity=0 "
            "also prints it." % console.LOG_NAME]
  return "\n".join(parts)


def parse_flags(argv):
  """absl's flag parsing, except that --help lists this runner's flags and
  exits 0 (absl's lists one flag, or dozens of TPU and test flags, and
  exits 1), and a flag it cannot parse is one `error:` line, exit 2, as
  every other user error (absl prints FATAL and exits 1)."""
  if any(a in HELP_ARGS for a in argv[1:]):
    sys.stdout.write(help_text(argv[0]) + "\n")
    sys.exit(0)
  try:
    return app.FLAGS(argv)
  except flags.Error as e:
    sys.stderr.write("error: %s (%s --help lists the flags)\n" % (
        e, os.path.basename(argv[0])))
    sys.exit(2)


def leave_when_done(main):
  """`main`, then, if it succeeded, the end of the process at once.

  What would follow is the interpreter tearing down TensorFlow's graphs and
  sessions: half a second for MiniLM, more for larger models, with nothing
  left to write. Summary writers, logs and the standard streams are flushed
  first; a failing `main` exits as usual.
  """

  def wrapped(argv):
    code = main(argv)
    if code not in (None, 0):
      return code
    tf.summary.FileWriterCache.clear()  # closes (flushes) the writers
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # pylint: disable=protected-access

  return wrapped
