"""kill -9 in the middle of training, then the same command again: the same
weights and predictions as a run never killed (with the same --seed)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow.compat.v1 as tf

from tests.conftest import DATA, ROOT
from tests.helpers import bert_flags, run_tool, slice_sentences

NCBI = os.path.join(DATA, "NER", "NCBI-disease")


def _command(tiny_bert_dir, data, out, bucketed, accumulation=1):
  return ["run_ner.py", "--gradient_accumulation_steps=%d" % accumulation, "--do_train=true", "--do_predict=true",
          "--data_dir=" + str(data), "--output_dir=" + str(out),
          "--max_seq_length=32", "--train_batch_size=4",
          "--num_train_epochs=2", "--learning_rate=2e-3",
          "--save_checkpoints_steps=7", "--seed=11",
          "--bucket_by_length=%s" % bucketed] + bert_flags(tiny_bert_dir)


def _weights(out):
  reader = tf.train.load_checkpoint(str(out))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def _kill_after_checkpoint(args, out, step):
  """Starts `args`, kills it (SIGKILL) once checkpoint `step` is written."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.Popen([sys.executable] + args, cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  marker = os.path.join(str(out), "model.ckpt-%d.index" % step)
  deadline = time.time() + 300
  while not os.path.exists(marker) and proc.poll() is None:
    assert time.time() < deadline, "no checkpoint %d" % step
    time.sleep(0.01)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  return proc.returncode


def test_killed_and_rerun_equals_uninterrupted(tiny_bert_dir, tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(data / "train_dev.tsv"), 120)
  slice_sentences(os.path.join(NCBI, "test.tsv"), str(data / "test.tsv"), 30)
  for bucketed, k in (("false", 1), ("true", 1), ("false", 2)):
    whole = tmp_path / ("whole_%s_%d" % (bucketed, k))
    run_tool(_command(tiny_bert_dir, data, whole, bucketed, k))
    broken = tmp_path / ("broken_%s_%d" % (bucketed, k))
    args = _command(tiny_bert_dir, data, broken, bucketed, k)
    code = _kill_after_checkpoint(args, broken, 7 if k > 1 else 14)
    assert code == -signal.SIGKILL, "finished before it was killed"
    latest = tf.train.latest_checkpoint(str(broken))
    assert latest is not None and not latest.endswith("-%d" % 9999)
    rerun = run_tool(args)
    assert "Resuming training at step" in rerun.stderr
    a, b = _weights(whole), _weights(broken)
    assert sorted(a) == sorted(b)
    for name in a:
      np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    for name in ("label_test.txt", "NER_result_conll.txt"):
      assert (whole / name).read_bytes() == (broken / name).read_bytes()
