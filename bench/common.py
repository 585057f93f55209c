"""What the benchmark scripts share: data slices and measured child runs."""

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def slice_sentences(src, dst, n):
  """The first `n` blank-line separated sentences of `src`, written to `dst`.

  Returns:
    How many sentences were written.
  """
  with open(src, encoding="utf-8") as f:
    sentences = [s for s in f.read().split("\n\n") if s.strip()][:n]
  with open(dst, "w", encoding="utf-8") as f:
    f.write("\n\n".join(s.strip("\n") for s in sentences) + "\n")
  return len(sentences)


def run_measured(cmd, env=None, cwd=ROOT):
  """(output, seconds, peak RSS MB) of a command run as a child process.

  Exits with the command's output if it fails.
  """
  t0 = time.time()
  log = tempfile.TemporaryFile()
  pid = os.fork()
  if pid == 0:
    os.chdir(cwd)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "2"}, **(env or {}))
    os.execv(cmd[0], cmd)
  _, status, usage = os.wait4(pid, 0)
  seconds = time.time() - t0
  log.seek(0)
  text = log.read().decode("utf-8", "replace")
  if status != 0:
    sys.exit("failed: %s\n%s" % (" ".join(cmd), text[-3000:]))
  return text, seconds, usage.ru_maxrss / 1024.0
