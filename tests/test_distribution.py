"""tf.distribute strategies: one device, and two workers on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from tests.conftest import DATA, ROOT
from tests.helpers import bert_flags, run_tool
from tests.test_re import _gad_slice


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def _flags(tiny_bert_dir, data, out):
  return ["run_re.py", "--task_name=gad", "--do_train=true",
          "--data_dir=" + data, "--output_dir=" + str(out),
          "--max_seq_length=48", "--train_batch_size=8",
          "--num_train_epochs=1", "--do_lower_case=false", "--seed=3",
          "--cache_dir="] + bert_flags(tiny_bert_dir)


def test_one_device_strategy_trains(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "gad")
  _gad_slice(os.path.join(DATA, "RE", "GAD", "1"), data, n_train=32,
             n_test=8)
  out = tmp_path / "out"
  run_tool(_flags(tiny_bert_dir, data, out) +
           ["--distribution_strategy=one_device"])
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-4")
  # With two micro-batches per update: half the updates, each counted once.
  out2 = tmp_path / "out2"
  run_tool(_flags(tiny_bert_dir, data, out2) +
           ["--distribution_strategy=one_device",
            "--gradient_accumulation_steps=2"])
  assert tf.train.latest_checkpoint(str(out2)).endswith("model.ckpt-2")


def test_two_workers_train_one_model(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "gad")
  _gad_slice(os.path.join(DATA, "RE", "GAD", "1"), data, n_train=32,
             n_test=8)
  out = tmp_path / "out"
  ports = _free_ports(2)
  procs = []
  for index in range(2):
    tf_config = {"cluster": {"worker": ["127.0.0.1:%d" % p for p in ports]},
                 "task": {"type": "worker", "index": index}}
    env = dict(os.environ, TF_CONFIG=json.dumps(tf_config),
               TF_CPP_MIN_LOG_LEVEL="2")
    procs.append(subprocess.Popen(
        [sys.executable] + _flags(tiny_bert_dir, data, out) +
        ["--distribution_strategy=multi_worker_mirrored",
         "--do_predict=true", "--log_every_n_steps=1", "--verbosity=0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True))
  logs = []
  for p in procs:
    stdout, stderr = p.communicate(timeout=600)
    logs.append(stdout + stderr)
    assert p.returncode == 0, stderr[-3000:]
  # 32 examples, 8 per replica, 2 replicas: 2 steps for the epoch.
  for log in logs:
    assert "num_workers = 2" in log
    assert "Training 2 steps of batch 8" in log
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-2")
  assert not (out / "tmp_worker_1").exists()
  # Only the chief predicted.
  assert len((out / "test_results.tsv").read_text().splitlines()) == 8
  reader = tf.train.load_checkpoint(str(out))
  init = tf.train.load_checkpoint(tiny_bert_dir["ckpt"])
  assert np.abs(reader.get_tensor("bert/pooler/dense/kernel") -
                init.get_tensor("bert/pooler/dense/kernel")).max() > 0
