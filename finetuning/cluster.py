"""Dask clusters for the suite runner and the corpus tagger.

By default a local cluster sized to the machine: one worker per GPU, or on
a CPU one worker (a job uses every core; bench/README.md has the
measurement behind this choice). `scheduler_address` uses a running
cluster instead (e.g. dask-jobqueue's SLURMCluster), whose workers share
the code, the environment and the output dir.

A worker of a local cluster learns its share of the machine from
`worker_share`: its GPU, or its slice of the cores when there are several
workers on a CPU.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import warnings

SLOTS = "BIOBERT_DASK_SLOTS"  # set by client_for, read by the workers
GPUS = "BIOBERT_DASK_GPUS"
WORKER_PYTHON = "BIOBERT_WORKER_PYTHON"  # the Python worker_python runs


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
  """--help of the Dask commands: their docstring as written, and each
  option's default where it has one."""

  def _get_help_string(self, action):
    text = action.help or ""
    if action.default not in (None, False, argparse.SUPPRESS) and (
        "%(default)" not in text):
      text += " (default: %(default)s)"
    return text


def add_arguments(parser):
  """--scheduler_address and --workers, for an argparse parser."""
  parser.add_argument("--scheduler_address", default=None,
                      help="a running Dask scheduler (default: a local "
                      "cluster)")
  parser.add_argument("--workers", type=int, default=None,
                      help="workers of the local cluster (default: one per "
                      "GPU, else one using every core)")


def check_arguments(args):
  """The problem with --workers or --scheduler_address, or None."""
  if args.workers is not None and args.workers < 1:
    return "--workers=%d: expected a whole number >= 1" % args.workers
  return check_address(args.scheduler_address)


def gpu_count():
  """How many NVIDIA GPUs this machine shows (0 without nvidia-smi)."""
  if not shutil.which("nvidia-smi"):
    return 0
  try:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                         timeout=30).stdout
  except (OSError, subprocess.SubprocessError):
    return 0
  return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def client_for(scheduler_address=None, workers=None, needs=None):
  """(Dask client, cluster or None): the cluster at `scheduler_address`, or
  a local one of `workers` workers (default: one per GPU, else one).

  Args:
    needs: the module the jobs run (e.g. "suite_runner.engine"), which a
      running cluster's scheduler and workers must be able to import.

  Raises:
    UserError: a running cluster that does not answer within
      CONNECT_SECONDS, or cannot import `needs`.
  """
  import logging  # pylint: disable=g-import-not-at-top
  from distributed import Client, LocalCluster  # pylint: disable=g-import-not-at-top
  if scheduler_address:
    return _running(scheduler_address, needs), None
  gpus = gpu_count()
  n = workers or max(gpus, 1)
  os.environ[SLOTS] = str(n)  # inherited by the local workers
  if gpus:
    os.environ[GPUS] = "1"
  # The workers (and the jobs they start) are born ignoring SIGINT
  # (worker_python): Ctrl-C reaches the command alone, which closes the
  # cluster (its workers and their jobs go with it) and prints one line,
  # not a traceback per worker, also while the cluster starts.
  import multiprocessing  # pylint: disable=g-import-not-at-top
  os.environ[WORKER_PYTHON] = sys.executable
  multiprocessing.set_executable(os.path.join(
      os.path.dirname(os.path.abspath(__file__)), "worker_python"))
  # A Ctrl-C while it starts is kept for when it is up, then stops it
  # cleanly (Dask's start-up cannot be interrupted half-way).
  interrupted = []
  previous = signal.signal(signal.SIGINT,
                           lambda *_: interrupted.append(True))
  try:
    with warnings.catch_warnings():
      # Another local cluster has port 8787: this one takes any free port.
      warnings.filterwarnings("ignore", message="Port .* is already in use")
      cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                             processes=True, dashboard_address=None,
                             silence_logs=logging.ERROR,
                             worker_class="distributed.Nanny")
    client = Client(cluster)
  finally:
    signal.signal(signal.SIGINT, previous)
  if interrupted:
    client.close()
    cluster.close()
    raise KeyboardInterrupt
  return client, cluster


CONNECT_SECONDS = 20
_SCHEMES = ("tcp://", "tls://", "ucx://", "inproc://")


def check_address(address):
  """The problem with --scheduler_address, or None."""
  if address is None:
    return None
  if "://" in address and not address.startswith(_SCHEMES):
    return ("--scheduler_address=%s: expected the scheduler's address, "
            "tcp://host:8786 (%s is not a Dask scheduler's protocol; the "
            "dashboard's http:// address is not it)" % (
                address, address.split("://", 1)[0]))
  return None


