# coding=utf-8
"""Kernels for an encoder that computes in bfloat16 (mixed precision).

Each computes what the original float32 graph computes, up to float
rounding, with fewer passes over the values than TensorFlow's op-by-op
bfloat16 graph: written-out GELU and layer-norm gradients, 16-bit dropout,
oneDNN's fused layer norm, the query/key/value projections as one matmul,
weights cast once for prediction, and bias gradients summed in float32.
Nothing here is switched on by itself: `numerics.Numerics` chooses which
kernels a graph uses and calls them. Speed measurements are in
bench/README.md.
"""

import contextlib
import functools

import numpy as np
import tensorflow.compat.v1 as tf


def written_out_gelu(exact):
  """BERT's tanh GELU (or the exact one when `exact`) for a 16-bit training graph: the value computed in float32 from the 16-bit
  input and rounded once, the derivative written out.

  TensorFlow differentiates the GELU formula op by op in bfloat16, about
  ten element-wise passes over the [tokens, intermediate_size] values;
  the written-out derivative reuses the forward pass's cdf (and tanh) and
  is computed in float32, whose element-wise kernels are faster on a CPU.
  """
  @tf.custom_gradient
  def fast_gelu(x):
    x32 = tf.cast(x, tf.float32)
    if exact:
      cdf = 0.5 * (1.0 + tf.math.erf(x32 * (1.0 / np.sqrt(2.0))))
    else:
      t = tf.tanh(np.sqrt(2 / np.pi) * (x32 + 0.044715 * x32 * x32 * x32))
      cdf = 0.5 * (1.0 + t)

    def grad(dy):
      if exact:  # d/dx x Phi(x) = Phi(x) + x phi(x)
        slope = cdf + x32 * (np.sqrt(0.5 / np.pi) *
                             tf.exp(-0.5 * tf.square(x32)))
      else:  # d/dx 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3)
        slope = cdf + (0.5 * x32 * (1.0 - tf.square(t)) * np.sqrt(2 / np.pi) *
                       (1.0 + 3 * 0.044715 * tf.square(x32)))
      return tf.cast(tf.cast(dy, tf.float32) * slope, x.dtype)

    return tf.cast(x32 * cdf, x.dtype), grad

  return fast_gelu


def half_word_dropout(input_tensor, dropout_prob, seed):
  """Stateless dropout whose mask takes 16 random bits per value.

  TensorFlow's dropout draws a whole random number per value; in bfloat16
  that number has 7 random bits, so a drop probability of 0.1 drops 13/128
  (0.1016) of the values. Here each 32-bit random word gives two values'
  masks: a value is dropped when its 16 bits are below
  round(dropout_prob * 65536), so the drop probability is within 1/131072
  of `dropout_prob`, from half the random numbers. Kept values are scaled
  by 1 / (1 - dropout_prob), as in `tf.nn.dropout`.

  The values are multiplied by the mask (0 or the scale), so the gradient
  is one multiplication too: the same numbers as selecting the scaled
  values (bit for bit, up to the sign of a dropped zero; a dropped
  infinity becomes NaN), cheaper than a select and its gradient.

  Args:
    input_tensor: the values, any shape.
    dropout_prob: the drop probability, in [0, 1).
    seed: int64 [2], the stateless seed.
  """
  shape = tf.shape(input_tensor)
  size = tf.size(input_tensor)
  words = tf.random.stateless_uniform(
      [(size + 1) // 2], seed=seed, minval=None, maxval=None,
      dtype=tf.uint32)
  halves = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size]
  keep = tf.reshape(halves, shape) >= int(round(dropout_prob * 65536))
  mask = tf.cast(keep, input_tensor.dtype) * tf.cast(
      1.0 / (1.0 - dropout_prob), input_tensor.dtype)
  return input_tensor * mask


def _bias_add_summed_in_float(op, grad):
  """BiasAdd's gradient, the bias part a float-accumulated sum in 16 bits.

  TensorFlow's BiasAddGrad kernel adds bfloat16 values up in bfloat16 (over
  1,600 tokens its sums were off by up to 5 % of the largest), where
  `tf.reduce_sum` accumulates in float32 and rounds once. Float32
  gradients keep BiasAddGrad.
  """
  data_format = op.get_attr("data_format")
  if (grad.dtype.base_dtype == tf.float32 or
      data_format not in (b"NHWC", "NHWC")):
    return grad, tf.raw_ops.BiasAddGrad(out_backprop=grad,
                                        data_format=data_format)
  rows = (list(range(grad.shape.ndims - 1)) if grad.shape.ndims is not None
          else tf.range(tf.rank(grad) - 1))
  return grad, tf.reduce_sum(grad, rows)


