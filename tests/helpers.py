"""Helpers for tests that run the command-line tools."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def run_tool(args, expect_ok=True, env=None, timeout=600):
  """Runs `python <args...>` from the project root; returns the result."""
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
  result = subprocess.run([sys.executable] + list(args), cwd=ROOT,
                          capture_output=True, text=True, env=full_env,
                          timeout=timeout)
  if expect_ok and result.returncode != 0:
    raise AssertionError("%s failed (%d):\n%s\n%s" %
                         (args[0], result.returncode, result.stdout[-3000:],
                          result.stderr[-6000:]))
  return result


def write_file(path, text):
  """Writes `text` (UTF-8) to `path`; returns the path as a string."""
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def slice_sentences(src, dst, n):
  """Writes the first `n` blank-line separated sentences of `src` to `dst`."""
  with open(src, encoding="utf-8") as f:
    sentences = [s for s in f.read().split("\n\n") if s.strip()][:n]
  with open(dst, "w", encoding="utf-8") as f:
    f.write("\n\n".join(s.strip("\n") for s in sentences) + "\n")
  return sentences


def bert_flags(bert):
  """The model flags for a tiny BERT written by tests.tiny_bert."""
  return ["--vocab_file=" + bert["vocab"],
          "--bert_config_file=" + bert["config"],
          "--init_checkpoint=" + bert["ckpt"]]


def fill_disk(path, leave):
  """Writes path/filler so that about `leave` bytes stay free."""
  stat = os.statvfs(str(path))
  free = stat.f_bavail * stat.f_frsize
  with open(os.path.join(str(path), "filler"), "wb") as f:
    f.write(b"\0" * max(free - leave, 0))
