#!/usr/bin/env python
"""Scores relation extraction predictions as BioBERT's re_eval.py did.

    python biocodes/re_eval.py --output_path=OUT/test_results.tsv \
      --answer_path=RE_DIR/test.tsv [--task=binary|chemprot]

The prediction of a row is the argmax of its probabilities; the truth is the
`label` column of the answer file. Binary tasks (GAD, EU-ADR) print F1,
recall and precision of class 1 and specificity (recall of class 0);
chemprot prints precision, recall and F1 micro-averaged over the five CPR
classes (`false` excluded). Each line is formatted `{:11s} : {:.2%}`.
An undefined ratio (nothing predicted or nothing to find) is 0, with a note.
"""

import argparse
import json
import os
import sys

if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from biocodes import metrics  # noqa: E402
from tasks import datasets  # noqa: E402
from biocodes import re_io  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402


def argmax(row):
  """Index of the largest value (the first one on ties, as numpy)."""
  return max(range(len(row)), key=lambda i: (row[i], -i))


def _undefined(notes, what, denominator):
  if denominator == 0:
    notes.append("%s is undefined (0/0); reported as 0" % what)


def binary_scores(pred, gold):
  """F1/recall/precision of class 1 and specificity, from class ids.

  Returns:
    (ordered list of (name, value), notes).
  """
  notes = []
  tp = sum(1 for p, g in zip(pred, gold) if p == 1 and g == 1)
  tn = sum(1 for p, g in zip(pred, gold) if p == 0 and g == 0)
  n_pred1 = sum(1 for p in pred if p == 1)
  n_gold1 = sum(1 for g in gold if g == 1)
  n_pred0 = sum(1 for p in pred if p == 0)
  n_gold0 = sum(1 for g in gold if g == 0)
  precision, recall, f1 = metrics.prf(tp, n_pred1, n_gold1)
  specificity = metrics.prf(tn, n_pred0, n_gold0)[1]  # the recall of class 0
  _undefined(notes, "precision (no row predicted 1)", n_pred1)
  _undefined(notes, "recall (no row labelled 1)", n_gold1)
  _undefined(notes, "specificity (no row labelled 0)", n_gold0)
  return [("f1 score", f1), ("recall", recall), ("precision", precision),
          ("specificity", specificity)], notes


def chemprot_scores(pred, gold, num_positive=5):
  """Micro precision/recall/F1 over classes 0..num_positive-1 (ChemProt:
  CPR:3..9, every label but the negative "false")."""
  notes = []
  positive = set(range(num_positive))
  tp = sum(1 for p, g in zip(pred, gold) if p == g and p in positive)
  n_pred = sum(1 for p in pred if p in positive)
  n_gold = sum(1 for g in gold if g in positive)
  precision, recall, f1 = metrics.prf(tp, n_pred, n_gold)
  _undefined(notes, "precision (no CPR class predicted)", n_pred)
  _undefined(notes, "recall (no CPR class in the answers)", n_gold)
  return [("f1 score", f1), ("recall", recall), ("precision", precision)], notes


def dataset_of(task):
  """The data set `--task` names: binary or chemprot (the original's
  choices, GAD's and ChemProt's scoring) or any relation data set of
  tasks/datasets.toml."""
  return (datasets.for_metric(datasets.BINARY) if task == "binary"
          else datasets.relation_set(task))


def score(probabilities, gold_labels, task="binary"):
  """Scores class probabilities (label order of the task) against labels.

  Args:
    task: a name for `dataset_of`, or a `tasks.datasets.Dataset`.

  Returns:
    (ordered list of (name, value), notes).
  """
  dataset = task if isinstance(task, datasets.Dataset) else dataset_of(
      task)
  pred = [argmax(p) for p in probabilities]
  gold = [dataset.labels.index(label) for label in gold_labels]
  if dataset.metric == datasets.MICRO:
    return chemprot_scores(pred, gold, len(dataset.labels) - 1)
  return binary_scores(pred, gold)


def evaluate(output_path, answer_path, task="binary"):
  """Scores a test_results.tsv against a test.tsv.

  Returns:
    (ordered list of (name, value), notes).
  """
  labels = dataset_of(task).labels
  probs = re_io.read_probabilities(output_path)
  rows = re_io.read_rows(answer_path, labels=labels)
  if len(probs) != len(rows):
    raise errors.UserError(
        "%s has %d predictions but %s has %d examples" %
        (output_path, len(probs), answer_path, len(rows)))
  if probs and len(probs[0]) != len(labels):
    raise errors.UserError(
        "%s has %d probabilities a line; task %s has %d labels (%s)" %
        (output_path, len(probs[0]), task, len(labels), ", ".join(labels)))
  return score(probs, [r.label for r in rows], task)


def format_scores(scores):
  """The original's lines: `{:11s} : {:.2%}`."""
  return "".join("{:11s} : {:.2%}\n".format(k, v) for k, v in scores)


def _task(value):
  if value != "binary" and datasets.relation_set(value) is None:
    raise argparse.ArgumentTypeError("%r: expected binary or one of %s" % (
        value, ", ".join(datasets.of_kind("re"))))
  return value


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--output_path", required=True,
                      help="test_results.tsv written by run_re.py")
  parser.add_argument("--answer_path", required=True, help="the test.tsv")
  parser.add_argument("--task", default="binary",
                      type=_task,
                      help="binary (GAD, EU-ADR) or chemprot, or a relation "
                      "data set's name (tasks/datasets.toml)")
  parser.add_argument("--json_output", default=None,
                      help="also write the scores to this JSON file")
  args = parser.parse_args(argv)
  try:
    scores, notes = evaluate(args.output_path, args.answer_path, args.task)
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  sys.stdout.write(format_scores(scores))
  for note in notes:
    sys.stderr.write("note: %s\n" % note)
  if args.json_output:
    files.atomic_write(args.json_output,
                        json.dumps(dict(scores), indent=2) + "\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
