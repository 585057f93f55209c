"""finetuning.heads: the output projection of the NER and RE heads."""

import numpy as np
import tensorflow.compat.v1 as tf

from finetuning import heads


def test_output_logits_names_shapes_and_values():
  with tf.Graph().as_default():
    layer = tf.constant(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    logits = heads.output_logits(layer, 5, is_training=False)
    names = {v.name: v.shape.as_list() for v in tf.global_variables()}
    assert names == {"output_weights:0": [5, 4], "output_bias:0": [5]}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      out, w, b = sess.run([logits, "output_weights:0", "output_bias:0"])
  assert out.shape == (2, 3, 5)
  # The weights are random: an output near zero needs an absolute tolerance
  # (one run in CI had |out| ~ 4e-3 off by 5e-8, a relative 1.4e-5).
  np.testing.assert_allclose(out, np.arange(24).reshape(2, 3, 4) @ w.T + b,
                             rtol=1e-5, atol=1e-6)


def test_cross_entropy_per_position():
  logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]],
                           np.float32))
  with tf.Graph().as_default(), tf.Session() as sess:
    log_probs, loss = sess.run(heads.cross_entropy(
        tf.constant(logits), tf.constant([[0, 2]]), 3))
  np.testing.assert_allclose(np.exp(log_probs), np.exp(logits), rtol=1e-6)
  np.testing.assert_allclose(loss, [[-np.log(0.5), -np.log(0.8)]], rtol=1e-6)
