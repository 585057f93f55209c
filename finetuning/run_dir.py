"""The output-dir guard: what run a directory holds, and whether we may use it.

The original Estimator silently resumed from whatever checkpoint sat in
`--output_dir`, so a forgotten `--output_dir` gave a wrong model without a
word. Here every run records what it is (task, labels, BERT config, sequence
length, casing) and, when it trains, what it was made from (a digest of its
training data, its training settings) in `run_manifest.json`. The same run
resumes from its latest checkpoint; a different run in the same directory
stops with an error that names what differs. What a run writes from other
data (dev scores, test predictions) is recorded in `outputs_manifest.json`,
so that another test file never silently replaces them.
"""

import contextlib
import dataclasses
import fcntl
import json
import os

import tensorflow.compat.v1 as tf

from finetuning import console
from finetuning import errors
from finetuning import files

MANIFEST_NAME = "run_manifest.json"
OUTPUTS_NAME = "outputs_manifest.json"
LOCK_NAME = ".lock"
# What a scheduler (run_suite.py) may place in a run dir before the run
# starts; anything else in a directory without a manifest is another tool's.
BEFORE_A_RUN = (LOCK_NAME, "suite_job.json", "suite_job.log")
# The options that shape a trained model: the same directory trained with
# another value would mix two results.
TRAINING_SETTINGS = ("learning_rate", "num_train_epochs", "max_train_steps",
                     "train_batch_size", "warmup_proportion",
                     "gradient_accumulation_steps", "seed", "use_fp16",
                     "bucket_by_length", "pack_sequences",
                     "eval_every_n_steps", "eval_every_epoch", "keep_best",
                     "early_stopping_patience")
# What every manifest records (describe_run); a record without them is
# damaged, not a different run.
REQUIRED_KEYS = ("task", "labels", "bert_config", "max_seq_length",
                 "do_lower_case")


def describe_run(task, labels, bert_config, max_seq_length, do_lower_case,
                 vocab_file=None, init_checkpoint=None, head=None, kind=None):
  """What identifies a run: a JSON-able dict.

  Args:
    task: task name ("ner", "gad", "bioasq", ...).
    labels: the label list, in id order (None where the task has none).
    bert_config: `modeling.BertConfig` or its dict.
    max_seq_length: int.
    do_lower_case: bool.
    vocab_file: recorded by the SHA-256 of its content.
    init_checkpoint: recorded by the SHA-256 of its .index file (so a
      checkpoint moved elsewhere is still the same one).
    head: the name of the task's head (`heads.HEADS`), or None.
    kind: the task's kind ("ner", "re", "qa"), or None.
  """
  if hasattr(bert_config, "to_dict"):
    bert_config = bert_config.to_dict()
  run = {
      "task": task,
      "labels": list(labels) if labels is not None else None,
      "bert_config": dict(bert_config),
      "max_seq_length": int(max_seq_length),
      "do_lower_case": bool(do_lower_case),
  }
  if kind:
    run["kind"] = kind
  if head:
    run["head"] = head
  if vocab_file:
    run["vocab_sha256"] = files.file_digest(vocab_file)
  if init_checkpoint is not None:
    index = init_checkpoint + ".index"
    run["init_checkpoint_sha256"] = (files.file_digest(index) if
                                     os.path.isfile(index) else None)
  return run


def describe_training(config, data_files, task_settings):
  """What a training run is made from, to add to `describe_run`'s dict.

  Args:
    config: the RunConfig (its TRAINING_SETTINGS are recorded).
    data_files: {split: path} of the files training reads (train, and dev
      when it chooses the model on dev).
    task_settings: the task's own options that change its training
      features (`Task.cache_options`).
  """
  settings = {k: getattr(config, k) for k in TRAINING_SETTINGS}
  settings.update(task_settings)
  return {"training": settings,
          "training_data_sha256": {split: files.file_digest(path)
                                   for split, path in data_files.items()
                                   if path}}


