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

tf.disable_v2_behavior()

SHARED = os.environ.get("BIOBERT_SHARED_DIR",
                        os.path.join(os.path.dirname(ROOT), "shared"))
REFERENCE = os.path.join(SHARED, "reference")
DATA = os.path.join(SHARED, "data")


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