def _running(address, needs):
  """A client of the running cluster at `address`, checked."""
  import logging  # pylint: disable=g-import-not-at-top
  from distributed import Client  # pylint: disable=g-import-not-at-top
  from finetuning import errors  # pylint: disable=g-import-not-at-top
  where = "--scheduler_address=%s" % address
  # Dask logs each failed try at length; one line is said below instead.
  for name in ("distributed.comm", "distributed.client", "distributed.core"):
    logging.getLogger(name).setLevel(logging.CRITICAL)
  # Dask's own timeout does not cover a handshake that is never answered
  # (a port of another server): the client is made in a thread, waited for
  # CONNECT_SECONDS, and given up on after that.
  made = {}

  def connect():
    try:
      made["client"] = Client(address, timeout="%ds" % CONNECT_SECONDS)
    except Exception as e:  # pylint: disable=broad-except
      made["error"] = e

  thread = threading.Thread(target=connect, daemon=True)
  thread.start()
  thread.join(CONNECT_SECONDS + 5)
  if "client" not in made:
    why = made.get("error")
    raise errors.UserError(
        "%s: no Dask scheduler answered within %d s (%s): is it running, "
        "and is this its address (tcp://host:8786, not the dashboard's "
        "port)?" % (where, CONNECT_SECONDS, str(why).split("\n")[0][:200]
                    if why else "no answer"))
  client = made["client"]
  if needs:
    statement = "import %s" % needs
    try:
      client.run_on_scheduler(exec, statement)
      client.run(exec, statement)
    except Exception as e:  # pylint: disable=broad-except
      client.close()
      raise errors.UserError(
          "%s: the cluster cannot import this project's code (%s: %s). "
          "Start its scheduler and workers from the project's folder, or "
          "with PYTHONPATH=%s, in this project's environment." % (
              where, type(e).__name__, e, os.path.dirname(
                  os.path.dirname(os.path.abspath(__file__)))))
  return client


def release_interrupts():
  """Lets Ctrl-C through again: one held since the command's first line
  (run_suite.py, tag_corpus.py) is raised here as KeyboardInterrupt."""
  signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def worker_share():
  """What this local-cluster worker may use: {"gpu": index} on a GPU
  machine, {"cores": set} when several workers share a CPU, else {}."""
  try:
    from distributed import get_worker  # pylint: disable=g-import-not-at-top
    worker = get_worker()
  except (ImportError, ValueError):
    return {}
  slots = os.environ.get(SLOTS)
  if slots is None or not isinstance(worker.name, int):
    return {}
  index, count = worker.name, int(slots)
  if os.environ.get(GPUS):
    return {"gpu": index}
  if count > 1:
    cores = sorted(os.sched_getaffinity(0))
    share = max(len(cores) // count, 1)
    return {"cores": set(cores[index * share:(index + 1) * share]) or
                     set(cores)}
  return {}


def pin_worker():
  """Keeps this worker process (and what it starts) to its share of the
  machine (`worker_share`): its GPU, or its cores. Both Dask tools call it
  first in every job."""
  share = worker_share()
  if "gpu" in share:
    os.environ["CUDA_VISIBLE_DEVICES"] = str(share["gpu"])
  if share.get("cores"):
    os.sched_setaffinity(0, share["cores"])


def duration(seconds):
  """A duration for people: "45 s", "3 min 05 s", "1 h 02 min"."""
  seconds = int(round(max(seconds, 0)))
  if seconds < 60:
    return "%d s" % seconds
  if seconds < 3600:
    return "%d min %02d s" % divmod(seconds, 60)
  return "%d h %02d min" % (seconds // 3600, seconds % 3600 // 60)


def eta(seconds, finished, left):
  """The time `left` more jobs take at the pace of the `finished` ones
  (which took `seconds`), for people; None before the first."""
  if not finished or not left:
    return None
  return duration(seconds / finished * left)


def check_own_output_dir(output_dir, record, tool, what):
  """Refuses an `output_dir` that holds files but not `record` (the file
  the tool writes first): it is not the tool's output, and its files would
  be mixed with `what` (UserError, before anything is written)."""
  from finetuning import errors  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(output_dir) or os.path.exists(
      os.path.join(output_dir, record)):
    return
  others = sorted(set(os.listdir(output_dir)) - {record})
  if others:
    raise errors.UserError(
        "--output_dir=%s is not empty (%s%s) and holds no %s: it is not the "
        "output of %s, and %s would be mixed with what is there. Use a new or "
        "empty --output_dir." % (output_dir, ", ".join(others[:3]),
                                 ", ..." if len(others) > 3 else "", record,
                                 tool, what))