def read_manifest(output_dir):
  """The recorded run of `output_dir`, or None if there is none."""
  path = os.path.join(output_dir, MANIFEST_NAME)
  if not os.path.exists(path):
    return None
  recorded = files.read_json(path, "the run record this project writes")
  missing = [k for k in REQUIRED_KEYS
             if not isinstance(recorded, dict) or k not in recorded]
  if missing:
    raise errors.InputError(
        path, None, "%s is missing: this record cannot tell whether the "
        "checkpoints beside it belong to this run. Use a new --output_dir, "
        "or delete %s (rm -r) to start over" %
        (", ".join(missing), output_dir))
  return recorded


# Settings a trained run fixes; a run that only predicts takes them from
# run_manifest.json unless its command line names them.
ADOPTED = ("do_lower_case", "max_seq_length")


def adopt_recorded(config, log=print):
  """`config` with the recorded casing and sequence length of the trained
  run in its output dir, where the command line did not give them."""
  recorded = read_manifest(config.output_dir)
  if config.do_train or not isinstance(recorded, dict):
    return config
  changes = {k: recorded[k] for k in ADOPTED
             if k not in config.given and k in recorded and
             recorded[k] != getattr(config, k)}
  if changes:
    log("Using the trained run's %s (%s)" % (", ".join(
        "--%s=%s" % (k, str(v).lower() if isinstance(v, bool) else v)
        for k, v in sorted(changes.items())), MANIFEST_NAME))
  return dataclasses.replace(config, **changes)


def recorded_labels(output_dir):
  """The label list recorded in `output_dir`, or None."""
  recorded = read_manifest(output_dir)
  return recorded.get("labels") if isinstance(recorded, dict) else None


def _shown(key, value):
  if key.endswith("sha256") and isinstance(value, str):
    return repr(value[:12] + "...")
  return repr(value)


def _differences(recorded, current):
  diffs = []
  # What an older manifest did not record is not held against it.
  for key in sorted(set(recorded) & set(current)):
    a, b = recorded.get(key), current.get(key)
    if a != b:
      if isinstance(a, dict) and isinstance(b, dict):
        for sub in sorted(set(a) | set(b)):
          if a.get(sub) != b.get(sub):
            diffs.append("%s.%s: recorded %s, now %s" %
                         (key, sub, _shown(key, a.get(sub)),
                          _shown(key, b.get(sub))))
      else:
        diffs.append("%s: recorded %s, now %s" % (key, _shown(key, a),
                                                  _shown(key, b)))
  return diffs


def check_output_dir(output_dir, run, training):
  """Checks `output_dir` against `run`; writes nothing.

  The initial checkpoint counts only when training (a prediction reads the
  trained model of the output dir, whatever --init_checkpoint says).

  Returns:
    The latest checkpoint path in `output_dir` (None for a fresh run).

  Raises:
    UserError: the directory holds a different run, a checkpoint of an
      unknown run, or (not training) no trained model at all.
  """
  recorded = read_manifest(output_dir)
  if not training:
    run = {k: v for k, v in run.items() if k != "init_checkpoint_sha256"}
  latest = tf.train.latest_checkpoint(output_dir)
  how_to = ("Use a new --output_dir for this run, or delete %s (rm -r) to "
            "start over." % output_dir)

  if recorded is not None:
    diffs = _differences(recorded, run)
    if diffs:
      raise errors.UserError(
          "--output_dir %s holds a different run (%s):\n  %s\n%s" %
          (output_dir, MANIFEST_NAME, "\n  ".join(diffs), how_to))
  elif latest is not None:
    raise errors.UserError(
        "--output_dir %s holds checkpoint %s but no %s, so it cannot be told "
        "whether it belongs to this run; the original code would have "
        "silently resumed from it. %s" %
        (output_dir, os.path.basename(latest), MANIFEST_NAME, how_to))
  elif training and os.path.isdir(output_dir):
    others = sorted(set(os.listdir(output_dir)) - set(BEFORE_A_RUN))
    if others:
      raise errors.UserError(
          "--output_dir %s is not empty (%s%s) and holds no %s: it is not a "
          "run dir of this project, and the run's files would be mixed with "
          "what is there. Use a new or empty --output_dir." %
          (output_dir, ", ".join(others[:3]),
           ", ..." if len(others) > 3 else "", MANIFEST_NAME))
  if not training and latest is None and not _has_best(output_dir):
    raise errors.UserError(
        "--output_dir %s holds no trained model (no checkpoint): predicting "
        "with it would use a random head. Train first (--do_train=true), or "
        "give the --output_dir of a trained run." % output_dir)
  if latest is not None:
    console.say("Output dir %s holds this run; %s %s" % (
        output_dir, "continuing from" if training else "its latest model is",
        os.path.basename(latest)))
  return latest


