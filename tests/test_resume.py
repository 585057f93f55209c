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


def _command(tiny_bert_dir, data, out, batching, accumulation=1):
  return ["run_ner.py", "--gradient_accumulation_steps=%d" % accumulation, "--do_train=true", "--do_predict=true",
          "--data_dir=" + str(data), "--output_dir=" + str(out),
          "--max_seq_length=32", "--train_batch_size=4",
          "--num_train_epochs=2", "--learning_rate=2e-3",
          "--save_checkpoints_steps=7", "--seed=11",
          batching] + bert_flags(tiny_bert_dir)


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
  padded, bucketed = "--bucket_by_length=false", "--bucket_by_length=true"
  packed = "--pack_sequences=true"
  for n, (batching, k) in enumerate(((padded, 1), (bucketed, 1),
                                     (packed, 1), (padded, 2))):
    whole = tmp_path / ("whole_%d" % n)
    run_tool(_command(tiny_bert_dir, data, whole, batching, k))
    broken = tmp_path / ("broken_%d" % n)
    args = _command(tiny_bert_dir, data, broken, batching, k)
    # Killed once checkpoint 14 exists: checkpoint 7 is then complete
    # (14's index may be on disk before the checkpoint list names it).
    code = _kill_after_checkpoint(args, broken, 14)
    assert code == -signal.SIGKILL, "finished before it was killed"
    # It was stopped part way: its last checkpoint is short of the end.
    latest = tf.train.latest_checkpoint(str(broken))
    final = tf.train.latest_checkpoint(str(whole))
    assert latest is not None and (int(latest.rsplit("-", 1)[1]) <
                                   int(final.rsplit("-", 1)[1]))
    rerun = run_tool(args)
    assert "Resuming training at step" in rerun.stdout
    a, b = _weights(whole), _weights(broken)
    assert sorted(a) == sorted(b)
    for name in a:
      np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    for name in ("label_test.txt", "NER_result_conll.txt"):
      assert (whole / name).read_bytes() == (broken / name).read_bytes()
