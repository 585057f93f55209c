"""create_optimizer / AdamWeightDecayOptimizer: reference steps and hand cases."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import modeling
import optimization
from tests.conftest import REFERENCE

REF = os.path.join(REFERENCE, "bert")


def test_five_steps_match_google_reference():
  import json
  config = modeling.BertConfig.from_json_file(os.path.join(REF,
                                                           "bert_config.json"))
  with open(os.path.join(REF, "inputs.json")) as f:
    inputs = json.load(f)
  expected = np.load(os.path.join(REF, "expected_optimizer.npz"))
  ckpt = os.path.join(REF, "model.ckpt-0")
  with tf.Graph().as_default():
    model = modeling.BertModel(
        config, False, tf.constant(inputs["input_ids"]),
        tf.constant(inputs["input_mask"]),
        tf.constant(inputs["token_type_ids"]))
    loss = tf.reduce_mean(tf.square(model.get_pooled_output()))
    amap, _ = modeling.get_assignment_map_from_checkpoint(
        tf.trainable_variables(), ckpt)
    tf.train.init_from_checkpoint(ckpt, amap)
    train_op = optimization.create_optimizer(loss, 1e-3, 1000000, 0, False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      losses = []
      for _ in range(5):
        losses.append(sess.run(loss))
        sess.run(train_op)
      step = sess.run(tf.train.get_global_step())
      names = [k for k in expected.keys() if k not in ("losses", "global_step")]
      assert len(names) == 5
      graph = tf.get_default_graph()
      values = {
          n: sess.run(graph.get_tensor_by_name(n.replace("__", "/") + ":0"))
          for n in names
      }
  assert step == expected["global_step"] == 5
  np.testing.assert_allclose(losses, expected["losses"], rtol=1e-5)
  # Relative to each tensor's scale: elements that pass near zero differ by
  # float32 round-off (~5e-8 absolute), which no per-element ratio survives.
  for n in names:
    rel = np.abs(values[n] - expected[n]).max() / np.abs(expected[n]).max()
    assert rel < 1e-5, (n, rel)


def _numpy_adam(w, g, m, v, lr, decay):
  m = 0.9 * m + 0.1 * g
  v = 0.999 * v + 0.001 * g * g
  update = m / (np.sqrt(v) + 1e-6)
  if decay:
    update = update + 0.01 * w
  return w - lr * update, m, v


def test_hand_computed_steps_with_decay_exclusion_and_clipping():
  # loss = c . w + c_b . bias; the gradient is the constant vector c.
  # Step 1 and 2 gradients have norm 0.5 (no clipping); step 3 has norm 5 and
  # is clipped to norm 1.
  w0 = np.array([1.0, -2.0], np.float32)
  b0 = np.array([0.5], np.float32)
  grads = [(np.array([0.3, -0.4]), np.array([0.0])),
           (np.array([0.3, -0.4]), np.array([0.0])),
           (np.array([3.0, 0.0]), np.array([4.0]))]
  with tf.Graph().as_default():
    w = tf.get_variable("w", initializer=w0)
    bias = tf.get_variable("layer/bias", initializer=b0)
    cw = tf.placeholder(tf.float32, [2])
    cb = tf.placeholder(tf.float32, [1])
    loss = tf.reduce_sum(cw * w) + tf.reduce_sum(cb * bias)
    train_op = optimization.create_optimizer(loss, 0.1, 10, 0, False)
    names = sorted(v.name for v in tf.global_variables())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      got = []
      for gw, gb in grads:
        sess.run(train_op, {cw: gw, cb: gb})
        got.append(sess.run([w, bias]))
  assert names == ["global_step:0", "layer/bias/adam_m:0",
                   "layer/bias/adam_v:0", "layer/bias:0", "w/adam_m:0",
                   "w/adam_v:0", "w:0"]
  ew, eb = w0.astype(np.float64), b0.astype(np.float64)
  mw = vw = np.zeros(2)
  mb = vb = np.zeros(1)
  for step, (gw, gb) in enumerate(grads):
    norm = np.sqrt((gw ** 2).sum() + (gb ** 2).sum())
    scale = 1.0 / max(norm, 1.0)
    lr = 0.1 * (1 - step / 10.0)
    ew, mw, vw = _numpy_adam(ew, gw * scale, mw, vw, lr, decay=True)
    eb, mb, vb = _numpy_adam(eb, gb * scale, mb, vb, lr, decay=False)
    np.testing.assert_allclose(got[step][0], ew, rtol=1e-5)
    np.testing.assert_allclose(got[step][1], eb, rtol=1e-5)
  # The bias saw zero gradient for two steps and no decay: it did not move.
  assert got[1][1][0] == 0.5


def _schedule_values(steps, init_lr=1.0, num_train_steps=100, warmup=10):
  with tf.Graph().as_default():
    step = tf.placeholder(tf.int64, [])
    lr = optimization.learning_rate_schedule(init_lr, step, num_train_steps,
                                             warmup)
    with tf.Session() as sess:
      return [float(sess.run(lr, {step: s})) for s in steps]


def test_learning_rate_warmup_peak_and_end():
  got = _schedule_values([0, 5, 9, 10, 50, 99, 100, 150])
  expected = [0.0, 0.5, 0.9, 0.9, 0.5, 0.01, 0.0, 0.0]
  np.testing.assert_allclose(got, expected, atol=1e-6)


def test_learning_rate_without_warmup_decays_from_peak():
  got = _schedule_values([0, 25, 100], init_lr=2e-5, warmup=0)
  np.testing.assert_allclose(got, [2e-5, 1.5e-5, 0.0], rtol=1e-6)


def test_learning_rate_is_read_before_the_step_increment():
  # With warmup, step 0 has learning rate exactly 0 and step 1 has 0.1: if
  # the increment could happen before the update, w would move on step 0.
  for _ in range(30):
    with tf.Graph().as_default():
      w = tf.get_variable("w", initializer=np.array([1.0], np.float32))
      train_op = optimization.create_optimizer(tf.reduce_sum(w), 1.0, 100,
                                               10, False)
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op)
        assert sess.run(w)[0] == 1.0
        assert sess.run(tf.train.get_global_step()) == 1
        sess.run(train_op)
        assert sess.run(w)[0] != 1.0


def test_weight_decay_exclusions():
  opt = optimization.AdamWeightDecayOptimizer(0.1, weight_decay_rate=0.01,
                                              exclude_from_weight_decay=[
                                                  "LayerNorm", "layer_norm",
                                                  "bias"])
  assert opt._do_use_weight_decay("bert/encoder/layer_0/output/dense/kernel")
  assert not opt._do_use_weight_decay("bert/embeddings/LayerNorm/gamma")
  assert not opt._do_use_weight_decay("x/layer_norm/beta")
  assert not opt._do_use_weight_decay("output_bias")
  assert opt._get_variable_name("a/b:0") == "a/b"


def _accumulation_run(k, loss_is_sum, updates=3):
  rng = np.random.RandomState(0)
  x_all = rng.randn(8 * updates, 5).astype(np.float32)
  y_all = rng.randn(8 * updates, 2).astype(np.float32)
  with tf.Graph().as_default():
    x = tf.placeholder(tf.float32, [None, 5])
    y = tf.placeholder(tf.float32, [None, 2])
    w = tf.get_variable("dense/kernel", initializer=tf.constant(
        rng.randn(5, 2).astype(np.float32)))
    b = tf.get_variable("dense/bias", initializer=tf.zeros([2]))
    err = tf.reduce_sum(tf.square(tf.matmul(x, w) + b - y), axis=-1)
    loss = tf.reduce_sum(err) if loss_is_sum else tf.reduce_mean(err)
    train_op = optimization.create_optimizer(
        loss, 0.05, 10, 2, False, gradient_accumulation_steps=k,
        loss_is_sum=loss_is_sum)
    step = tf.train.get_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      micro = 8 // k
      steps = []
      for i in range(updates * k):
        sess.run(train_op, {x: x_all[i * micro:(i + 1) * micro],
                            y: y_all[i * micro:(i + 1) * micro]})
        steps.append(int(sess.run(step)))
      return sess.run([w, b]), steps


@pytest.mark.parametrize("loss_is_sum", [False, True])
def test_accumulated_micro_batches_equal_one_big_batch(loss_is_sum):
  (w1, b1), steps1 = _accumulation_run(1, loss_is_sum)
  (w4, b4), steps4 = _accumulation_run(4, loss_is_sum)
  assert steps1 == [1, 2, 3]
  # The step (and the learning rate) counts updates, not micro-batches.
  assert steps4 == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
  np.testing.assert_allclose(w4, w1, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(b4, b1, rtol=1e-5, atol=1e-6)
  (w0, _), _ = _accumulation_run(1, loss_is_sum, updates=0)
  assert np.abs(w1 - w0).max() > 1e-3  # the updates did move the weights


@pytest.mark.parametrize("resource", [False, True])
def test_fused_update_equals_the_formulas_up_to_rounding(resource):
  # Five clipped steps with decay on `w`, none on `layer/bias`, a warmup
  # step with learning rate 0: the fused kernels against the original's
  # formulas, for reference and resource variables.
  rng = np.random.RandomState(3)
  w0 = rng.normal(size=(4, 3)).astype(np.float32)
  b0 = rng.normal(size=(3,)).astype(np.float32)
  grads = [rng.normal(size=(4, 3)).astype(np.float32) * s
           for s in (0.1, 0.3, 2.0, 0.05, 1.0)]
  results = {}
  for fused in (False, True):
    with tf.Graph().as_default() as graph:
      w = tf.get_variable("w", initializer=w0, use_resource=resource)
      bias = tf.get_variable("layer/bias", initializer=b0,
                             use_resource=resource)
      c = tf.placeholder(tf.float32, [4, 3])
      loss = tf.reduce_sum(c * w) + tf.reduce_sum(c[0] * bias * bias)
      train_op = optimization.create_optimizer(loss, 0.1, 10, 1, False,
                                               fused=fused)
      ops = {op.type for op in graph.get_operations()}
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = []
        for g in grads:
          sess.run(train_op, {c: g})
          got.append(sess.run([w, bias]))
        results[fused] = got
        names = sorted(v.name for v in tf.global_variables())
    adam = "ResourceApplyAdam" if resource else "ApplyAdam"
    assert (adam in ops) == fused
  assert names == ["global_step:0", "layer/bias/adam_m:0",
                   "layer/bias/adam_v:0", "layer/bias:0", "w/adam_m:0",
                   "w/adam_v:0", "w:0"]
  # Step 1 is the warmup step with learning rate 0: nothing moved.
  np.testing.assert_array_equal(results[True][0][0], w0)
  # The kernels compute 1 - beta2 in float32 (0.0010000467, the formulas
  # 0.001 from Python floats): v differs by 4.7e-5 relative, an update by
  # half that (2e-6 here on steps of 0.1).
  for (fw, fb), (ow, ob) in zip(results[True], results[False]):
    np.testing.assert_allclose(fw, ow, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fb, ob, rtol=1e-5, atol=1e-5)
  # Different kernels did run.
  assert np.abs(results[True][-1][0] - results[False][-1][0]).max() > 0
  assert not np.array_equal(results[True][-1][0], w0)  # it trained


@pytest.mark.parametrize("resource", [False, True])
def test_fused_decay_waits_for_every_gradient(resource):
  # The decay reads and writes the weight in place: it must run after the
  # global norm (so after every gradient, which read the weights), or it
  # would change weights the same step's backward pass still reads.
  with tf.Graph().as_default() as graph:
    w = tf.get_variable("w", initializer=np.ones((3, 2), np.float32),
                        use_resource=resource)
    x = tf.constant(np.ones((4, 3), np.float32))
    loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
    optimization.create_optimizer(loss, 0.1, 10, 0, False, fused=True)
    kind = ("ResourceApplyGradientDescent" if resource else
            "ApplyGradientDescent")
    decays = [op for op in graph.get_operations() if op.type == kind]
    norms = [op for op in graph.get_operations()
             if op.name.endswith("global_norm/global_norm")]
  assert len(decays) == 1 and len(norms) == 1
  seen, todo = set(), [decays[0]]
  while todo:
    op = todo.pop()
    if op not in seen:
      seen.add(op)
      todo.extend(t.op for t in op.inputs)
      todo.extend(op.control_inputs)
  assert norms[0] in seen
