"""The numerics of a graph (numerics.py) and the bfloat16 kernels it chooses
(bfloat16_kernels.py): each against the original float32 computation."""

import contextlib
import dataclasses

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import bfloat16_kernels as kernels
import modeling
import numerics
from tests.test_modeling import _small_model_inputs

WRITTEN_OUT = numerics.Numerics(written_out_gelu=True)


def _of(dtype, is_training):
  """The numerics of a run in `dtype`."""
  return numerics.Numerics.of(
      "bfloat16" if dtype == tf.bfloat16 else None, is_training)


def test_numerics_of_each_precision_and_mode():
  step = tf.constant(0, tf.int64)
  assert numerics.Numerics.of(None, True) == numerics.Numerics()
  assert numerics.Numerics.of("float16", False) == numerics.Numerics()
  assert numerics.Numerics.of(None, True, 3, step) == numerics.Numerics(
      dropout_seed=3, step=step)
  assert numerics.Numerics.of(None, False, 3, step) == numerics.Numerics()
  train = numerics.Numerics.of("bfloat16", True)
  assert (train.compute_dtype, train.layer_norm, train.softmax_dtype) == (
      tf.bfloat16, "written_out_gradient", tf.float32)
  assert (train.written_out_gelu, train.bias_gradients_in_float,
          train.fused_optimizer) == (True, True, True)
  assert not (train.joined_projections or train.weights_cast_once)
  predict = numerics.Numerics.of("bfloat16", False)
  assert (predict.compute_dtype, predict.softmax_dtype) == (tf.bfloat16,
                                                            tf.bfloat16)
  assert predict.layer_norm == (
      "fused" if kernels.fused_layer_norm_available() else "original")
  assert (predict.joined_projections, predict.weights_cast_once) == (True,
                                                                     True)
  assert not (predict.written_out_gelu or predict.bias_gradients_in_float or
              predict.fused_optimizer)
  with pytest.raises(ValueError, match="step tensor"):
    numerics.Numerics(dropout_seed=1)


def test_step_seeded_dropout_depends_only_on_seed_step_and_place():
  def masks(seed, step_value):
    with tf.Graph().as_default():
      step = tf.constant(step_value, tf.int64)
      x = tf.ones([4, 64])
      seeded = numerics.Numerics(dropout_seed=seed, step=step)
      a = modeling.dropout(x, 0.5, seeded)
      b = modeling.dropout(x, 0.5, seeded)
      with tf.Session() as sess:
        return sess.run([a, b])

  a1, b1 = masks(7, 3)
  a2, b2 = masks(7, 3)  # a new session: the same masks
  np.testing.assert_array_equal(a1, a2)
  np.testing.assert_array_equal(b1, b2)
  assert set(np.unique(a1)) == {0.0, 2.0}
  assert (a1 != b1).any()  # two dropouts of one step differ
  assert (masks(7, 4)[0] != a1).any()  # the next step differs
  assert (masks(8, 3)[0] != a1).any()  # another seed differs


def test_bfloat16_dropout_draws_16_bits_per_value():
  # TensorFlow's dropout in bfloat16 drops 13/128 (0.1016) for a rate of
  # 0.1; half_word_dropout drops round(0.1 * 65536) / 65536 = 0.100006.
  with tf.Graph().as_default():
    x = tf.ones([2000, 1000], tf.bfloat16)
    a = modeling.dropout(x, 0.1, numerics.Numerics(
        dropout_seed=3, step=tf.constant(5, tf.int64)))
    b = kernels.half_word_dropout(x, 0.1, tf.constant([7, 5], tf.int64))
    c = kernels.half_word_dropout(x, 0.1, tf.constant([7, 5], tf.int64))
    d = kernels.half_word_dropout(x, 0.1, tf.constant([7, 6], tf.int64))
    odd = kernels.half_word_dropout(tf.ones([3, 5, 7], tf.bfloat16), 0.5,
                                    tf.constant([1, 2], tf.int64))
    unseeded = modeling.dropout(x, 0.1, numerics.Numerics())
    ops = {op.type for op in tf.get_default_graph().get_operations()}
    with tf.Session() as sess:
      a, b, c, d, odd, unseeded = sess.run([a, b, c, d, odd, unseeded])
  assert "StatelessRandomUniformFullIntV2" in ops
  assert "StatelessRandomUniformV2" not in ops
  for masked in (a, b, unseeded):
    values = set(np.unique(masked.astype(np.float32)))
    # 1 / 0.9 in bfloat16, as tf.nn.dropout scales it.
    assert values == {0.0, float(tf.bfloat16.as_numpy_dtype(1 / 0.9))}
    assert abs((masked == 0).mean() - 0.1) < 0.0008  # 4 sigma; 0.1016 fails
  np.testing.assert_array_equal(b, c)  # the seed decides
  assert (b != d).any()
  assert odd.shape == (3, 5, 7) and 0 < (odd == 0).sum() < odd.size