def _has_best(output_dir):
  """Whether `output_dir` keeps a best checkpoint (`selection.keep_best`;
  a suite may keep only that one)."""
  from finetuning import selection  # pylint: disable=g-import-not-at-top
  return selection.best_checkpoint(output_dir) is not None


def record_run(output_dir, run):
  """Creates `output_dir` and writes run_manifest.json unless it is there."""
  tf.gfile.MakeDirs(output_dir)
  if read_manifest(output_dir) is None:
    files.atomic_write(
        os.path.join(output_dir, MANIFEST_NAME),
        json.dumps(run, indent=2, sort_keys=True) + "\n")


def prepare_output_dir(output_dir, run, training):
  """`check_output_dir`, then `record_run` when training; the latest
  checkpoint."""
  latest = check_output_dir(output_dir, run, training)
  if training:
    record_run(output_dir, run)
  return latest


def describe_outputs(parts):
  """{part: {"file", "sha256"}} of what a run's outputs are made from.

  Args:
    parts: {part ("dev", "test", "raw"): the input file it is made from}.
  """
  return {part: {"file": os.path.abspath(path),
                 "sha256": files.file_digest(path)}
          for part, path in parts.items() if path}


def check_outputs(output_dir, outputs):
  """Refuses to make outputs from another input file than the recorded one
  (they would replace the outputs of that file); writes nothing."""
  path = os.path.join(output_dir, OUTPUTS_NAME)
  if not os.path.exists(path):
    return
  recorded = files.read_json(path, "the outputs record this project writes")
  if not isinstance(recorded, dict):
    raise errors.InputError(path, None, "expected a JSON object: delete it "
                            "to go on")
  what = {"dev": "dev scores", "test": "test predictions and scores",
          "raw": "raw-text predictions"}
  for part, made_from in sorted(outputs.items()):
    before = recorded.get(part)
    if isinstance(before, dict) and before.get("sha256") != made_from[
        "sha256"]:
      raise errors.UserError(
          "--output_dir %s holds the %s of %s (sha256 %s...); making them "
          "from %s (sha256 %s...) would replace them. Move the outputs "
          "away and delete %s, or predict with a copy of this run dir." % (
              output_dir, what.get(part, part), before.get("file"),
              str(before.get("sha256"))[:12], made_from["file"],
              made_from["sha256"][:12], path))


def record_outputs(output_dir, outputs):
  """Adds `outputs` (describe_outputs) to the outputs record of
  `output_dir`, before they are written."""
  if not outputs:
    return
  path = os.path.join(output_dir, OUTPUTS_NAME)
  recorded = (files.read_json(path, "the outputs record this project writes")
              if os.path.exists(path) else {})
  recorded.update(outputs)
  files.atomic_write(path, json.dumps(recorded, indent=2, sort_keys=True) +
                     "\n")


@contextlib.contextmanager
def locked(output_dir):
  """Holds `output_dir`/.lock for the run: a second run there stops.

  Raises:
    UserError naming the pid of the run that holds the lock.
  """
  tf.gfile.MakeDirs(output_dir)
  path = os.path.join(output_dir, LOCK_NAME)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
    os.close(fd)
    raise errors.UserError(
        "--output_dir %s is in use by another run (pid %s); wait for it to "
        "finish, or use another --output_dir" % (output_dir, holder))
  try:
    os.ftruncate(fd, 0)
    os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))
    yield
  finally:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
