# coding=utf-8
"""How the encoder computes, decided once: float32 as the original, or bfloat16.

A `Numerics` is made once per graph by `Numerics.of` from the precision
(`finetuning.devices.mixed_precision`), the mode (training or prediction),
the dropout seed and what this TensorFlow offers. It is then

- passed to `modeling.BertModel` as its one `numerics` argument; the
  model's layers ask it for dropout, layer norms, weights in the compute
  dtype, the GELU, the attention softmax and the joined projections;
- applied in one scope (`Numerics.scope`) around the model and the head,
  for what must hold while their ops are made (bias gradients);
- read by the optimizer (`fused_optimizer`).

Float32 (`Numerics()`) is the original graph op for op, with dropout keyed
to the step when a seed is given (exact resume). The bfloat16 kernels are
in `bfloat16_kernels.py`; `modeling.py` does not know them.
"""

import contextlib
import dataclasses
from typing import Any, Optional

import tensorflow.compat.v1 as tf

import bfloat16_kernels as kernels
import modeling

LAYER_NORMS = ("original", "written_out_gradient", "fused")


@dataclasses.dataclass(frozen=True)
class Numerics:
  """The numerics of one graph.

  compute_dtype: the dtype of the encoder's dense layers, attention
    matmuls and activations; variables, embeddings, the residual stream,
    layer norms, the pooler and every output stay float32.
  layer_norm: "original" (TensorFlow's ops, as the original), or for
    bfloat16 "written_out_gradient" (training) or "fused" (prediction).
  softmax_dtype: the attention softmax's dtype.
  joined_projections: query, key and value by one matmul.
  written_out_gelu: the GELU and its derivative computed in float32.
  weights_cast_once: dense weights cast to the compute dtype once, after
    the restore, not at every batch (prediction).
  bias_gradients_in_float: bias gradients summed in float32 (training).
  fused_optimizer: the update by fused kernels
    (`optimization.AdamWeightDecayOptimizer(fused=True)`).
  dropout_seed, step: with a seed, dropout masks are a function of (seed,
    step, which dropout), so a run resumed at step k draws the masks an
    uninterrupted run drew at step k.
  """
  compute_dtype: Any = tf.float32
  layer_norm: str = "original"
  softmax_dtype: Any = tf.float32
  joined_projections: bool = False
  written_out_gelu: bool = False
  weights_cast_once: bool = False
  bias_gradients_in_float: bool = False
  fused_optimizer: bool = False
  dropout_seed: Optional[int] = None
  step: Any = None
  # What one graph accumulates: dropouts made so far, weight copies.
  _graph: dict = dataclasses.field(default_factory=dict, compare=False,
                                   repr=False)

  def __post_init__(self):
    if self.layer_norm not in LAYER_NORMS:
      raise ValueError("layer norm %r is not one of %s" %
                       (self.layer_norm, ", ".join(LAYER_NORMS)))
    if self.dropout_seed is not None and self.step is None:
      raise ValueError("a dropout seed needs the step tensor")

  @classmethod
  def of(cls, precision, is_training, seed=None, step=None):
    """The numerics of a graph.

    precision: "bfloat16" computes the encoder in bfloat16; anything else
      ("float16" on a GPU is TensorFlow's graph rewrite, None) keeps the
      original float32 graph.
    is_training: training or prediction.
    seed, step: key training dropout to the step (`step` is only read
      when training with a seed).
    """
    seeded = dict(dropout_seed=int(seed), step=step) if (
        is_training and seed is not None) else {}
    if precision != "bfloat16":
      return cls(**seeded)
    if is_training:
      return cls(compute_dtype=tf.bfloat16,
                 layer_norm="written_out_gradient",
                 written_out_gelu=True, bias_gradients_in_float=True,
                 fused_optimizer=True, **seeded)
    return cls(compute_dtype=tf.bfloat16,
               layer_norm=("fused" if kernels.fused_layer_norm_available()
                           else "original"),
               softmax_dtype=tf.bfloat16, joined_projections=True,
               weights_cast_once=True)

  @contextlib.contextmanager
  def scope(self):
    """What must hold while the model's and head's ops are made."""
    with (kernels.bias_gradients_summed_in_float()
          if self.bias_gradients_in_float else contextlib.nullcontext()):
      yield

  def dropout(self, input_tensor, dropout_prob):
    """Dropout with a drop probability `dropout_prob` (> 0).

    Float32: TensorFlow's dropout, stateless from the step when seeded.
    16-bit tensors: `bfloat16_kernels.half_word_dropout`.
    """
    sixteen_bit = input_tensor.dtype.base_dtype in (tf.bfloat16, tf.float16)
    if self.dropout_seed is None and not sixteen_bit:
      return tf.nn.dropout(input_tensor, rate=dropout_prob)
    seed = (self._next_dropout_seed() if self.dropout_seed is not None else
            tf.random.uniform([2], maxval=tf.int64.max, dtype=tf.int64))
    if sixteen_bit:
      return kernels.half_word_dropout(input_tensor, dropout_prob, seed)
    return tf.nn.experimental.stateless_dropout(input_tensor, rate=dropout_prob,
                                                seed=seed)

  def _next_dropout_seed(self):
    """The stateless seed [2] of the graph's next dropout."""
    n = self._graph.get("dropouts", 0)
    self._graph["dropouts"] = n + 1
    return tf.stack([
        tf.constant((self.dropout_seed * 1009 + n) % (1 << 62), tf.int64),
        tf.cast(self.step, tf.int64)])

  def normalize(self, x, gamma, beta):
    """Layer norm (epsilon 1e-12) of float32 `x`, by `layer_norm`."""
    if self.layer_norm == "written_out_gradient":
      return kernels.layer_norm_with_gradient(x, gamma, beta)
    if self.layer_norm == "fused":
      return kernels.fused_layer_norm(x, gamma, beta)
    mean, variance = tf.nn.moments(x, [-1], keepdims=True)
    return tf.nn.batch_normalization(
        x, mean, variance, offset=beta, scale=gamma, variance_epsilon=1e-12)

  def activation(self, activation):
    """The intermediate activation as this graph computes it."""
    if self.written_out_gelu and activation in (modeling.gelu,
                                                modeling.gelu_erf):
      return kernels.written_out_gelu(exact=activation is modeling.gelu_erf)
    return activation

  def softmax(self, scores):
    """The attention softmax, in `softmax_dtype`, returned in the dtype of
    `scores` (casts to the same dtype are no-ops)."""
    return tf.cast(tf.nn.softmax(tf.cast(scores, self.softmax_dtype)),
                   scores.dtype)

  def weight(self, variable, dtype):
    """`variable` as `dtype`: itself, a cast, or its copy cast once."""
    if variable.dtype.base_dtype == dtype:
      return variable
    return self._cast(variable.op.name, lambda: tf.cast(variable, dtype),
                      dtype)

  def joined_weight(self, variables, dtype, name):
    """`variables` concatenated along their last axis, as `dtype`."""
    return self._cast(name, lambda: tf.cast(tf.concat(variables, -1), dtype),
                      dtype)

  def joined_projections_of(self, tensor_2d, batch_size, seq_length,
                            num_attention_heads, size_per_head,
                            kernel_initializer):
    """Query, key and value [batch, heads, seq, size_per_head] of
    self-attention by one matmul, from the variables `query/`, `key/` and
    `value/` `kernel` and `bias` of three dense layers."""
    width = num_attention_heads * size_per_head
    kernels_, biases = [], []
    for name in ("query", "key", "value"):
      with tf.variable_scope(name):
        kernel, bias = modeling.dense_variables(tensor_2d.shape[-1], width,
                                                kernel_initializer)
      kernels_.append(kernel)
      biases.append(bias)
    return kernels.joined_projections(
        tensor_2d, kernels_, biases,
        lambda variables, name: self.joined_weight(variables, tensor_2d.dtype,
                                                   name),
        batch_size, seq_length, num_attention_heads, size_per_head)

  def _cast(self, name, cast, dtype):
    if not self.weights_cast_once:
      return cast()
    return kernels.cast_copy(self._graph.setdefault("copies", {}), name, cast,
                             dtype)
