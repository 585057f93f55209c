"""The suite's report: every run's test scores, per data set and metric.

Read from each run's own score file (`read_metrics`), so the report
is the same however the runs were scheduled, interrupted or resumed.
Per data set and metric: the number of runs, mean ± sample standard
deviation, min, max and the best run (how the BioBERT paper reports), with
the published numbers of tasks/datasets.toml beside them, and a
macro average over task types (the mean of each type's data-set means of
the headline metric, as BLURB averages). Written as report.md, report.csv,
report.json and report.png in the suite's output dir.
"""

import collections
import csv
import dataclasses
import io
import json
import os

from biocodes import metrics as metrics_lib
from finetuning import errors
from finetuning import files
import tasks
from tasks import datasets as datasets_lib

def _title(kind):
  """How the report names a task kind: NER, RE, QA, NORM."""
  return kind.upper()


def score_path(kind, run_dir):
  """The score file of a finished run in `run_dir` (the paper's protocol
  writes the retrained model's in final/)."""
  final = os.path.join(run_dir, "final", kind.score_file)
  return final if os.path.exists(final) else os.path.join(run_dir,
                                                          kind.score_file)


def read_metrics(kind, run_dir, names):
  """{metric: percentage} of the run in `run_dir`, or None if it has no
  score file.

  Raises:
    InputError: a score file that is not JSON, or holds a value that is
      not a finite number (NaN) where a metric should be.
  """
  path = score_path(kind, run_dir)
  if not os.path.exists(path):
    return None
  scores = files.read_json(path, "the score file of a finished run")
  out = collections.OrderedDict()
  for name in names:
    metric = kind.metrics[name]
    value = scores
    for key in metric.path:
      value = value.get(key) if isinstance(value, dict) else None
    if value is not None and (isinstance(value, bool) or not isinstance(
        value, (int, float))):
      raise errors.InputError(path, None, "%s is %r, not a number" % (
          ".".join(metric.path), value))
    out[name] = None if value is None else float(value) * metric.scale
  return out


def collect(jobs, output_dir, done=None, warn=errors.warn):
  """[(job, {metric: value} or None, steps or None)] of `jobs`.

  Args:
    done: the paths of the jobs whose results are of their present
      definition (None: all); the others count as missing.
    warn: told of a score file that cannot be read (the run counts as
      missing).
  """
  rows = []
  for job in jobs:
    run_dir = os.path.join(output_dir, job.path)
    values = None
    if done is None or job.path in done:
      try:
        values = read_metrics(tasks.kind(job.task), run_dir,
                                    job.metrics)
      except errors.UserError as e:
        warn("%s; counted as missing" % e)
    rows.append((job, values, _steps(run_dir)))
  return rows


def _steps(run_dir):
  """The global step of a run's newest checkpoint (the paper's protocol:
  of the retrained model in final/)."""
  for folder in (os.path.join(run_dir, "final"), run_dir):
    path = os.path.join(folder, "checkpoint")
    if os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        first = f.readline()
      try:
        return int(first.rsplit("-", 1)[1].strip().strip('"'))
      except (IndexError, ValueError):
        return None
  return None


def summarize(rows, datasets):
  """The report as a JSON-ready dict."""
  groups = collections.OrderedDict()
  for job, values, steps in rows:
    key = (job.task, job.dataset)
    group = groups.setdefault(key, {"jobs": [], "metrics": job.metrics})
    group["jobs"].append((job, values, steps))
  out = {"datasets": [], "macro_average": None}
  headline = collections.OrderedDict()
  for (task, dataset), group in groups.items():
    runs = [{"fold": j.fold, "seed": j.seed, "steps": s,
             "scores": v} for j, v, s in group["jobs"]]
    finished = [r for r in runs if r["scores"] is not None]
    entry = {"task": task, "dataset": dataset, "runs": runs,
             "missing": len(runs) - len(finished), "metrics": []}
    known = datasets.get(dataset)
    main_metric = tasks.default_metrics(tasks.kind(task), known)[0]
    published = [{k: v for k, v in dataclasses.asdict(p).items()
                  if v is not None} for p in (known.published if known
                                              else ())]
    for metric in group["metrics"]:
      values = [r["scores"][metric] for r in finished
                if r["scores"][metric] is not None]
      stats = {"metric": metric, "n": len(values)}
      if values:
        mean, sd = metrics_lib.mean_sd(values)
        best = max(finished, key=lambda r, m=metric: (
            r["scores"][m] if r["scores"][m] is not None else -1))
        stats.update(mean=mean, sd=sd, min=min(values), max=max(values),
                     best={"value": best["scores"][metric],
                           "fold": best["fold"], "seed": best["seed"]})
      stats["published"] = [
          p for p in published
          if p.get("metric", main_metric) == metric]
      entry["metrics"].append(stats)
    first = entry["metrics"][0]
    if first.get("mean") is not None:
      headline.setdefault(task, []).append(first["mean"])
    out["datasets"].append(entry)
  if headline:
    per_type = {t: sum(v) / len(v) for t, v in headline.items()}
    out["macro_average"] = {
        "per_task": per_type,
        "value": sum(per_type.values()) / len(per_type)}
  return out


