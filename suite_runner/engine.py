"""Running a suite's jobs through Dask distributed, on one machine or many.

Each job is one ordinary run of a runner in its own process, started by a
Dask worker (`execute`). The process dies with its worker (Linux's
PR_SET_PDEATHSIG), so a worker that is killed takes its job's run with
it; Dask then gives the job to another worker, and the run resumes from
its last checkpoint (exactly, with its seed).

What a job's result is made from, its `definition` (flags, seed, and the
SHA-256 of its data files and of the model), is recorded in its folder's
`suite_job.json` when it starts, and marked done when it ends with its
score file. A finished job whose definition is still the same is not run
again; one whose definition changed (another suite file, data set or
model) is reported, never mixed with the new settings.

By default a local cluster: one worker per GPU, or on a CPU one worker
with every core (`bench/README.md` has the measurement behind this
choice); `scheduler_address` uses a running cluster instead, whose
workers share the code, the environment and the output dir.
"""

import ctypes
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from finetuning import cluster
from finetuning import errors
from finetuning import files

DONE = "suite_job.json"
LOG = "suite_job.log"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(job, model_flags, output_dir):
  """The runner's command line of `job` (a dict of spec.Job's fields)."""
  import tasks  # pylint: disable=g-import-not-at-top
  runner = tasks.kind(job["task"]).runner
  args = [sys.executable, os.path.join(ROOT, runner),
          "--do_train=true", "--do_predict=true"]
  # One checkpoint at a time while it trains (the suite's disk), unless the
  # suite file says otherwise.
  flags = dict(model_flags, keep_checkpoint_max=1)
  flags.update(job["flags"])
  for key in sorted(flags):
    value = flags[key]
    if isinstance(value, bool):
      value = "true" if value else "false"
    args.append("--%s=%s" % (key, value))
  args += ["--seed=%d" % job["seed"],
           "--output_dir=%s" % os.path.join(output_dir, job["path"])]
  return args


KEEP = ("best", "last", "none")
# Checkpoint files of a run dir (model.ckpt-N.index, .data-*, .meta).
_CHECKPOINT = re.compile(r"^model\.ckpt-(\d+)\.")


class Digests(object):
  """SHA-256 of files and folders, each read once per invocation."""

  def __init__(self):
    self.known = {}

  def of(self, path):
    """A file's digest, or {name: digest} of the files of a folder."""
    if path not in self.known:
      if os.path.isdir(path):
        self.known[path] = {
            name: self.of(os.path.join(path, name))
            for name in sorted(os.listdir(path))
            if os.path.isfile(os.path.join(path, name))}
      elif os.path.isfile(path):
        self.known[path] = files.file_digest(path)
      else:
        self.known[path] = None
    return self.known[path]


def definition(job, model_flags, digests, path_flags):
  """What the result of `job` (a dict of spec.Job's fields) is made from.

  Args:
    model_flags: --vocab_file, --bert_config_file, --init_checkpoint.
    digests: a `Digests`.
    path_flags: the job flags that name data files or folders.
  """
  model = {}
  for key, path in sorted(model_flags.items()):
    model[key] = digests.of(path + ".index" if key == "init_checkpoint"
                            else path)
  return {"task": job["task"], "seed": job["seed"],
          "flags": dict(job["flags"]),
          "data_sha256": {k: digests.of(job["flags"][k])
                          for k in path_flags if job["flags"].get(k)},
          "model_sha256": model}


def read_state(output_dir, job, warn):
  """The recorded `suite_job.json` of `job`, or None (none, or damaged:
  `warn` is told, and the job runs again from its checkpoint)."""
  path = os.path.join(output_dir, job["path"], DONE)
  if not os.path.exists(path):
    return None
  try:
    state = files.read_json(path, "the job record run_suite.py writes")
  except errors.UserError as e:
    warn("%s; the job runs again (from its last checkpoint)" % e)
    return None
  return state if isinstance(state, dict) else None


def differences(before, now, prefix=""):
  """`key: before -> now` lines between two definitions."""
  lines = []
  for key in sorted(set(before) | set(now)):
    a, b = before.get(key), now.get(key)
    if a == b:
      continue
    if isinstance(a, dict) and isinstance(b, dict):
      lines += differences(a, b, prefix + key + ".")
    else:
      def shown(v):
        return ("%s..." % v[:12] if isinstance(v, str) and len(v) == 64
                else json.dumps(v))
      lines.append("%s%s: %s -> %s" % (prefix, key, shown(a), shown(b)))
  return lines


def status(state, job, defined):
  """("done" | "changed" | "pending", what changed) of a job whose folder
  records `state` (read_state) and whose definition is now `defined`."""
  if state is None:
    return "pending", []
  recorded = state.get("definition")
  if recorded is None:  # written before definitions were recorded
    old = {k: v for k, v in state.get("job", {}).items() if k != "metrics"}
    new = {k: v for k, v in job.items() if k != "metrics"}
    return ("done" if old == new else "changed"), differences(old, new)
  if recorded != defined:
    return "changed", differences(recorded, defined)
  return ("done" if state.get("status", "done") == "done" else "pending"), []


