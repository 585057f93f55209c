"""The data-set table (tasks/datasets.toml), read and checked into records.

Every tool reads its data sets from here: run_re.py its labels, masks and
metric; the suite where each set's files are, its folds and published
scores; the tagger which entity types a relation model pairs; re_eval.py
and run_re_folds.py how to score. A new data set is one table in the TOML
file; a mistake in it is an error naming the file and line.
"""

import dataclasses
import functools
import os
from typing import Dict, Optional, Tuple

from finetuning import errors
from finetuning import files

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "datasets.toml")
KINDS = ("ner", "re", "qa", "norm")
BINARY, MICRO = "binary", "micro"
# The metric's key in scores and dev evaluations.
MAIN_SCORE = {BINARY: "f1", MICRO: "micro_f1"}
# The runner flags that name a data set's files (relative to --data_dir).
PATH_KEYS = ("data_dir", "train_file", "predict_file", "golden_file",
             "dev_file", "dev_golden_file", "lexicon", "spelling_file")
_KEYS = {"task", "folds", "published", "task_name", "labels",
         "entity_types", "metric", "mention_types"} | set(PATH_KEYS)


@dataclasses.dataclass(frozen=True)
class Published:
  """A published score: the system, its value (a percentage), the source,
  and the metric when it is not the task's headline one."""
  system: str
  value: float
  source: str
  metric: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One data set of the table.

  kind: "ner", "re" or "qa". paths: {runner flag: path under --data_dir,
  with {fold}}. folds: how many (numbered from 1), or None for one split.
  A relation data set has labels (in the order of the model's outputs),
  entity_types (the pair's two types, upper case) and metric (BINARY or
  MICRO), its own or those of the data set its task_name names. A
  normalization data set may name the mention types it normalizes
  (run_norm.py --mention_types, e.g. "Disease" of BC5CDR).
  """
  name: str
  kind: str
  paths: Dict[str, str]
  folds: Optional[int] = None
  published: Tuple[Published, ...] = ()
  task_name: Optional[str] = None
  labels: Optional[Tuple[str, ...]] = None
  entity_types: Optional[Tuple[str, str]] = None
  metric: Optional[str] = None
  mention_types: Optional[str] = None

  @property
  def negative(self):
    """The label that means "no relation": "0" of a yes/no set, else the
    last ("false")."""
    return self.labels[0] if self.metric == BINARY else self.labels[-1]


def _fail(path, lines, where, message):
  line = None
  for n in range(len(where), 0, -1):
    line = lines.get(tuple(where[:n]))
    if line:
      break
  raise errors.InputError(path, line, message)


def _strings(value, n=None):
  return (isinstance(value, list) and value and
          all(isinstance(v, str) and v for v in value) and
          len(set(value)) == len(value) and (n is None or len(value) == n))


def _dataset(path, lines, name, table):
  where = (name,)
  if not isinstance(table, dict):
    _fail(path, lines, where, "%s: expected a table" % name)
  unknown = sorted(set(table) - _KEYS)
  if unknown:
    _fail(path, lines, where + (unknown[0],), "unknown key %r: expected %s" %
          (unknown[0], ", ".join(sorted(_KEYS))))
  kind = table.get("task")
  if kind not in KINDS:
    _fail(path, lines, where + ("task",), "%s: task %r: expected one of %s" %
          (name, kind, ", ".join(KINDS)))
  folds = table.get("folds")
  if folds is not None and (not isinstance(folds, int) or
                            isinstance(folds, bool) or folds < 1):
    _fail(path, lines, where + ("folds",), "folds: expected a whole number "
          ">= 1")
  published = []
  for entry in table.get("published", []):
    if not (isinstance(entry, dict) and isinstance(entry.get("system"), str)
            and isinstance(entry.get("value"), (int, float)) and
            isinstance(entry.get("source"), str)):
      _fail(path, lines, where + ("published",), "published: expected "
            "{system, value, source[, metric]} entries")
    published.append(Published(entry["system"], float(entry["value"]),
                               entry["source"], entry.get("metric")))
  paths = {k: table[k] for k in PATH_KEYS if k in table}
  if not all(isinstance(v, str) for v in paths.values()):
    _fail(path, lines, where, "%s: file paths must be strings" % name)
  own = [k for k in ("labels", "entity_types", "metric") if k in table]
  labels = entity_types = metric = None
  if kind == "re" and own:
    if "task_name" in table or len(own) != 3:
      _fail(path, lines, where + (own[0],), "%s: a relation data set has "
            "labels, entity_types and metric, or a task_name naming the data "
            "set whose they are, not both" % name)
    labels, metric = table["labels"], table["metric"]
    entity_types = table["entity_types"]
    if not _strings(labels) or len(labels) < 2:
      _fail(path, lines, where + ("labels",), "labels: expected a list of "
            "two or more different strings")
    if not _strings(entity_types, 2) and not (
        isinstance(entity_types, list) and len(entity_types) == 2 and
        entity_types[0] == entity_types[1] and
        isinstance(entity_types[0], str) and entity_types[0]):
      _fail(path, lines, where + ("entity_types",), "entity_types: expected "
            "the two types a pair relates, e.g. [\"CHEMICAL\", \"GENE\"]")
    if metric not in (BINARY, MICRO):
      _fail(path, lines, where + ("metric",), "metric %r: expected %s or %s"
            % (metric, BINARY, MICRO))
    if metric == BINARY and labels != ["0", "1"]:
      _fail(path, lines, where + ("labels",), "a binary data set's labels are"
            " [\"0\", \"1\"]")
    labels, entity_types = tuple(labels), tuple(t.upper()
                                                for t in entity_types)
  elif own:
    _fail(path, lines, where + (own[0],), "%s: only a relation data set has "
          "%s" % (name, own[0]))
  elif kind == "re" and not isinstance(table.get("task_name"), str):
    _fail(path, lines, where, "%s: a relation data set needs labels, "
          "entity_types and metric, or a task_name" % name)
  mention_types = table.get("mention_types")
  if mention_types is not None and (kind != "norm" or not isinstance(
      mention_types, str)):
    _fail(path, lines, where + ("mention_types",), "mention_types: only a "
          "normalization data set has them, as a string (\"Disease\")")
  return Dataset(name, kind, paths, folds, tuple(published),
                 table.get("task_name"), labels, entity_types, metric,
                 mention_types)


def table(path=None):
  """{name: Dataset} of the table (`TABLE` unless `path`), in file order,
  task_names resolved.

  Raises:
    InputError: the table cannot be read, or an entry is wrong (file:line).
  """
  return _read(path or TABLE)


@functools.lru_cache(maxsize=None)
def _read(path):
  parsed, lines = files.read_toml(path)
  out = {name: _dataset(path, lines, name, value)
         for name, value in parsed.items()}
  by_lower = {name.lower(): d for name, d in out.items()}
  for name, d in list(out.items()):
    if d.kind == "re" and d.labels is None:
      target = by_lower.get(d.task_name.lower())
      if target is None or target.labels is None:
        _fail(path, lines, (name, "task_name"), "task_name %r: not a relation"
              " data set with labels of this table" % d.task_name)
      out[name] = dataclasses.replace(
          d, labels=target.labels, entity_types=target.entity_types,
          metric=target.metric, task_name=target.name.lower())
    elif d.kind == "re":
      out[name] = dataclasses.replace(d, task_name=name.lower())
  return out


def of_kind(kind, path=None):
  """The data sets of one kind, {name: Dataset}."""
  return {n: d for n, d in table(path).items() if d.kind == kind}


def relation_set(name, path=None):
  """The relation data set `name` (any case) with its labels, masks and
  metric, or None: what run_re.py --task_name names."""
  for d in of_kind("re", path).values():
    if d.name.lower() == (name or "").lower():
      return d
  return None


def relation_schemas(path=None):
  """{task_name: Dataset} of the relation data sets that define labels
  (one per distinct --task_name a trained run records)."""
  return {d.task_name: d for d in of_kind("re", path).values()
          if d.task_name == d.name.lower()}


def relation_entity_types(path=None):
  """Every entity type some relation data set pairs (upper case)."""
  seen = {}
  for d in of_kind("re", path).values():
    for t in d.entity_types:
      seen.setdefault(t, None)
  return list(seen)


def for_metric(metric, path=None):
  """A relation data set scored by `metric` (re_eval.py's --task binary)."""
  return next(d for d in of_kind("re", path).values() if d.metric == metric)