def test_bfloat16_dropout_multiplies_by_its_mask():
  # The same values and gradient as selecting the scaled values, each by
  # one multiplication: no Select or ZerosLike in the graph.
  rng = np.random.RandomState(0)
  with tf.Graph().as_default():
    x = tf.constant(rng.randn(64, 48), tf.bfloat16)
    dy = tf.constant(rng.randn(64, 48), tf.bfloat16)
    seed = tf.constant([3, 4], tf.int64)
    y = kernels.half_word_dropout(x, 0.1, seed)
    dx, = tf.gradients(y, x, dy)
    ops = [op.type for op in tf.get_default_graph().get_operations()]
    with tf.Session() as sess:
      x, dy, y, dx = sess.run([x, dy, y, dx])
  assert "Select" not in ops and "SelectV2" not in ops
  assert "ZerosLike" not in ops
  x, dy, y, dx = (a.astype(np.float32) for a in (x, dy, y, dx))
  kept = y != 0
  assert 0.05 < 1 - kept.mean() < 0.15
  scale = np.float32(tf.bfloat16.as_numpy_dtype(1 / 0.9))
  as_bf16 = lambda a: a.astype(tf.bfloat16.as_numpy_dtype).astype(np.float32)
  np.testing.assert_array_equal(y, np.where(kept, as_bf16(x * scale), 0))
  np.testing.assert_array_equal(dx, np.where(kept, as_bf16(dy * scale), 0))


def test_float32_dropout_is_tensorflows():
  with tf.Graph().as_default():
    x = tf.ones([4, 64])
    a = modeling.dropout(x, 0.5, numerics.Numerics(
        dropout_seed=7, step=tf.constant(3, tf.int64)))
    expected = tf.nn.experimental.stateless_dropout(
        x, rate=0.5, seed=tf.constant([7 * 1009, 3], tf.int64))
    with tf.Session() as sess:
      a, expected = sess.run([a, expected])
  np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("activation", [modeling.gelu, modeling.gelu_erf])
def test_written_out_gelu_matches_the_formula_and_its_derivative(activation):
  x_values = np.linspace(-6, 6, 241).astype(np.float32)
  with tf.Graph().as_default():
    x = tf.constant(x_values)
    dy = tf.constant(np.linspace(0.5, 1.5, 241).astype(np.float32))
    y_ref = activation(x)
    g_ref = tf.gradients(y_ref, x, dy)[0]
    y = WRITTEN_OUT.activation(activation)(x)
    g = tf.gradients(y, x, dy)[0]
    x16 = tf.cast(x, tf.bfloat16)
    y16 = WRITTEN_OUT.activation(activation)(x16)
    g16 = tf.gradients(y16, x16, tf.cast(dy, tf.bfloat16))[0]
    with tf.Session() as sess:
      y_ref, g_ref, y, g, y16, g16 = sess.run([y_ref, g_ref, y, g, y16, g16])
  np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-5)
  assert y16.dtype == g16.dtype == tf.bfloat16.as_numpy_dtype
  # bfloat16 keeps 8 significant bits.
  np.testing.assert_allclose(y16.astype(np.float32), y_ref, rtol=1e-2,
                             atol=2e-2)
  np.testing.assert_allclose(g16.astype(np.float32), g_ref, rtol=1e-2,
                             atol=2e-2)
  assert WRITTEN_OUT.activation(tf.nn.relu) is tf.nn.relu