@functools.lru_cache(maxsize=None)
def _bias_gradient_name():
  """Registers `_bias_add_summed_in_float` (once a process), its name."""
  name = "BiasAddSummedInFloat"
  tf.RegisterGradient(name)(_bias_add_summed_in_float)
  return name


@contextlib.contextmanager
def bias_gradients_summed_in_float():
  """Inside this context, BiasAdd ops get `_bias_add_summed_in_float`.

  For 16-bit training (bfloat16): its bias gradients are exact sums rounded
  once, instead of BiasAddGrad's bfloat16 running sums; the float32 ones
  are unchanged.
  """
  with tf.get_default_graph().gradient_override_map(
      {"BiasAdd": _bias_gradient_name()}):
    yield


@tf.custom_gradient
def layer_norm_with_gradient(x, gamma, beta):
  """Layer norm (epsilon 1e-12) of float32 `x` with its gradient written out.

  TensorFlow differentiates the layer norm op by op; the written-out
  gradient, from the normalized values and 1/std of the forward pass,
  dx = (dy g - mean(dy g) - x^ mean(dy g x^)) / std, takes fewer passes
  over the [tokens, hidden] values. The same numbers up to float rounding.
  """
  mean, variance = tf.nn.moments(x, [-1], keepdims=True)
  inv_std = tf.math.rsqrt(variance + 1e-12)
  normalized = (x - mean) * inv_std

  def grad(dy):
    scaled = dy * gamma
    dx = inv_std * (
        scaled - tf.reduce_mean(scaled, -1, keepdims=True) -
        normalized * tf.reduce_mean(scaled * normalized, -1, keepdims=True))
    rows = list(range(x.shape.ndims - 1))
    return dx, tf.reduce_sum(dy * normalized, rows), tf.reduce_sum(dy, rows)

  return normalized * gamma + beta, grad


def fused_layer_norm(x, gamma, beta):
  """Layer norm (epsilon 1e-12) of float32 `x` by oneDNN's kernel, no gradient.

  TensorFlow's op-by-op layer norm makes about eight passes over the
  values; oneDNN's kernel (`_MklLayerNorm`, which TensorFlow's x86 builds
  register but Grappler only fuses for constant gamma and beta) makes two.
  The same numbers up to float rounding. For prediction, where
  `fused_layer_norm_available`.
  """
  flat = tf.reshape(x, [-1, x.shape[-1]])
  op = tf.get_default_graph().create_op(
      "_MklLayerNorm", [flat, tf.identity(gamma), tf.identity(beta)],
      [tf.float32], name="fused_layer_norm",
      attrs={"T": tf.AttrValue(type=tf.float32.as_datatype_enum),
             "epsilon": tf.AttrValue(f=1e-12)})
  return tf.reshape(op.outputs[0], tf.shape(x))


@functools.lru_cache(maxsize=None)
def fused_layer_norm_available():
  """Whether this TensorFlow has a CPU kernel for `fused_layer_norm`."""
  from tensorflow.python.framework import kernels  # pylint: disable=g-import-not-at-top
  registered = kernels.get_registered_kernels_for_op("_MklLayerNorm")
  return any(k.device_type == "CPU" and
             any(tf.float32.as_datatype_enum in c.allowed_values.list.type
                 for c in k.constraint)
             for k in registered.kernel)


def cast_copy(copies, name, cast, dtype):
  """`cast()` kept as a local variable (one per `name` in `copies`).

  The variable is initialized from the weight by
  `tf.local_variables_initializer()`, after the model is restored, and
  read at every batch: for prediction, where the weights do not change, a
  dense layer computing in bfloat16 then does not cast its float32 kernel
  and bias at every run of the graph. The numbers are those of casting
  every time.
  """
  if name not in copies:
    copies[name] = tf.Variable(
        cast(), trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES],
        name=name.rsplit("/", 1)[-1] + "_" + dtype.name)
  return copies[name]


def joined_projections(tensor_2d, kernels, biases, weight, batch_size,
                       seq_length, num_attention_heads, size_per_head):
  """Query, key and value [batch, heads, seq, size_per_head] of `tensor_2d`
  by one matmul over the three kernels side by side, then one transpose.

  `kernels`, `biases`: the query, key and value variables, in that order.
  `weight(variables, name)`: them concatenated along their last axis, in
  the dtype of `tensor_2d`. The same numbers as three dense layers up to
  float rounding; one [hidden, 3 hidden] matmul instead of three.
  """
  scope = tf.get_variable_scope().name + "/query_key_value_"
  joined = tf.nn.bias_add(
      tf.matmul(tensor_2d, weight(kernels, scope + "kernel")),
      weight(biases, scope + "bias"))
  joined = tf.reshape(joined, [batch_size, seq_length, 3, num_attention_heads,
                               size_per_head])
  return tf.unstack(tf.transpose(joined, [2, 0, 3, 1, 4]))
