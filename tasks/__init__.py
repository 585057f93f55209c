"""The tasks: one module each, and the records every tool reads of them.

A task module (`tasks.ner`, `tasks.relations`, `tasks.qa`, `tasks.norm`)
holds
everything about its task: its options, its reading, features, head and
scoring (the `driver.Task`), its score file and metrics (`KIND`), and how it
tags raw text. Importing one defines no flag and changes no state; the
runner scripts (run_ner.py, run_re.py, run_qa.py, run_norm.py) are command lines over
them that no module imports. The data sets are one table,
`tasks/datasets.toml`, read by `tasks.datasets`.
"""

import dataclasses
import importlib
from typing import Dict, Tuple

# The task kinds and the module of each.
MODULES = {"ner": "tasks.ner", "re": "tasks.relations", "qa": "tasks.qa",
           "norm": "tasks.norm"}


@dataclasses.dataclass(frozen=True)
class Metric:
  """A number of a run's score file.

  path: the keys leading to it in the score file's JSON; scale: what
  turns it into a percentage; label: how reports name it.
  """
  name: str
  path: Tuple[str, ...]
  scale: float
  label: str


@dataclasses.dataclass(frozen=True)
class Kind:
  """What the tools need to know of a task kind.

  runner: its command line; options: its options dataclass (whose fields
  are its own flags); flag_defaults: the defaults its runner gives common
  flags (the original scripts' own); score_file: what a finished run
  writes; metrics: {name: Metric}, the first default the headline;
  default_metrics: what a report shows unless told otherwise; data_files:
  the files a data dir of it must hold (under --data_dir), if it has one.
  """
  name: str
  runner: str
  options: type
  flag_defaults: Dict[str, object]
  score_file: str
  metrics: Dict[str, Metric]
  default_metrics: Tuple[str, ...]
  data_files: Tuple[str, ...] = ()


def metrics(*rows):
  """{name: Metric} of the rows, in order."""
  return {m.name: m for m in rows}


def kind(name):
  """The Kind of task `name` ("ner", "re", "qa"); KeyError if unknown."""
  return importlib.import_module(MODULES[name]).KIND


def kind_of(manifest):
  """The kind of a recorded run (run_manifest.json): recorded since the
  tasks recorded it, else told by the task name older runs recorded (the
  relation data set's name for RE)."""
  if manifest.get("kind"):
    return manifest["kind"]
  task = manifest.get("task")
  if task == "ner":
    return "ner"
  if task in ("qa", "qa_yesno"):
    return "qa"
  return "re"


def option_names(kind_record):
  """{flag: (bool, int, float or str, its choices or None)} of a Kind's
  runner: the flags it takes and the values they take."""
  from finetuning import config as run_config  # pylint: disable=g-import-not-at-top
  from finetuning import options  # pylint: disable=g-import-not-at-top
  return {f.name: (options.kind(f), f.metadata["choices"])
          for c in (run_config.RunConfig, run_config.CompatOptions,
                    kind_record.options)
          for f in options.fields(c)}


def default_metrics(kind_record, dataset):
  """What a report shows of a data set unless told otherwise: its kind's
  default metrics, with micro-F1 first for a relation data set scored by
  micro-F1 (ChemProt, DDI, DrugProt), whose published numbers are that."""
  if dataset is not None and dataset.metric == "micro":
    return ("micro_f1",) + tuple(m for m in kind_record.default_metrics
                                 if m not in ("f1", "micro_f1"))
  return tuple(kind_record.default_metrics)
