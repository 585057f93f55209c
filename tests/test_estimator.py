"""finetuning.estimator: restoring BERT, step counts, the Estimator."""

import collections
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import modeling
from finetuning import errors
from finetuning import estimator as est
from tests import toy_task


def test_every_bert_variable_restored_and_logged(tiny_bert_dir):
  config = modeling.BertConfig.from_json_file(tiny_bert_dir["config"])
  logged = []
  old_info = tf.logging.info
  tf.logging.info = lambda msg, *args: logged.append(msg % args)
  try:
    with tf.Graph().as_default():
      model = modeling.BertModel(config, False, tf.zeros([1, 4], tf.int32))
      toy_task.head(model, {"label_ids": tf.zeros([1], tf.int32)}, False)
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


def test_train_steps_and_errors():
  assert est.train_steps(100, 32, 10.0, 0.1) == (31, 3)
  assert est.train_steps(96, 8, 1.0, 0.1, replicas=3) == (4, 0)
  with pytest.raises(errors.UserError, match="make no training step"):
    est.train_steps(3, 32, 1.0, 0.1)


def test_create_estimator_follows_the_config(tiny_bert_dir, tmp_path):
  config = toy_task.config(tiny_bert_dir, str(tmp_path), seed=5,
                           save_checkpoints_steps=7, keep_checkpoint_max=2)
  e = est.create_estimator(config, toy_task.bert_config(tiny_bert_dir),
                           toy_task.head, 10, 1)
  assert e.model_dir == str(tmp_path)
  assert e.config.tf_random_seed == 5
  assert e.config.save_checkpoints_steps == 7
  assert e.config.keep_checkpoint_max == 2
  assert e.config.train_distribute is None


def test_checkpoint_step(tmp_path):
  assert est.checkpoint_step(str(tmp_path)) == 0
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(step.assign(42))
      tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"),
                            global_step=42)
  assert est.checkpoint_step(str(tmp_path)) == 42


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_bias_gradients_of_16_bit_training_are_summed_in_float(
    tiny_bert_dir, dtype):
  config = modeling.BertConfig.from_json_file(tiny_bert_dir["config"])
  model_fn = est.model_fn_builder(config, toy_task.head,
                                  tiny_bert_dir["ckpt"], 1e-4, 10, 1,
                                  precision=("bfloat16" if dtype == tf.bfloat16
                                             else None))
  with tf.Graph().as_default() as graph:
    features = {"input_ids": tf.zeros([2, 8], tf.int32),
                "input_mask": tf.ones([2, 8], tf.int32),
                "segment_ids": tf.zeros([2, 8], tf.int32),
                "label_ids": tf.zeros([2], tf.int32)}
    model_fn(features, None, tf.estimator.ModeKeys.TRAIN)
    kernels = collections.Counter(op.get_attr("T")
                                  for op in graph.get_operations()
                                  if op.type == "BiasAddGrad")
  # 6 dense layers a layer, the pooler and the head; in bfloat16 training
  # only the float32 ones (pooler, head) keep TensorFlow's kernel.
  layers = config.num_hidden_layers
  assert kernels == ({tf.float32: 6 * layers + 2} if dtype == tf.float32
                     else {tf.float32: 2})
