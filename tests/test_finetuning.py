"""The shared plumbing: output-dir guard, restore, resume, seed, progress."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import modeling
from finetuning import errors
from finetuning import estimator as est
from finetuning import records
from finetuning import run_dir

SEQ = 16


def _toy_head(model, features, is_training):
  """A two-class head on the pooled output (what run_re uses)."""
  hidden = model.get_pooled_output()
  w = tf.get_variable("output_weights", [2, hidden.shape[-1]],
                      initializer=tf.truncated_normal_initializer(stddev=0.02))
  b = tf.get_variable("output_bias", [2], initializer=tf.zeros_initializer())
  if is_training:
    hidden = tf.nn.dropout(hidden, rate=0.1)
  logits = tf.nn.bias_add(tf.matmul(hidden, w, transpose_b=True), b)
  labels = features["label_ids"]
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits))
  return est.HeadOutput(loss, {"probabilities": tf.nn.softmax(logits)}, None)


def _toy_records(path, n=24, seed=0):
  rng = np.random.RandomState(seed)
  feats = []
  for i in range(n):
    length = rng.randint(4, SEQ)
    ids = [2] + list(rng.randint(5, 90, size=length - 2)) + [3]
    pad = SEQ - length
    feats.append({"input_ids": ids + [0] * pad,
                  "input_mask": [1] * length + [0] * pad,
                  "segment_ids": [0] * SEQ, "label_ids": [i % 2]})
  assert records.write_features(feats, path) == n
  return {"input_ids": SEQ, "input_mask": SEQ, "segment_ids": SEQ,
          "label_ids": None}


def _estimator(tiny_bert_dir, out, num_steps, seed=1, save_steps=3):
  config = modeling.BertConfig.from_json_file(tiny_bert_dir["config"])
  model_fn = est.model_fn_builder(config, _toy_head, tiny_bert_dir["ckpt"],
                                  1e-3, num_steps, 1)
  return est.build_estimator(model_fn, out, save_steps, seed=seed)


def _train(tiny_bert_dir, out, num_steps=8, seed=1, hooks=(), data_seed=1):
  lengths = _toy_records(os.path.join(out, "train.tf_record"))
  input_fn = records.input_fn_builder(os.path.join(out, "train.tf_record"),
                                      lengths, True, True, 4, seed=data_seed)
  e = _estimator(tiny_bert_dir, out, num_steps, seed=seed)
  return est.train(e, input_fn, num_steps, 4, 24, log_every_n_steps=2,
                   hooks=hooks)


class _Crash(tf.train.SessionRunHook):
  """Raises after `at` steps of this session, like a killed job."""

  def __init__(self, at):
    self.at = at
    self.n = 0

  def after_run(self, run_context, run_values):
    self.n += 1
    if self.n == self.at:
      raise RuntimeError("simulated crash")


def test_resume_after_interruption_ends_at_same_step(tiny_bert_dir, tmp_path):
  out = str(tmp_path)
  with pytest.raises(RuntimeError, match="simulated crash"):
    _train(tiny_bert_dir, out, hooks=[_Crash(5)])
  # The crash came after step 5; the last checkpoint is step 3.
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-3")
  progress = _train(tiny_bert_dir, out)
  assert progress.start_step == 3
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-8")
  assert "step 8/8 (100.0%)" in progress.last_message
  # Running the same command again after the end trains no further.
  progress = _train(tiny_bert_dir, out)
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-8")


def _final_weights(out):
  reader = tf.train.load_checkpoint(out)
  return reader.get_tensor("output_weights"), reader.get_tensor(
      "bert/pooler/dense/kernel")


def test_seed_makes_runs_reproducible(tiny_bert_dir, tmp_path):
  runs = {}
  for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
    out = str(tmp_path / name)
    os.makedirs(out)
    _train(tiny_bert_dir, out, num_steps=4, seed=seed, data_seed=seed)
    runs[name] = _final_weights(out)
  for x, y in zip(runs["a"], runs["b"]):
    np.testing.assert_array_equal(x, y)
  assert np.abs(runs["a"][0] - runs["c"][0]).max() > 0


def test_every_bert_variable_restored_and_logged(tiny_bert_dir):
  config = modeling.BertConfig.from_json_file(tiny_bert_dir["config"])
  logged = []
  old_info = tf.logging.info
  tf.logging.info = lambda msg, *args: logged.append(msg % args)
  try:
    with tf.Graph().as_default():
      model = modeling.BertModel(config, False, tf.zeros([1, 4], tf.int32))
      _toy_head(model, {"label_ids": tf.zeros([1], tf.int32)}, False)
      restored = est.restore_from_checkpoint(tiny_bert_dir["ckpt"])
      bert_vars = [v for v in tf.trainable_variables()
                   if v.name.startswith("bert/")]
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run({v.name[:-2]: v for v in bert_vars})
  finally:
    tf.logging.info = old_info
  assert restored == sorted(values)
  assert len(restored) == 5 + 2 * 16 + 2  # embeddings, 2 layers, pooler
  reader = tf.train.load_checkpoint(tiny_bert_dir["ckpt"])
  for name, value in values.items():
    np.testing.assert_array_equal(value, reader.get_tensor(name), name)
  init_lines = [l for l in logged if "*INIT_FROM_CKPT*" in l]
  assert len(init_lines) == len(restored)
  assert any(l.startswith("Restored 39 of 41 trainable variables")
             for l in logged)
  assert not any("output_weights" in l and "INIT" in l for l in logged)


def _run(task="ner", labels=("B", "I", "O"), seq=128):
  config = modeling.BertConfig(vocab_size=10, hidden_size=8)
  return run_dir.describe_run(task, labels, config, seq, False)


def test_output_dir_guard_records_and_accepts_same_run(tmp_path):
  out = str(tmp_path / "out")
  assert run_dir.prepare_output_dir(out, _run(), training=True) is None
  with open(os.path.join(out, "run_manifest.json")) as f:
    recorded = json.load(f)
  assert recorded["task"] == "ner" and recorded["labels"] == ["B", "I", "O"]
  assert recorded["max_seq_length"] == 128
  assert recorded["bert_config"]["hidden_size"] == 8
  # Same run again (e.g. after a crash): accepted.
  run_dir.prepare_output_dir(out, _run(), training=True)


def test_output_dir_guard_refuses_different_run(tmp_path):
  out = str(tmp_path / "out")
  run_dir.prepare_output_dir(out, _run(), training=True)
  with pytest.raises(errors.UserError) as e:
    run_dir.prepare_output_dir(out, _run(task="gad", labels=("0", "1"), seq=64),
                               training=True)
  msg = str(e.value)
  assert "holds a different run" in msg
  assert "task: recorded 'ner', now 'gad'" in msg
  assert "max_seq_length: recorded 128, now 64" in msg
  assert "Use a new --output_dir" in msg
  # Prediction with a different setup is refused too.
  with pytest.raises(errors.UserError):
    run_dir.prepare_output_dir(out, _run(seq=64), training=False)


def test_output_dir_guard_refuses_unknown_checkpoint(tmp_path):
  out = tmp_path / "old_biobert_run"
  out.mkdir()
  (out / "checkpoint").write_text(
      'model_checkpoint_path: "model.ckpt-1000"\n')
  (out / "model.ckpt-1000.index").write_text("")
  with pytest.raises(errors.UserError, match="no run_manifest.json"):
    run_dir.prepare_output_dir(str(out), _run(), training=True)


def test_train_steps_and_errors():
  assert est.train_steps(100, 32, 10.0, 0.1) == (31, 3)
  with pytest.raises(errors.UserError, match="make no training step"):
    est.train_steps(3, 32, 1.0, 0.1)


def test_missing_inputs_are_user_errors(tmp_path):
  with pytest.raises(errors.UserError, match="--vocab_file"):
    est.load_tokenizer(str(tmp_path / "nope.txt"), False, None)
  with pytest.raises(errors.UserError, match="--init_checkpoint"):
    est.check_init_checkpoint(str(tmp_path / "model.ckpt-1000000"))
  cfg = tmp_path / "bert_config.json"
  cfg.write_text(json.dumps({"vocab_size": 5, "max_position_embeddings": 64}))
  with pytest.raises(errors.UserError, match="up to sequence length 64"):
    est.load_bert_config(str(cfg), 128)


def test_read_text_lines_bom_crlf_and_empty(tmp_path):
  p = tmp_path / "a.tsv"
  p.write_bytes(b"\xef\xbb\xbfa\tB\r\nb\tO\r\n")
  assert errors.read_text_lines(str(p), "x") == ["a\tB", "b\tO"]
  (tmp_path / "e.tsv").write_text("\n\n")
  with pytest.raises(errors.InputError, match="e.tsv: file is empty"):
    errors.read_text_lines(str(tmp_path / "e.tsv"), "token<TAB>tag lines")
  with pytest.raises(errors.InputError, match="file not found"):
    errors.read_text_lines(str(tmp_path / "none.tsv"), "x")


def test_atomic_write_leaves_no_partial_file(tmp_path):
  path = str(tmp_path / "out.txt")
  errors.atomic_write(path, "old\n")


  with pytest.raises(TypeError):
    errors.atomic_write(path, object())
  with open(path) as f:
    assert f.read() == "old\n"
  assert os.listdir(str(tmp_path)) == ["out.txt"]


def test_eval_results_format(tmp_path):
  path = est.write_eval_results(str(tmp_path), {"loss": 0.5,
                                                "eval_accuracy": 0.75,
                                                "global_step": 10})
  with open(path) as f:
    assert f.read() == ("eval_accuracy = 0.75\nglobal_step = 10\n"
                        "loss = 0.5\n")
