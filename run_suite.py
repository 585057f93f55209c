#!/usr/bin/env python
"""The paper's table in one command: every data set, fold and seed of a suite.

    python run_suite.py --suite=suites/biobert.toml --bert_dir=$BIOBERT_DIR \
      --data_dir=./datasets --output_dir=suite_out

Each job is one ordinary run of run_ner.py, run_re.py or run_qa.py in
suite_out/<task>/<dataset>/<fold>/seed<k>/, scheduled by Dask distributed:
a local cluster by default, or --scheduler_address=tcp://host:8786 for a
running one. The same command again runs only what is not finished (an
interrupted run resumes from its checkpoint), then writes report.md,
report.csv, report.json and report.png. Suite files: suites/*.toml and
suite_runner/spec.py.
"""

import signal
# Ctrl-C is held from the first line until main() can stop cleanly
# (cluster.release_interrupts): no traceback from the middle of an import.
if __name__ == "__main__":
  signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

import argparse
import errno
import glob
import json
import os
import re
import shutil
import sys
import time

import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines
from finetuning import errors
from finetuning import files
from finetuning import cluster
from suite_runner import engine
from suite_runner import report as report_lib
from suite_runner import spec
import tasks

RUN_FILE = "suite_run.json"
RESUME_HINT = ("run the same command again: finished jobs are kept and the "
               "others resume from their last checkpoint")


def model_flags(bert_dir, init_checkpoint=None):
  """--vocab_file, --bert_config_file, --init_checkpoint of `bert_dir`."""
  if not os.path.isdir(bert_dir):
    raise errors.UserError("--bert_dir=%s: not a directory" % bert_dir)
  bert_dir = os.path.abspath(bert_dir)
  for name in ("vocab.txt", "bert_config.json"):
    if not os.path.exists(os.path.join(bert_dir, name)):
      raise errors.UserError("--bert_dir=%s: no %s" % (bert_dir, name))
  if init_checkpoint is None:
    prefixes = sorted(p[:-len(".index")] for p in
                      glob.glob(os.path.join(bert_dir, "*.index")))
    if len(prefixes) != 1:
      raise errors.UserError(
          "--bert_dir=%s: expected one checkpoint (model.ckpt*.index), found "
          "%d; name it with --init_checkpoint" % (bert_dir, len(prefixes)))
    init_checkpoint = prefixes[0]
  return {"vocab_file": os.path.join(bert_dir, "vocab.txt"),
          "bert_config_file": os.path.join(bert_dir, "bert_config.json"),
          "init_checkpoint": os.path.abspath(init_checkpoint)}


def check_same_suite(output_dir, recorded):
  """Records the model of this suite's output dir; refuses another."""
  path = os.path.join(output_dir, RUN_FILE)
  if os.path.exists(path):
    before = files.read_json(path, "the suite record run_suite.py writes")
    if before != recorded:
      raise errors.UserError(
          "--output_dir=%s holds a suite of another model (%s: %s); use a "
          "new --output_dir" % (output_dir, RUN_FILE, before))
  else:
    files.atomic_write(path, json.dumps(recorded, indent=2, sort_keys=True)
                       + "\n")


def job_line(job, result, values):
  """One line for a finished job: its path, its scores and its time."""
  if result["returncode"] != 0 or result.get("problem"):
    return "%s  FAILED (exit %d%s): see %s" % (
        job.path, result["returncode"],
        ": %s" % result["problem"] if result.get("problem") else "",
        os.path.join(job.path, engine.LOG))
  task = tasks.kind(job.task)
  scores = "  ".join("%s %.2f" % (task.metrics[m].label, v)
                     for m, v in (values or {}).items() if v is not None)
  return "%s  %s  (%.0f s)" % (job.path, scores, result["seconds"])