@pytest.mark.parametrize("shape", [[6, 16], [2, 3, 16]])
def test_layer_norm_with_gradient_matches_autodiff(shape):
  rng = np.random.RandomState(0)
  x_values = (rng.randn(*shape) * 3 + 1).astype(np.float32)
  dy_values = rng.randn(*shape).astype(np.float32)
  with tf.Graph().as_default():
    x = tf.constant(x_values)
    dy = tf.constant(dy_values)
    with tf.variable_scope("ref"):
      ref = modeling.layer_norm(x)
    with tf.variable_scope("written"):
      out = modeling.layer_norm(x, numerics=numerics.Numerics(
          layer_norm="written_out_gradient"))
    def grads(y, scope):
      gamma, beta = (tf.get_variable(scope + "/LayerNorm/" + n, [16])
                     for n in ("gamma", "beta"))
      return tf.gradients(y, [x, gamma, beta], dy)
    with tf.variable_scope("", reuse=True):
      ref_grads, out_grads = grads(ref, "ref"), grads(out, "written")
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      # The same gamma and beta in both, not the initial 1 and 0.
      values = {n: rng.randn(16).astype(np.float32) for n in ("gamma", "beta")}
      for v in tf.global_variables():
        sess.run(v.assign(values[v.op.name.rsplit("/", 1)[-1]]))
      ref, out, ref_grads, out_grads = sess.run([ref, out, ref_grads,
                                                 out_grads])
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
  for a, b in zip(out_grads, ref_grads):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype,is_training,written_out,fused", [
    (tf.bfloat16, True, True, False), (tf.bfloat16, False, False, True),
    (tf.float32, True, False, False), (tf.float32, False, False, False)])
def test_layer_norms_and_softmax_of_16_bit_compute(dtype, is_training,
                                                  written_out, fused):
  config, ids, mask = _small_model_inputs()
  with tf.Graph().as_default() as graph:
    modeling.BertModel(config, is_training, tf.constant(ids),
                       tf.constant(mask), numerics=_of(dtype, is_training))
    ops = [op.type for op in graph.get_operations()]
    softmax_dtypes = {op.get_attr("T") for op in graph.get_operations()
                      if op.type == "Softmax"}
  # The attention softmax: float32, but in the compute dtype in 16-bit
  # prediction.
  assert softmax_dtypes == {dtype if fused else tf.float32}
  # tf.custom_gradient marks its outputs with IdentityN: a GELU a layer,
  # two layer norms a layer and one after the embeddings.
  layers = config.num_hidden_layers
  assert ops.count("IdentityN") == (3 * layers + 1 if written_out else 0)
  assert ops.count("_MklLayerNorm") == (2 * layers + 1 if fused else 0)


@pytest.mark.parametrize("shape", [[6, 16], [2, 3, 16]])
def test_fused_layer_norm_matches_the_original(shape):
  rng = np.random.RandomState(0)
  x_values = (rng.randn(*shape) * 3 + 1).astype(np.float32)
  with tf.Graph().as_default():
    x = tf.constant(x_values)
    with tf.variable_scope("ref"):
      ref = modeling.layer_norm(x)
    with tf.variable_scope("fused"):
      out = modeling.layer_norm(x, numerics=numerics.Numerics(
          layer_norm="fused"))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = {n: rng.randn(16).astype(np.float32) for n in ("gamma", "beta")}
      for v in tf.global_variables():
        sess.run(v.assign(values[v.op.name.rsplit("/", 1)[-1]]))
      ref, out = sess.run([ref, out])
  assert out.shape == tuple(shape)
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="not one of original"):
    numerics.Numerics(layer_norm="welford")


