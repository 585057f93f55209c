"""A suite file (TOML): what to run, read and checked before anything runs.

    seeds = [1, 2, 3]            # every job, unless a data set says otherwise
    protocol = "fixed"           # or "paper": NER chooses epochs on dev, retrains
    keep = "best"                # checkpoints kept per finished run: best
                                 # (best/ if kept, else the last), last, none;
                                 # kept without the optimizer's slots
    [flags]                      # runner flags for every job
    max_seq_length = 128
    [ner]                        # runner flags for every NER job
    learning_rate = 5e-5
    [ner.NCBI-disease]           # a data set of tasks/datasets.toml
    num_train_epochs = 10
    [re.GAD]
    folds = [1, 2, 3]            # a subset of the data set's folds
    max_steps = 300              # at most this many steps (--max_train_steps)

Besides runner flags (the runner's own names), a data set may set `seeds`,
`folds`, `metrics` (what the report shows) and `max_steps`. Every unknown
key, data set, task or metric is an error naming the file and line. The
jobs: one ordinary run of run_ner.py, run_re.py or run_qa.py per data set,
fold and seed, in `<output_dir>/<task>/<dataset>/<fold>/seed<k>/`.
"""

import collections
import math
import os

from finetuning import errors
from finetuning import files
import tasks
from tasks import datasets as datasets_lib

PROTOCOLS = ("fixed", "paper")
KEEP = ("best", "last", "none")
SUITE_KEYS = ("seeds", "folds", "metrics", "max_steps")
# Flags the suite sets itself.
RESERVED = ("output_dir", "seed", "vocab_file", "bert_config_file",
            "init_checkpoint", "do_train", "do_predict")
# Flags naming files under --data_dir.
PATH_FLAGS = datasets_lib.PATH_KEYS
SINGLE_SPLIT = "all"

Job = collections.namedtuple(
    "Job", ["task", "dataset", "fold", "seed", "flags", "metrics", "path"])
Job.__doc__ = """One run.

task: a task kind (tasks.MODULES); dataset; fold ("all" for one split); seed;
flags: {runner flag: value} (paths absolute); metrics: what the report
shows; path: the run's folder relative to the suite's output dir.
"""

Suite = collections.namedtuple("Suite", ["jobs", "skipped", "protocol",
                                         "keep"])
Suite.__doc__ = """jobs: the Jobs to run, in order; skipped: (data set,
why) of the data sets whose files are missing; protocol; keep: which
checkpoints a finished run keeps (KEEP)."""


class _Errors(object):
  """Collects `file:line: message` errors; raises them all at once."""

  def __init__(self, path, lines):
    self.path, self.lines, self.messages = path, lines, []

  def add(self, where, message):
    line = None
    for n in range(len(where), 0, -1):
      line = self.lines.get(tuple(where[:n]))
      if line:
        break
    self.messages.append("%s:%s: %s" % (self.path, line or 1, message))

  def raise_any(self):
    if self.messages:
      raise errors.UserError("\n".join(self.messages))


def _int_list(value, low=0):
  """Whether `value` is a non-empty list of distinct whole numbers >= low
  (a seed or fold named twice would count one run twice)."""
  return (isinstance(value, list) and value and
          all(isinstance(v, int) and not isinstance(v, bool) and v >= low
              for v in value) and len(set(value)) == len(value))


def _value_problem(value, kind, choices):
  """What is wrong with a flag's `value` in a suite file, or None."""
  if choices:
    return (None if value in choices else
            "expected one of %s" % ", ".join(choices))
  if kind is bool:
    ok = isinstance(value, bool)
  elif kind is int:
    ok = isinstance(value, int) and not isinstance(value, bool)
  elif kind is float:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and
          math.isfinite(value))
  else:
    ok = isinstance(value, str)
  names = {bool: "true or false", int: "a whole number",
           float: "a finite number", str: "a string"}
  return None if ok else "expected %s" % names[kind]