def main(argv=None):
  cluster.release_interrupts()
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n")[0],
      formatter_class=cluster.HelpFormatter,
      epilog=__doc__.split("\n", 2)[2])
  parser.add_argument("--suite", required=True, help="the suite file (TOML)")
  parser.add_argument("--bert_dir", required=True,
                      help="vocab.txt, bert_config.json and one checkpoint")
  parser.add_argument("--init_checkpoint", default=None,
                      help="the checkpoint when --bert_dir holds several")
  parser.add_argument("--data_dir", required=True,
                      help="the data sets, in download.sh's layout")
  parser.add_argument("--output_dir", required=True)
  cluster.add_arguments(parser)
  parser.add_argument("--report_only", action="store_true",
                      help="write the report of what has finished; run "
                      "nothing")
  parser.add_argument("--redo_changed", action="store_true",
                      help="delete and run again the jobs whose settings, "
                      "data or model changed since they ran (without it "
                      "they are listed and nothing runs)")
  args = parser.parse_args(argv)
  # A UserError ends the command with one line and exit 2 (run_main).
  if cluster.check_arguments(args):
    raise errors.UserError(cluster.check_arguments(args))
  suite = spec.read(args.suite, os.path.abspath(args.data_dir))
  flags = model_flags(args.bert_dir, args.init_checkpoint)
  output_dir = os.path.abspath(args.output_dir)
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise errors.UserError("--output_dir=%s: not a directory" % output_dir)
  cluster.check_own_output_dir(output_dir, RUN_FILE, "run_suite.py",
                               "the suite's runs and report")
  os.makedirs(output_dir, exist_ok=True)
  check_same_suite(output_dir, flags)
  for name, why in suite.skipped:
    print("skipped %s: %s" % (name, why))
  jobs = [j._asdict() for j in suite.jobs]
  defined, states = _states(jobs, flags, output_dir)
  changed = [(j, why) for j in jobs for s, why in [states[j["path"]]]
             if s == "changed"]
  if changed and not (args.redo_changed or args.report_only):
    raise errors.UserError(
        "%d job%s in %s ran with other settings, data or model than %s now "
        "gives:\n%s\nRun with --redo_changed to delete and redo %s, or use "
        "a new --output_dir." % (
            len(changed), "" if len(changed) == 1 else "s", output_dir,
            args.suite, "\n".join(
                "  %s: %s" % (j["path"], "; ".join(why[:3]) + (
                    "; ..." if len(why) > 3 else ""))
                for j, why in changed[:10]) + (
                    "\n  ..." if len(changed) > 10 else ""),
            "them" if len(changed) > 1 else "it"))
  if changed and args.redo_changed and not args.report_only:
    for job, _ in changed:
      shutil.rmtree(os.path.join(output_dir, job["path"]))
      states[job["path"]] = ("pending", [])
    print("Deleted %d changed job%s to run again" % (
        len(changed), "" if len(changed) == 1 else "s"))
  pending = [j for j in jobs if states[j["path"]][0] != "done"]
  failed = []
  if not suite.jobs:
    print("The suite names no data set whose files are here.")
  elif args.report_only:
    print("%d of %d jobs finished; writing the report only." %
          (len(jobs) - len(pending), len(jobs)))
  elif not pending:
    print("Nothing to run: all %d jobs are finished in %s." %
          (len(jobs), output_dir))
  else:
    _say_disk_need(pending, flags, output_dir, suite.keep)
    failed = _run([(j, defined[j["path"]],
                    tasks.kind(j["task"]).score_file) for j in pending],
                  len(jobs), flags, output_dir, args, suite.keep)
    defined, states = _states(jobs, flags, output_dir)
  done = {j.path for j in suite.jobs if states[j.path][0] == "done"}
  rows = report_lib.collect(suite.jobs, output_dir, done)
  notes = ["Model: %s. Protocol: %s. %d runs." % (
      flags["init_checkpoint"], suite.protocol, len(suite.jobs))]
  notes += ["Skipped %s: %s." % s for s in suite.skipped]
  report_lib.write(rows, output_dir, "Suite report: %s" %
                   os.path.basename(args.suite), notes)
  with open(os.path.join(output_dir, "report.md"), encoding="utf-8") as f:
    print(f.read(), end="")
  print("Report: %s (report.md, .csv, .json, .png)" % output_dir)
  return 1 if failed else 0