def _fmt(value):
  return "" if value is None else "%.2f" % value


def _published_text(stats):
  return "; ".join("%s %.2f" % (p["system"], p["value"])
                   for p in stats["published"])


def markdown(report, title, notes):
  """report.md: a table of data sets, then the runs."""
  lines = ["# %s" % title, ""]
  lines += ["%s" % n for n in notes] + ([""] if notes else [])
  lines += ["| task | data set | metric | runs | mean ± sd | min | max | "
            "best (fold, seed) | published |",
            "|---|---|---|---|---|---|---|---|---|"]
  for entry in report["datasets"]:
    for stats in entry["metrics"]:
      label = tasks.kind(entry["task"]).metrics[stats["metric"]].label
      if stats["n"]:
        cells = ["%.2f ± %.2f" % (stats["mean"], stats["sd"]),
                 _fmt(stats["min"]), _fmt(stats["max"]),
                 "%.2f (%s, %d)" % (stats["best"]["value"],
                                    stats["best"]["fold"],
                                    stats["best"]["seed"])]
      else:
        cells = ["", "", "", ""]
      lines.append("| %s | %s | %s | %d%s | %s | %s |" % (
          _title(entry["task"]), entry["dataset"], label, stats["n"],
          " (%d missing)" % entry["missing"] if entry["missing"] else "",
          " | ".join(cells), _published_text(stats)))
  macro = report["macro_average"]
  if macro:
    lines += ["", "Macro average over task types (the mean of each type's "
              "data-set means of the first metric): **%.2f** (%s)." % (
                  macro["value"], ", ".join(
                      "%s %.2f" % (_title(t), v)
                      for t, v in macro["per_task"].items()))]
  lines += ["", "Sources of the published numbers: "
            "tasks/datasets.toml.", ""]
  return "\n".join(lines)


def csv_text(report):
  """report.csv: one row per data set and metric."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(["task", "dataset", "metric", "n", "missing", "mean", "sd",
                   "min", "max", "best", "best_fold", "best_seed",
                   "published"])
  for entry in report["datasets"]:
    for s in entry["metrics"]:
      best = s.get("best") or {}
      writer.writerow([entry["task"], entry["dataset"], s["metric"], s["n"],
                       entry["missing"], _fmt(s.get("mean")),
                       _fmt(s.get("sd")), _fmt(s.get("min")),
                       _fmt(s.get("max")), _fmt(best.get("value")),
                       best.get("fold", ""), best.get("seed", ""),
                       _published_text(s)])
  return out.getvalue()


def plot(report, path):
  """report.png: each run's headline score as a point, per data set, with
  the published numbers beside them, one marker per source system.
  Returns the legend's labels."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  entries = report["datasets"]
  fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(entries) + 2), 4))
  styles = (("x", "tab:red"), ("+", "tab:green"), ("^", "tab:purple"),
            ("s", "tab:orange"))
  systems = []
  for x, entry in enumerate(entries):
    metric = entry["metrics"][0]["metric"]
    values = [r["scores"][metric] for r in entry["runs"]
              if r["scores"] and r["scores"][metric] is not None]
    ax.scatter([x] * len(values), values, s=18, color="tab:blue",
               label="this suite's runs" if x == 0 else None)
    for p in entry["metrics"][0]["published"]:
      label = None
      if p["system"] not in systems:
        systems.append(p["system"])
        label = "published: %s" % p["system"]
      marker, color = styles[systems.index(p["system"]) % len(styles)]
      ax.scatter([x + 0.15], [p["value"]], marker=marker, color=color,
                 label=label)
  ax.set_xticks(range(len(entries)))
  ax.set_xticklabels(["%s\n%s" % (e["dataset"], tasks.kind(e["task"]).metrics[
      e["metrics"][0]["metric"]].label) for e in entries], fontsize=7)
  ax.set_ylabel("test score (%)")
  legend = ax.legend(fontsize=7, loc="lower right")
  labels = [t.get_text() for t in legend.get_texts()]
  fig.tight_layout()
  tmp = path + ".tmp.png"
  fig.savefig(tmp, dpi=110, metadata={"Software": None})
  plt.close(fig)
  os.replace(tmp, path)
  return labels


def write(rows, output_dir, title, notes=()):
  """Writes report.md, .csv, .json and .png; returns the report dict."""
  report = summarize(rows, datasets_lib.table())
  files.atomic_write(os.path.join(output_dir, "report.json"),
                     json.dumps(report, indent=2, sort_keys=True,
                                allow_nan=False) + "\n")
  files.atomic_write(os.path.join(output_dir, "report.csv"),
                     csv_text(report))
  files.atomic_write(os.path.join(output_dir, "report.md"),
                     markdown(report, title, list(notes)))
  plot(report, os.path.join(output_dir, "report.png"))
  return report
