"""Running a suite's jobs through Dask distributed, on one machine or many.

Each job is one ordinary run of a runner in its own process, started by a
Dask worker (`execute`). The process dies with its worker (Linux's
PR_SET_PDEATHSIG), so a worker that is killed takes its job's run with
it; Dask then gives the job to another worker, and the run resumes from
its last checkpoint (exactly, with its seed). A finished job leaves
`suite_job.json` in its folder and is not run again.

By default a local cluster: one worker per GPU, or on a CPU one worker
with every core (`bench/README.md` has the measurement behind this
choice); `scheduler_address` uses a running cluster instead, whose
workers share the code, the environment and the output dir.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

from finetuning import cluster
from finetuning import files

DONE = "suite_job.json"
LOG = "suite_job.log"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(job, model_flags, output_dir):
  """The runner's command line of `job` (a dict of spec.Job's fields)."""
  from suite_runner import tasks  # pylint: disable=g-import-not-at-top
  runner = tasks.TASKS[job["task"]].runner
  args = [sys.executable, os.path.join(ROOT, runner),
          "--do_train=true", "--do_predict=true"]
  flags = dict(model_flags)
  flags.update(job["flags"])
  for key in sorted(flags):
    value = flags[key]
    if isinstance(value, bool):
      value = "true" if value else "false"
    args.append("--%s=%s" % (key, value))
  args += ["--seed=%d" % job["seed"],
           "--output_dir=%s" % os.path.join(output_dir, job["path"])]
  return args


def is_done(output_dir, job):
  return os.path.exists(os.path.join(output_dir, job["path"], DONE))


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


def execute(job, model_flags, output_dir):
  """Runs `job` to its end (resuming it when its folder holds a part);
  returns {"path", "returncode", "seconds"}. Runs on a Dask worker."""
  run_dir = os.path.join(output_dir, job["path"])
  os.makedirs(run_dir, exist_ok=True)
  env = dict(os.environ)
  share = cluster.worker_share()
  affinity = share.get("cores")
  if "gpu" in share:
    env["CUDA_VISIBLE_DEVICES"] = str(share["gpu"])

  def start():
    _die_with_parent()
    if affinity:
      os.sched_setaffinity(0, affinity)

  begin = time.time()
  with open(os.path.join(run_dir, LOG), "ab") as log:
    code = subprocess.call(command(job, model_flags, output_dir), stdout=log,
                           stderr=subprocess.STDOUT, env=env,
                           preexec_fn=start, cwd=ROOT)
  seconds = time.time() - begin
  if code == 0:
    files.atomic_write(os.path.join(run_dir, DONE), json.dumps(
        {"job": job, "seconds": round(seconds, 1)}, indent=2,
        sort_keys=True) + "\n")
  return {"path": job["path"], "returncode": code, "seconds": seconds,
          "worker": _worker_name(), "started": begin}


def run(jobs, model_flags, output_dir, client, on_result):
  """Submits `jobs` (dicts) to `client`; calls `on_result(job, result)` as
  each finishes (in the order they finish)."""
  from distributed import as_completed  # pylint: disable=g-import-not-at-top
  futures = {}
  for job in jobs:
    future = client.submit(execute, job, model_flags, output_dir,
                           key="suite-" + job["path"].replace(os.sep, "-"),
                           pure=False, retries=0)
    futures[future] = job
  for future in as_completed(futures):
    on_result(futures[future], future.result())