def _states(jobs, flags, output_dir):
  """({path: definition}, {path: (status, what changed)}) of `jobs`."""
  digests = engine.Digests()
  defined, states = {}, {}
  for job in jobs:
    defined[job["path"]] = engine.definition(job, flags, digests,
                                             spec.PATH_FLAGS)
    state = engine.read_state(output_dir, job, errors.warn)
    states[job["path"]] = engine.status(state, job, defined[job["path"]])
  return defined, states


def _say_disk_need(pending, flags, output_dir, keep):
  """Prints what the pending jobs will take on disk, and what is free."""
  model, checkpoint = engine.checkpoint_bytes(flags["init_checkpoint"])
  kept = {"none": 0, "last": 1, "best": 1}[keep]
  # A run writes a new checkpoint before it deletes the one before.
  running = max(int(j["flags"].get("keep_checkpoint_max", 1)) for j in
                pending) + 1
  need = model * kept * len(pending) + checkpoint * running
  free = shutil.disk_usage(output_dir).free
  print("Disk: about %s for %d runs (%s a kept model, keep = \"%s\"; %s a "
        "checkpoint while training); %s free in %s" % (
            _size(need), len(pending), _size(model), keep, _size(checkpoint),
            _size(free), output_dir), flush=True)
  if need > free:
    errors.warn("the suite may not fit on this disk; a full disk stops it, "
                "and the same command resumes it once there is space (keep "
                "= \"none\" in the suite file keeps no checkpoint)")


def _size(n):
  for unit in ("bytes", "KB", "MB", "GB"):
    if n < 1000 or unit == "GB":
      return ("%d %s" if unit == "bytes" else "%.1f %s") % (n, unit)
    n /= 1000.0


def _run(pending, total, flags, output_dir, args, keep):
  """Runs the pending jobs ((job, definition, score file)); prints a line
  for each; the failed ones. A full disk stops them all."""
  client, local = cluster.client_for(args.scheduler_address, args.workers,
                                     needs="suite_runner.engine")
  workers = max(len(client.scheduler_info().get("workers", {})), 1)
  print("Running %d of %d jobs on %s (%d worker%s); logs in each job's %s" % (
      len(pending), total, args.scheduler_address or "a local cluster",
      workers, "" if workers == 1 else "s", engine.LOG), flush=True)
  done, failed, begin = total - len(pending), [], time.time()
  by_path = {j["path"]: spec.Job(**j) for j, _, _ in pending}

  def on_result(job, result):
    nonlocal done
    done += 1
    job = by_path[job["path"]]
    try:
      values = report_lib.read_metrics(tasks.kind(job.task),
                                  os.path.join(output_dir, job.path),
                                  job.metrics)
    except errors.UserError as e:
      values, result = None, dict(result, problem=str(e))
    if result["returncode"] != 0 or result.get("problem"):
      failed.append(job)
      problem = result.get("problem") or ""
      if "no space left on device" in problem:  # the others would fail too
        named = re.search(r"\(writing ([^)]+)\)", problem)
        raise OSError(errno.ENOSPC, "No space left on device",
                      named.group(1) if named else
                      os.path.join(output_dir, job.path))
    eta = cluster.eta(time.time() - begin, done - (total - len(pending)),
                      total - done)
    print("[%d/%d] %s%s" % (done, total, job_line(job, result, values),
                            "  ETA %s" % eta if eta else ""), flush=True)

  try:
    engine.run(pending, flags, output_dir, client, on_result, keep)
  finally:
    client.close()
    if local is not None:
      local.close()
  print("Ran %d jobs in %s%s" % (len(pending),
                                 cluster.duration(time.time() - begin),
                                 ", %d failed" % len(failed) if failed else
                                 ""))
  return failed


if __name__ == "__main__":
  sys.exit(errors.run_main(main, RESUME_HINT)(sys.argv[1:]))
