"""Test setup: project root on sys.path, TF in graph mode, shared paths."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Feature caches of test runs go to a temporary folder, never ~/.cache.
import tempfile  # noqa: E402
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="biobert-test-cache-")

import tensorflow.compat.v1 as tf  # noqa: E402

# Its deprecation notice would end up on the console of pytest-xdist's
# controller, which does not capture it.
_verbosity = tf.logging.get_verbosity()
tf.logging.set_verbosity(tf.logging.ERROR)
tf.disable_v2_behavior()
tf.logging.set_verbosity(_verbosity)

SHARED = os.environ.get("BIOBERT_SHARED_DIR",
                        os.path.join(os.path.dirname(ROOT), "shared"))
REFERENCE = os.path.join(SHARED, "reference")
DATA = os.path.join(SHARED, "data")


_PROCESS_STARTERS = {"run_tool", "subprocess", "Popen"}


def _starts_processes(func, seen):
  """Whether `func`, or a function of the tests it names, starts a process
  (names run_tool or subprocess)."""
  code = getattr(func, "__code__", None)
  if code is None or code in seen:
    return False
  seen.add(code)
  codes = [code] + [c for c in code.co_consts if hasattr(c, "co_names")]
  names = {n for c in codes for n in c.co_names}
  if names & _PROCESS_STARTERS:
    return True
  module_globals = getattr(func, "__globals__", {})
  return any(
      _starts_processes(module_globals[n], seen) for n in names
      if callable(module_globals.get(n)) and getattr(
          module_globals[n], "__module__", "").startswith("tests"))


def pytest_collection_modifyitems(items):
  """Tests that start processes (through their fixtures too) are e2e."""
  for item in items:
    info = getattr(item, "_fixtureinfo", None)
    funcs = [item.function] + [
        d.func for name, defs in (info.name2fixturedefs.items() if info
                                  else []) for d in defs
        if name != "_tiers" and d.func.__module__.startswith("tests")]
    seen = set()
    if any(_starts_processes(f, seen) for f in funcs):
      item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _tiers(request, monkeypatch):
  """The fast tier runs in-process: a test not marked e2e that starts a
  process fails, so that `-m "not e2e"` stays fast and complete."""
  if request.node.get_closest_marker("e2e"):
    return
  import subprocess
  popen = subprocess.Popen.__init__

  def refuse(self, args, *rest, **kwargs):
    program = args[0] if isinstance(args, (list, tuple)) else str(
        args).split()[0]
    # TensorFlow asks lscpu about the machine; a test runs python or bash.
    if os.path.basename(str(program)).startswith(("python", "bash", "perl")):
      raise AssertionError("%s starts a process: mark it e2e" %
                           request.node.nodeid)
    return popen(self, args, *rest, **kwargs)

  monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def pytest_runtest_setup(item):
  """bf16_kernels tests are skipped, with the reason, where TensorFlow would
  hand bfloat16 matmuls to a oneDNN capped below them (it aborts): on a
  bfloat16 CPU run with ONEDNN_MAX_CPU_ISA=AVX2, the CI's float32 guard.
  A CPU without bfloat16 runs them (TensorFlow's own kernels)."""
  from finetuning import devices
  if item.get_closest_marker("bf16_kernels") and (
      devices.cpu_has_bf16_instructions() and
      devices.onednn_isa_capped_below_bf16()):
    pytest.skip("ONEDNN_MAX_CPU_ISA=%s is below this CPU's bfloat16 "
                "instructions: oneDNN would abort on bfloat16 matmuls" %
                os.environ.get("ONEDNN_MAX_CPU_ISA",
                               os.environ.get("DNNL_MAX_CPU_ISA")))


def pytest_sessionfinish(session):
  """The feature caches of the run go with it."""
  del session
  import shutil
  shutil.rmtree(os.environ["XDG_CACHE_HOME"], ignore_errors=True)


def pytest_sessionstart(session):
  """../shared (reference outputs, benchmark data) is required: fail early."""
  del session
  if not os.path.isdir(os.path.join(SHARED, "reference")):
    raise pytest.UsageError(
        "%s is missing: the tests need the shared/ folder (reference outputs "
        "and benchmark data) beside the project, or BIOBERT_SHARED_DIR set "
        "to it" % SHARED)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
  """A tiny random BERT (config, vocab, checkpoint) shared by many tests."""
  from tests import tiny_bert
  out = tmp_path_factory.mktemp("tiny_bert")
  return tiny_bert.write_tiny_bert(str(out), words=tiny_bert.NCBI_WORDS)


@pytest.fixture
def small_disk(tmp_path):
  """make(name, kilobytes): a folder on a tmpfs of that size. Mounting one
  needs root, as CI and the sessions here are; elsewhere the tests say
  why they cannot run."""
  import subprocess
  mounted = []

  def make(name, kilobytes):
    path = tmp_path / name
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o",
                             "size=%dk" % kilobytes, "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
      pytest.skip("a full disk is a small tmpfs, which only root can mount: "
                  + result.stderr.strip())
    mounted.append(path)
    return path

  yield make
  for path in mounted:
    subprocess.run(["umount", "-l", str(path)], check=False)