def read(path, data_dir):
  """The Suite of suite file `path`, with paths under `data_dir`.

  Raises:
    UserError listing every problem as `file:line: what`.
  """
  parsed, lines = files.read_toml(path, "suite")
  datasets = datasets_lib.table()
  problems = _Errors(path, lines)
  seeds = parsed.get("seeds", [1])
  if not _int_list(seeds):
    problems.add(("seeds",), "seeds: expected a list of different whole "
                 "numbers >= 0, e.g. [1, 2, 3]")
    seeds = [1]
  protocol = parsed.get("protocol", "fixed")
  if protocol not in PROTOCOLS:
    problems.add(("protocol",), "protocol %r: expected one of %s" %
                 (protocol, ", ".join(PROTOCOLS)))
  keep = parsed.get("keep", "best")
  if keep not in KEEP:
    problems.add(("keep",), "keep %r: expected one of %s" %
                 (keep, ", ".join(KEEP)))
  common = parsed.get("flags", {})
  if not isinstance(common, dict):
    problems.add(("flags",), "flags: expected a table of runner flags")
    common = {}
  top = {"seeds", "protocol", "keep", "flags"} | set(tasks.MODULES)
  for key in parsed:
    if key not in top:
      problems.add((key,), "unknown key or task %r: expected %s" %
                   (key, ", ".join(sorted(top))))
  names = {t: tasks.option_names(tasks.kind(t)) for t in tasks.MODULES
           if t in parsed}
  jobs, skipped = [], []
  for task_name in tasks.MODULES:
    section = parsed.get(task_name)
    if section is None:
      continue
    task = tasks.kind(task_name)
    flags = {k: v for k, v in section.items() if not isinstance(v, dict)}
    for key, value in list(common.items()) + list(flags.items()):
      where = (("flags", key) if key in common and key not in flags
               else (task_name, key))
      _check_flag(problems, where, key, value, names[task_name])
    for name, table in section.items():
      if not isinstance(table, dict):
        continue
      where = (task_name, name)
      known = datasets.get(name)
      if known is None:
        problems.add(where, "unknown data set %r: expected one of %s "
                     "(tasks/datasets.toml)" % (
                         name, ", ".join(sorted(datasets))))
        continue
      if known.kind != task_name:
        problems.add(where, "data set %s is a %s data set, not %s" %
                     (name, known.kind, task_name))
        continue
      for key, value in table.items():
        if key not in SUITE_KEYS:
          _check_flag(problems, where + (key,), key, value, names[task_name])
      run = dict(common)
      run.update(flags)
      run.update({k: v for k, v in table.items() if k not in SUITE_KEYS})
      jobs_of, why = _jobs(problems, where, task, name, known, table, run,
                           seeds, protocol, data_dir)
      if why:
        skipped.append((name, why))
      jobs.extend(jobs_of)
  problems.raise_any()
  return Suite(jobs, skipped, protocol, keep)


def _check_flag(problems, where, key, value, names):
  if key in RESERVED:
    problems.add(where, "%s: set by run_suite.py itself, not in the suite "
                 "file" % key)
  elif key not in names:
    problems.add(where, "unknown key %r: expected a flag of the runner or "
                 "one of %s" % (key, ", ".join(SUITE_KEYS)))
  else:
    problem = _value_problem(value, *names[key])
    if problem:
      problems.add(where, "%s = %r: %s" % (key, value, problem))


def _jobs(problems, where, task, name, known, table, run, seeds, protocol,
          data_dir):
  """(jobs of one data set, why it is skipped or None)."""
  seeds = table.get("seeds", seeds)
  if not _int_list(seeds):
    problems.add(where + ("seeds",), "seeds: expected a list of different "
                 "whole numbers >= 0")
    return [], None
  n_folds = known.folds
  folds = table.get("folds", list(range(1, n_folds + 1)) if n_folds else None)
  if folds is not None and (not n_folds or not _int_list(folds, 1) or
                            any(not 1 <= f <= n_folds for f in folds)):
    problems.add(where + ("folds",), "folds: %s" % (
        "expected a list of different folds between 1 and %d" % n_folds
        if n_folds
        else "%s has a single split" % name))
    return [], None
  metrics = table.get("metrics", list(tasks.default_metrics(task, known)))
  if (not isinstance(metrics, list) or not metrics or
      any(m not in task.metrics for m in metrics)):
    problems.add(where + ("metrics",), "metrics %r: expected a list of %s" %
                 (metrics, ", ".join(task.metrics)))
    return [], None
  max_steps = table.get("max_steps")
  if max_steps is not None and (not isinstance(max_steps, int) or
                                isinstance(max_steps, bool) or max_steps < 1):
    problems.add(where + ("max_steps",), "max_steps: expected a whole number "
                 ">= 1")
    return [], None
  if max_steps is not None and protocol == "paper":
    problems.add(where + ("max_steps",), "max_steps: the paper's protocol "
                 "chooses the number of epochs itself")
    return [], None
  if protocol == "paper" and task.name == "ner":
    run["select_epochs_on_dev"] = True
  if known.task_name:
    run.setdefault("task_name", known.task_name)
  if known.mention_types:
    run.setdefault("mention_types", known.mention_types)
  jobs = []
  for fold in folds or [None]:
    flags = dict(run)
    for key in PATH_FLAGS:
      value = flags.get(key, known.paths.get(key))
      if value is None:
        continue
      value = value.replace("{fold}", str(fold)) if fold else value
      flags[key] = os.path.join(data_dir, value)
      missing = _missing(task, key, flags[key])
      if missing:
        return [], "%s not found" % missing
    if max_steps is not None:
      flags["max_train_steps"] = max_steps
    fold_name = str(fold) if fold else SINGLE_SPLIT
    for seed in seeds:
      jobs.append(Job(task.name, name, fold_name, seed, flags, list(metrics),
                      os.path.join(task.name, name, fold_name,
                                   "seed%d" % seed)))
  return jobs, None


def _missing(task, key, path):
  """The file a job needs under `path` that is not there, or None."""
  if key == "data_dir":
    for name in task.data_files:
      if not os.path.exists(os.path.join(path, name)):
        return os.path.join(path, name)
    return None
  return None if os.path.exists(path) else path
