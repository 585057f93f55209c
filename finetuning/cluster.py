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

import os
import shutil
import signal
import subprocess
import sys
import warnings

SLOTS = "BIOBERT_DASK_SLOTS"  # set by client_for, read by the workers
GPUS = "BIOBERT_DASK_GPUS"
WORKER_PYTHON = "BIOBERT_WORKER_PYTHON"  # the Python worker_python runs


def add_arguments(parser):
  """--scheduler_address and --workers, for an argparse parser."""
  parser.add_argument("--scheduler_address", default=None,
                      help="a running Dask scheduler (default: a local "
                      "cluster)")
  parser.add_argument("--workers", type=int, default=None,
                      help="workers of the local cluster (default: one per "
                      "GPU, else one using every core)")


def check_arguments(args):
  """The problem with --workers, or None."""
  if args.workers is not None and args.workers < 1:
    return "--workers=%d: expected a whole number >= 1" % args.workers
  return None


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


def client_for(scheduler_address=None, workers=None):
  """(Dask client, cluster or None): the cluster at `scheduler_address`, or
  a local one of `workers` workers (default: one per GPU, else one)."""
  import logging  # pylint: disable=g-import-not-at-top
  from distributed import Client, LocalCluster  # pylint: disable=g-import-not-at-top
  if scheduler_address:
    return Client(scheduler_address), None
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
