"""What the benchmark scripts share: data slices and measured child runs."""

import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("BIOBERT_SHARED_DIR",
                        os.path.join(os.path.dirname(ROOT), "shared"))
NCBI = os.path.join(SHARED, "data", "NER", "NCBI-disease")


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


def run_measured(cmd, env=None, cwd=ROOT, log_path=None):
  """(output, seconds, peak RSS MB) of a command run as a child process.

  `log_path`: also writes the output there, each line prefixed with the
  seconds since the start at which it arrived (to see where a slow run lost
  its time). Exits with the command's output if it fails.
  """
  t0 = time.time()
  read_end, write_end = os.pipe()
  pid = os.fork()
  if pid == 0:
    os.close(read_end)
    os.chdir(cwd)
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    try:
      os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "2"}, **(env or {}))
      os.execv(cmd[0], cmd)
    finally:  # only if the command could not be started
      os._exit(127)
  os.close(write_end)
  chunks, lines, pending = [], [], b""
  while True:
    chunk = os.read(read_end, 65536)
    if not chunk:
      break
    chunks.append(chunk)
    arrived = time.time() - t0
    *complete, pending = (pending + chunk).split(b"\n")
    lines.extend("%8.2f %s" % (arrived, l.decode("utf-8", "replace"))
                 for l in complete)
  os.close(read_end)
  _, status, usage = os.wait4(pid, 0)
  seconds = time.time() - t0
  text = b"".join(chunks).decode("utf-8", "replace")
  if log_path:
    if pending:
      lines.append("%8.2f %s" % (seconds, pending.decode("utf-8", "replace")))
    with open(log_path, "w", encoding="utf-8") as f:
      f.write("\n".join(lines) + "\n")
  if status != 0:
    sys.exit("failed: %s\n%s" % (" ".join(cmd), text[-3000:]))
  return text, seconds, usage.ru_maxrss / 1024.0


# The runner's console lines the benchmarks read (finetuning/progress.py
# writes them), parsed in this one place; tests/test_bench.py runs every
# benchmark at a tiny size, so that a change of wording fails there.
_STEP = re.compile(r"step \d+/\d+ \([\d.]+%\), ([\d.]+) examples/s")
_TRAINED = re.compile(r"Trained (\d+) steps \((\d+) examples\) in ([\d.]+) "
                      r"s: ([\d.]+) examples/s")
_PREDICTED = re.compile(r"Predicted (\d+) examples in ([\d.]+) s "
                        r"\(([\d.]+) examples/s\)")


def _last(pattern, text, what):
  found = pattern.findall(text)
  if not found:
    sys.exit("no %s line in the runner's output:\n%s" % (what, text[-3000:]))
  return found[-1]


def step_rates(text):
  """The examples/s of each progress line of a training run."""
  return [float(r) for r in _STEP.findall(text)]


def trained(text):
  """(steps, examples, seconds) of a run's "Trained ..." line."""
  steps, examples, seconds, _ = _last(_TRAINED, text, "'Trained ...'")
  return int(steps), int(examples), float(seconds)


def predicted(text):
  """(examples, examples/s) of a run's last "Predicted ..." line."""
  n, _, rate = _last(_PREDICTED, text, "'Predicted ...'")
  return int(n), float(rate)
