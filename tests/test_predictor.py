"""finetuning.predictor: a session kept open gives the Estimator's outputs."""

import numpy as np
import pytest

from finetuning import devices
from finetuning import estimator as est
from finetuning import prediction
from finetuning import predictor
from finetuning import records
from tests import toy_task


def _trained(tiny_bert_dir, tmp_path, bucketed, use_fp16, steps):
  """(config, bert config, record format, Estimator) of the toy task after
  `steps` training steps of batch 4."""
  config = toy_task.config(tiny_bert_dir, str(tmp_path), do_train=True,
                           num_train_epochs=1.0, use_fp16=use_fp16)
  bert = toy_task.bert_config(tiny_bert_dir)
  fmt = records.RecordFormat(toy_task.FIELDS, toy_task.SEQ, bucketed)
  train = str(tmp_path / "train.tf_record")
  fmt.write(toy_task.features(n=4 * steps, seed=5), train)
  estimator = est.create_estimator(config, bert, toy_task.head, steps,
                                   steps // 4)
  estimator.train(fmt.input_fn(train, 4, True, seed=1), max_steps=steps)
  return config, bert, fmt, estimator


@pytest.mark.parametrize("bucketed,use_fp16", [
    (False, False), (True, False),
    pytest.param(True, True, marks=pytest.mark.skipif(
        not devices.cpu_supports_bf16(), reason="no bfloat16 on this CPU"))])
def test_same_outputs_as_the_estimator(tiny_bert_dir, tmp_path, bucketed,
                                       use_fp16):
  # bfloat16: both read the weights cast once after the restore
  # (Numerics.weights_cast_once), the Estimator through its local init op.
  config, bert, fmt, estimator = _trained(tiny_bert_dir, tmp_path, bucketed,
                                          use_fp16, steps=4)
  features = toy_task.features(n=11, seed=9)
  expected = prediction.predict(estimator, features, fmt,
                                str(tmp_path / "p.tf_record"), 4)
  kept = predictor.Predictor(est.model_fn_of(config, bert, toy_task.head),
                             estimator.latest_checkpoint(), fmt,
                             devices.session_config(use_fp16,
                                                    for_prediction=True))
  got = kept.predict(features, 4)
  again = kept.predict(features[:3], 2)  # the same session, another call
  kept.close()
  assert len(got) == 11
  for a, b in zip(expected, got):
    if use_fp16:
      # The predictor's fused matmul + bias rounds to bfloat16 once, the
      # Estimator's graph twice (4e-7 here).
      np.testing.assert_allclose(a["probabilities"], b["probabilities"],
                                 atol=1e-4)
    else:
      # Not the same kernels: the predictor's Grappler passes fuse each
      # matmul with its bias (oneDNN), the Estimator runs them apart. On
      # AVX-512 both round alike; with AVX2 kernels a probability can move
      # by one float32 step (6e-8).
      np.testing.assert_allclose(a["probabilities"], b["probabilities"],
                                 rtol=1e-6, atol=1e-7)
  for a, b in zip(got[:3], again):
    np.testing.assert_allclose(a["probabilities"], b["probabilities"],
                               rtol=1e-6, atol=1e-7)


def test_batches_padded_in_order_bucketed_by_area():
  padded = records.RecordFormat(toy_task.FIELDS, 16, False)
  assert predictor.plan_batches([5, 16, 3, 9, 2], 2, padded) == [
      [0, 1], [2, 3], [4]]
  bucketed = records.RecordFormat(toy_task.FIELDS, 16, True)
  # Area 2 x 16 = 32 positions, sorted by length: 2, 3, 5 (3 x 5 = 15);
  # adding 9 would take 4 x 9 = 36, so 9 starts a batch, and 16 joins it
  # (2 x 16 = 32).
  assert predictor.plan_batches([5, 16, 3, 9, 2], 2, bucketed) == [
      [4, 2, 0], [3, 1]]
  assert predictor.plan_batches([4] * 9, 2, bucketed) == [
      list(range(8)), [8]]
  assert predictor.plan_batches([], 2, bucketed) == []


@pytest.mark.skipif(not devices.cpu_supports_bf16(),
                    reason="no bfloat16 on this CPU")
def test_no_op_changed_after_the_session_ran_it(tiny_bert_dir, tmp_path,
                                                 monkeypatch):
  # TensorFlow warns ("... was changed by setting attribute after it was run
  # by a session") when an op the session has run gets a new attribute: the
  # local init op marks the weights' bfloat16 copies' initializers as
  # control inputs, so it must exist before the checkpoint is restored.
  import tensorflow.compat.v1 as tf
  from tensorflow.python.framework import ops
  config, bert, fmt, estimator = _trained(tiny_bert_dir, tmp_path, True,
                                          True, steps=1)
  ran, changed = [], []
  session_run, set_attr = tf.Session.run, ops.Operation._set_attr

  def run(self, *args, **kwargs):
    ran.append(True)
    return session_run(self, *args, **kwargs)

  def record(op, name, value):
    if ran:
      changed.append((op.name, name))
    return set_attr(op, name, value)

  monkeypatch.setattr(tf.Session, "run", run)
  monkeypatch.setattr(ops.Operation, "_set_attr", record)
  kept = predictor.Predictor(est.model_fn_of(config, bert, toy_task.head),
                             estimator.latest_checkpoint(), fmt,
                             devices.session_config(True,
                                                    for_prediction=True))
  kept.predict(toy_task.features(n=3, seed=9), 4)
  kept.close()
  assert ran and changed == []
