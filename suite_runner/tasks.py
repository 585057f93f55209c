"""The three tasks as the suite runs and scores them: one table.

For each task: the runner it calls, the score file a finished run leaves,
the metrics the report can show (each read from that file) and the ones it
shows by default, and the option dataclasses whose fields are the keys a
suite file may set. Adding a metric is one entry here.
"""

import collections
import importlib
import os

from finetuning import config as run_config
from finetuning import errors
from finetuning import files
from finetuning import options

Metric = collections.namedtuple("Metric", ["name", "path", "scale", "label"])
Metric.__doc__ = """A number of a run's score file.

path: the keys leading to it in the score file's JSON.
scale: what turns it into a percentage.
label: how the report names it.
"""

Task = collections.namedtuple(
    "Task", ["name", "runner", "options_class", "score_file", "metrics",
             "default_metrics"])
Task.__doc__ = """A task of the suite.

runner: the script a job runs; options_class: "module.Class" of its own
options; score_file: what a finished run writes; metrics: {name: Metric};
default_metrics: what the report shows unless the suite says otherwise
(the first is the data set's headline number).
"""


def _metrics(*rows):
  return collections.OrderedDict((m.name, m) for m in rows)


TASKS = collections.OrderedDict((t.name, t) for t in [
    Task("ner", "run_ner.py", "run_ner.NerOptions", "ner_scores.json",
         _metrics(Metric("entity_f1", ("entity_level", "f1"), 1, "entity F1"),
                  Metric("entity_precision", ("entity_level", "precision"), 1,
                         "entity precision"),
                  Metric("entity_recall", ("entity_level", "recall"), 1,
                         "entity recall")),
         ["entity_f1"]),
    Task("re", "run_re.py", "run_re.ReOptions", "re_scores.json",
         _metrics(Metric("f1", ("f1 score",), 100, "F1"),
                  Metric("micro_f1", ("f1 score",), 100, "micro-F1"),
                  Metric("precision", ("precision",), 100, "precision"),
                  Metric("recall", ("recall",), 100, "recall")),
         ["f1"]),
    Task("qa", "run_qa.py", "run_qa.QaOptions", "bioasq_scores.json",
         _metrics(Metric("sacc", ("strict_accuracy",), 100, "SAcc"),
                  Metric("lacc", ("lenient_accuracy",), 100, "LAcc"),
                  Metric("mrr", ("mrr",), 100, "MRR"),
                  Metric("list_f1", ("list_f1",), 100, "list F1"),
                  Metric("yesno_accuracy", ("yesno_accuracy",), 100,
                         "yes/no accuracy")),
         ["sacc", "lacc", "mrr"]),
])


def option_names(task):
  """{flag: (bool, int, float or str, its choices or None)} of `task`'s
  runner: the keys a suite file may set and the values they take."""
  module, cls = task.options_class.rsplit(".", 1)
  own = getattr(importlib.import_module(module), cls)
  return {f.name: (options.kind(f), f.metadata["choices"])
          for c in (run_config.RunConfig, run_config.CompatOptions, own)
          for f in options.fields(c)}


def score_path(task, run_dir):
  """The score file of a finished run in `run_dir` (the paper's protocol
  writes the retrained model's in final/)."""
  final = os.path.join(run_dir, "final", task.score_file)
  return final if os.path.exists(final) else os.path.join(run_dir,
                                                          task.score_file)


def read_metrics(task, run_dir, names):
  """{metric: percentage} of the run in `run_dir`, or None if it has no
  score file.

  Raises:
    InputError: a score file that is not JSON, or holds a value that is
      not a finite number (NaN) where a metric should be.
  """
  path = score_path(task, run_dir)
  if not os.path.exists(path):
    return None
  scores = files.read_json(path, "the score file of a finished run")
  out = collections.OrderedDict()
  for name in names:
    metric = task.metrics[name]
    value = scores
    for key in metric.path:
      value = value.get(key) if isinstance(value, dict) else None
    if value is not None and (isinstance(value, bool) or not isinstance(
        value, (int, float))):
      raise errors.InputError(path, None, "%s is %r, not a number" % (
          ".".join(metric.path), value))
    out[name] = None if value is None else float(value) * metric.scale
  return out