def keep_checkpoints(run_dir, keep):
  """Deletes the checkpoints of a finished run that `keep` does not name:
  "best" (best/ when the run kept one, else the last), "last" or "none".
  The paper's protocol's select/ and final/ folders are treated alike.

  Returns:
    The prefixes of the checkpoints kept.
  """
  kept_prefixes = []
  for folder in (run_dir, os.path.join(run_dir, "select"),
                 os.path.join(run_dir, "final")):
    if not os.path.isdir(folder):
      continue
    has_best = os.path.isdir(os.path.join(folder, "best"))
    steps = sorted({int(m.group(1)) for m in map(_CHECKPOINT.match,
                                                   os.listdir(folder)) if m})
    kept = set()
    if keep == "last" or (keep == "best" and not has_best):
      kept = set(steps[-1:])
    for name in os.listdir(folder):
      m = _CHECKPOINT.match(name)
      if m and int(m.group(1)) not in kept:
        os.remove(os.path.join(folder, name))
    if keep in ("last", "none") and has_best:
      shutil.rmtree(os.path.join(folder, "best"))
    elif has_best:
      best = [n[:-len(".index")] for n in os.listdir(
          os.path.join(folder, "best")) if n.endswith(".index")]
      kept_prefixes += [os.path.join(folder, "best", n) for n in best]
    kept_prefixes += [os.path.join(folder, "model.ckpt-%d" % k)
                      for k in sorted(kept)]
    if not kept and os.path.exists(os.path.join(folder, "checkpoint")):
      os.remove(os.path.join(folder, "checkpoint"))
    elif kept:
      files.atomic_write(os.path.join(folder, "checkpoint"), (
          'model_checkpoint_path: "model.ckpt-%d"\n'
          'all_model_checkpoint_paths: "model.ckpt-%d"\n') % (max(kept),
                                                              max(kept)))
  return kept_prefixes


def checkpoint_bytes(init_checkpoint):
  """(a kept model, a checkpoint while training) in bytes: the model's
  variables (about the pre-trained weights' data), and those with Adam's
  two moments (three times that)."""
  data = sum(os.path.getsize(p) for p in glob.glob(init_checkpoint +
                                                   ".data-*"))
  return data, 3 * data


def _die_with_parent():
  """In the child: get SIGKILL when the worker that started it dies."""
  libc = ctypes.CDLL("libc.so.6", use_errno=True)
  libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _worker_name():
  try:
    from distributed import get_worker  # pylint: disable=g-import-not-at-top
    return get_worker().name
  except (ImportError, ValueError):
    return None


def _write_state(run_dir, job, defined, **more):
  files.atomic_write(os.path.join(run_dir, DONE), json.dumps(
      dict(job=job, definition=defined, **more), indent=2, sort_keys=True) +
                     "\n")


def execute(job, model_flags, output_dir, defined, score_file, keep):
  """Runs `job` to its end (resuming it when its folder holds a part);
  returns {"path", "returncode", "seconds", "problem"}. Runs on a Dask
  worker.

  Args:
    defined: its `definition`, recorded before it starts.
    score_file: what the finished run must have written (else it failed).
    keep: which checkpoints stay once it is done (`keep_checkpoints`).
  """
  run_dir = os.path.join(output_dir, job["path"])
  os.makedirs(run_dir, exist_ok=True)
  _write_state(run_dir, job, defined, status="running")
  cluster.pin_worker()  # the job inherits the worker's GPU or cores
  env = dict(os.environ)
  begin = time.time()
  with open(os.path.join(run_dir, LOG), "ab") as log:
    code = subprocess.call(command(job, model_flags, output_dir), stdout=log,
                           stderr=subprocess.STDOUT, env=env,
                           preexec_fn=_die_with_parent, cwd=ROOT)
  seconds = time.time() - begin
  problem = None
  if code == 0 and not (
      os.path.exists(os.path.join(run_dir, score_file)) or
      os.path.exists(os.path.join(run_dir, "final", score_file))):
    problem = "finished without writing %s" % score_file
  elif code != 0:
    problem = _last_error(os.path.join(run_dir, LOG))
  if code == 0 and problem is None:
    kept = keep_checkpoints(run_dir, keep)
    if kept:  # the model without the optimizer's slots (slim_checkpoint)
      with open(os.path.join(run_dir, LOG), "ab") as log:
        code = subprocess.call(
            [sys.executable, "-m", "suite_runner.slim_checkpoint"] + kept,
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            preexec_fn=_die_with_parent)
      if code != 0:
        problem = _last_error(os.path.join(run_dir, LOG)) or (
            "its checkpoint could not be slimmed (see %s)" % LOG)
  if code == 0 and problem is None:
    _write_state(run_dir, job, defined, status="done",
                 seconds=round(seconds, 1))
  return {"path": job["path"], "returncode": code, "seconds": seconds,
          "worker": _worker_name(), "started": begin, "problem": problem}


def _last_error(log_path):
  """The runner's last `error:` line in its log, or None."""
  try:
    with open(log_path, "rb") as f:
      f.seek(max(0, os.path.getsize(log_path) - 8192))
      tail = f.read().decode("utf-8", "replace").splitlines()
  except OSError:
    return None
  found = [l for l in tail if l.startswith("error: ")]
  return found[-1][len("error: "):] if found else None


def run(jobs, model_flags, output_dir, client, on_result, keep="best"):
  """Submits `jobs` ((job dict, definition, score file)) to `client`;
  calls `on_result(job, result)` as each finishes (in the order they
  finish). `on_result` may raise to stop the others."""
  from distributed import as_completed  # pylint: disable=g-import-not-at-top
  futures = {}
  for job, defined, score_file in jobs:
    future = client.submit(execute, job, model_flags, output_dir, defined,
                           score_file, keep,
                           key="suite-" + job["path"].replace(os.sep, "-"),
                           pure=False, retries=0)
    futures[future] = job
  try:
    for future in as_completed(futures):
      on_result(futures[future], future.result())
  except BaseException:
    client.cancel(list(futures))
    raise