@pytest.mark.bf16_kernels
def test_bfloat16_compute_is_close_and_float32_graph_unchanged():
  config, ids, mask = _small_model_inputs()
  outputs, casts, names = {}, {}, {}
  for dtype in (tf.float32, tf.bfloat16):
    with tf.Graph().as_default() as graph:
      tf.set_random_seed(1)
      model = modeling.BertModel(config, False, tf.constant(ids),
                                 tf.constant(mask),
                                 numerics=_of(dtype, False))
      seq, pooled = model.get_sequence_output(), model.get_pooled_output()
      names[dtype] = sorted(v.name for v in tf.global_variables())
      casts[dtype] = [op for op in graph.get_operations()
                      if op.type == "Cast" and op.get_attr("DstT") ==
                      tf.bfloat16]
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.local_variables_initializer())  # weights cast once
        outputs[dtype] = sess.run([seq, pooled])
  # The same variables (float32 master weights) and float32 outputs.
  assert names[tf.float32] == names[tf.bfloat16]
  assert outputs[tf.bfloat16][0].dtype == np.float32
  assert not casts[tf.float32] and casts[tf.bfloat16]
  for got, want in zip(outputs[tf.bfloat16], outputs[tf.float32]):
    # bfloat16 keeps 8 bits of mantissa: layer-normed values agree to ~1e-2.
    np.testing.assert_allclose(got, want, atol=0.1)
    assert np.abs(got - want).max() > 0  # it did compute in bfloat16


def _ops_feeding(op):
  """The ops `op` depends on, itself included."""
  seen, todo = set(), [op]
  while todo:
    current = todo.pop()
    if current in seen:
      continue
    seen.add(current)
    todo.extend(t.op for t in current.inputs)
    todo.extend(current.control_inputs)
  return seen


@pytest.mark.bf16_kernels
def test_cast_weights_once_gives_the_same_numbers_and_casts_no_weight():
  config, ids, mask = _small_model_inputs()
  outputs, weight_casts, copies, saved = {}, {}, {}, {}
  for once in (False, True):
    with tf.Graph().as_default():
      tf.set_random_seed(1)
      model = modeling.BertModel(
          config, False, tf.constant(ids), tf.constant(mask),
          numerics=dataclasses.replace(_of(tf.bfloat16, False),
                                       weights_cast_once=once))
      seq = model.get_sequence_output()
      # Casts of a variable that the output depends on (what runs per
      # batch; the copies' initializers run once).
      weight_casts[once] = [
          op.name for op in _ops_feeding(seq.op) if op.type == "Cast"
          and op.inputs[0].op.type in ("VariableV2", "Identity")]
      copies[once] = sorted(v.op.name for v in tf.local_variables())
      saved[once] = sorted(v.op.name for v in tf.global_variables())
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.local_variables_initializer())  # after the weights
        outputs[once] = sess.run(seq)
  np.testing.assert_array_equal(outputs[True], outputs[False])  # same bits
  # Every dense kernel and bias of the encoder has one bfloat16 copy (the
  # query, key and value ones joined: 4 dense layers a layer, 2 layers); the
  # saved variables are unchanged.
  assert len(copies[True]) == 2 * 4 * 2 and not copies[False]
  assert ("bert/encoder/layer_0/attention/self/query_key_value_kernel_"
          "bfloat16" in copies[True])
  assert ("bert/encoder/layer_0/attention/output/dense/kernel_bfloat16" in
          copies[True])
  assert saved[True] == saved[False]
  assert weight_casts[False] and not weight_casts[True]


@pytest.mark.parametrize("dtype", [
    tf.float32, pytest.param(tf.bfloat16, marks=pytest.mark.bf16_kernels)])
