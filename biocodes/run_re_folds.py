#!/usr/bin/env python
"""Cross-validation of run_re.py in one command: every fold, then mean ± sd.

    python biocodes/run_re_folds.py --data_dir=$RE_DIR --output_dir=$OUTPUT_DIR \
      --task_name=gad --vocab_file=... --bert_config_file=... \
      --init_checkpoint=... [any other run_re.py flag]

Runs run_re.py (with --do_train=true --do_predict=true unless given) on every
numbered fold directory under --data_dir (1, 2, ..., 10), each into its own
--output_dir/<fold>, scores each with re_eval, and prints and writes
(folds_summary.tsv, folds_summary.json) per-fold and mean ± standard
deviation (sample, n-1) precision, recall, F1 and specificity. A fold that
already finished resumes from its checkpoint, so a broken run can simply be
started again.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, ROOT)

from biocodes import metrics as metrics_lib  # noqa: E402
from tasks import datasets  # noqa: E402
from biocodes import re_eval  # noqa: E402
from biocodes import re_io  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402

METRICS = ["precision", "recall", "f1 score", "specificity"]


def fold_dirs(data_dir):
  """Numbered sub-directories of `data_dir`, in numeric order."""
  if not os.path.isdir(data_dir):
    raise errors.UserError("--data_dir=%s: not a directory" % data_dir)
  folds = sorted((d for d in os.listdir(data_dir)
                  if d.isdigit() and os.path.isdir(os.path.join(data_dir, d))),
                 key=int)
  if not folds:
    raise errors.UserError(
        "--data_dir=%s has no numbered fold directories (1, 2, ...); for a "
        "single split use run_re.py directly" % data_dir)
  return folds


def summary(per_fold, metrics):
  """TSV text: a row per fold, then mean and sd rows (percentages)."""
  lines = ["fold\t" + "\t".join(metrics)]
  for fold, scores in per_fold:
    lines.append(fold + "\t" + "\t".join("%.2f" % (100 * scores[m])
                                         for m in metrics))
  stats = {m: metrics_lib.mean_sd([s[m] for _, s in per_fold]) for m in metrics}
  lines.append("mean\t" + "\t".join("%.2f" % (100 * stats[m][0])
                                    for m in metrics))
  lines.append("sd\t" + "\t".join("%.2f" % (100 * stats[m][1])
                                  for m in metrics))
  return "\n".join(lines) + "\n", stats


def check_folds(data_dir, folds, dataset, train, predict):
  """Reads every fold's train.tsv and test.tsv before the first fold
  trains: a malformed file of the last fold is found in seconds, not after
  hours. Raises InputError with file:line."""
  labels = list(dataset.labels) if dataset else None
  for fold in folds:
    for name, wanted in (("train.tsv", train), ("test.tsv", predict)):
      path = os.path.join(data_dir, fold, name)
      if not wanted:
        continue
      if not os.path.isfile(path):
        raise errors.InputError(path, None, "file not found (every fold "
                                "holds train.tsv and test.tsv)")
      re_io.read_rows(path, labels=labels)


def _flag_value(args, name, default):
  """The value a boolean runner flag gets from `args` (absl's forms)."""
  value = default
  for a in args:
    if a == "--" + name:
      value = True
    elif a == "--no" + name:
      value = False
    elif a.startswith("--%s=" % name):
      value = a.split("=", 1)[1].lower() in ("true", "1", "t", "yes")
  return value


def _has_flag(args, name):
  return any(a in ("--" + name, "--no" + name) or
             a.startswith("--%s=" % name) for a in args)


def main(argv=None):
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n")[0],
      epilog="Other flags are passed to run_re.py unchanged.")
  parser.add_argument("--data_dir", required=True,
                      help="dataset dir holding the folds 1..N")
  parser.add_argument("--output_dir", required=True,
                      help="each fold goes to <output_dir>/<fold>")
  parser.add_argument("--folds", default=None,
                      help="comma-separated folds to run (default: all)")
  args, passthrough = parser.parse_known_args(argv)
  task = "gad"
  for a in passthrough:
    if a.startswith("--task_name="):
      task = a.split("=", 1)[1]
  dataset = datasets.relation_set(task)
  task = dataset.task_name if dataset else task  # run_re.py refuses others
  metrics = (METRICS[:3] if dataset and dataset.metric == datasets.MICRO
             else METRICS)
  defaults = [f for f in ("do_train", "do_predict")
              if not _has_flag(passthrough, f)]
  try:
    folds = fold_dirs(args.data_dir)
    if args.folds:
      wanted = args.folds.split(",")
      missing = [f for f in wanted if f not in folds]
      if missing:
        raise errors.UserError("--folds: no fold %s under %s" %
                               (",".join(missing), args.data_dir))
      folds = [f for f in folds if f in wanted]
    check_folds(args.data_dir, folds, dataset, _flag_value(
        passthrough, "do_train", True), _flag_value(
            passthrough, "do_predict", True))
    per_fold = []
    for fold in folds:
      data = os.path.join(args.data_dir, fold)
      out = os.path.join(args.output_dir, fold)
      print("=== fold %s: %s -> %s" % (fold, data, out), flush=True)
      cmd = ([sys.executable, os.path.join(ROOT, "run_re.py")] +
             ["--%s=true" % f for f in defaults] + passthrough +
             ["--data_dir=" + data, "--output_dir=" + out])
      result = subprocess.run(cmd)
      if result.returncode != 0:
        raise errors.UserError(
            "fold %s failed (run_re.py exit %d); fix the cause and run the "
            "same command again: finished folds resume from their "
            "checkpoints" % (fold, result.returncode))
      scores, notes = re_eval.evaluate(
          os.path.join(out, "test_results.tsv"),
          os.path.join(data, "test.tsv"), task)
      for note in notes:
        print("fold %s note: %s" % (fold, note))
      scores = dict(scores)
      files.atomic_write(os.path.join(out, "re_eval.json"),
                          json.dumps(scores, indent=2) + "\n")
      per_fold.append((fold, scores))
      print(re_eval.format_scores([(m, scores[m]) for m in metrics]),
            end="", flush=True)
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  text, stats = summary(per_fold, metrics)
  files.atomic_write(os.path.join(args.output_dir, "folds_summary.tsv"),
                      text)
  files.atomic_write(
      os.path.join(args.output_dir, "folds_summary.json"),
      json.dumps({"task": task,
                  "folds": {f: s for f, s in per_fold},
                  "mean": {m: stats[m][0] for m in metrics},
                  "sd": {m: stats[m][1] for m in metrics}}, indent=2) + "\n")
  print("=== %d folds (percent)" % len(per_fold))
  print(text, end="")
  for m in metrics:
    print("{:11s} : {:.2f} ± {:.2f}".format(m, 100 * stats[m][0],
                                           100 * stats[m][1]))
  return 0


if __name__ == "__main__":
  sys.exit(main())