def test_joined_projections_match_the_three_dense_layers(dtype):
  x = np.random.RandomState(2).randn(2 * 5, 16).astype(np.float32)
  mask = np.ones([2, 5, 5], np.float32)
  mask[1, :, 3:] = 0
  outputs, names, matmuls = {}, {}, {}
  for joined in (False, True):
    with tf.Graph().as_default() as graph:
      tensor = tf.constant(x)
      out = modeling.attention_layer(
          tensor, tensor, tf.constant(mask), num_attention_heads=4,
          size_per_head=4, do_return_2d_tensor=True, batch_size=2,
          from_seq_length=5, to_seq_length=5,
          numerics=numerics.Numerics(compute_dtype=dtype,
                                     joined_projections=joined))
      variables = sorted(tf.global_variables(), key=lambda v: v.op.name)
      names[joined] = [(v.op.name, v.shape.as_list()) for v in variables]
      matmuls[joined] = sum(op.type == "MatMul"
                            for op in graph.get_operations())
      rng = np.random.RandomState(3)  # the same weights in both graphs
      with tf.Session() as sess:
        for v in variables:
          sess.run(v.assign(rng.randn(*v.shape.as_list()).astype(np.float32)
                            * 0.3))
        outputs[joined] = sess.run(tf.cast(out, tf.float32))
  assert names[True] == names[False]  # the same variables
  assert (matmuls[False], matmuls[True]) == (3, 1)
  tolerance = 1e-6 if dtype == tf.float32 else 3e-2
  np.testing.assert_allclose(outputs[True], outputs[False], atol=tolerance)
  assert np.abs(outputs[False]).max() > 0.1


def test_joined_projections_only_in_16_bit_prediction():
  config, ids, mask = _small_model_inputs()
  for dtype, training, joined in ((tf.bfloat16, False, True),
                                  (tf.bfloat16, True, False),
                                  (tf.float32, False, False)):
    with tf.Graph().as_default() as graph:
      modeling.BertModel(config, training, tf.constant(ids),
                         tf.constant(mask), numerics=_of(dtype, training))
      projections = [op.name for op in graph.get_operations()
                     if op.type == "MatMul" and "attention/self" in op.name]
    assert len(projections) == (1 if joined else 3) * 2, (dtype, training)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="self-attention"):
      modeling.attention_layer(tf.ones([4, 8]), tf.ones([4, 8]),
                               num_attention_heads=2, size_per_head=4,
                               batch_size=1, from_seq_length=4,
                               to_seq_length=4,
                               numerics=numerics.Numerics(
                                   joined_projections=True))


def _bias_gradient(values, dtype, summed_in_float):
  """The bias gradient of a BiasAdd whose output gradient is `values`."""
  with tf.Graph().as_default():
    dy = tf.constant(values, dtype)
    bias = tf.zeros([values.shape[-1]], dtype)
    context = (kernels.bias_gradients_summed_in_float() if summed_in_float
               else contextlib.nullcontext())
    with context:
      y = tf.nn.bias_add(tf.zeros_like(dy), bias)
    grad = tf.gradients(y, bias, dy)[0]
    types = [op.type for op in tf.get_default_graph().get_operations()
               if op.name.startswith("gradients/")]
    with tf.Session() as sess:
      return sess.run(grad).astype(np.float64), types


@pytest.mark.parametrize("shape", [[1600, 24], [40, 40, 24]])
def test_bias_gradients_summed_in_float(shape):
  values = np.random.RandomState(0).randn(*shape).astype(np.float32)
  as_bf16 = values.astype(tf.bfloat16.as_numpy_dtype).astype(np.float64)
  exact = as_bf16.reshape(-1, shape[-1]).sum(0)
  # One rounding to bfloat16 (8 significant bits): within half a step.
  half_step = 2.0 ** (np.floor(np.log2(np.abs(exact))) - 8)
  summed, types = _bias_gradient(values, tf.bfloat16, True)
  assert np.all(np.abs(summed - exact) <= half_step * 1.01)
  assert "BiasAddGrad" not in types
  # TensorFlow's own kernel adds up in bfloat16: steps off.
  default, types = _bias_gradient(values, tf.bfloat16, False)
  assert "BiasAddGrad" in types
  assert np.max(np.abs(default - exact) / half_step) > 4
  # Float32 keeps BiasAddGrad, the same numbers.
  f32, types = _bias_gradient(values, tf.float32, True)
  assert "BiasAddGrad" in types
  np.testing.assert_array_equal(f32, _bias_gradient(values, tf.float32,
                                                    False)[0])
