# coding=utf-8
"""The BERT encoder, with the variable names and numerics of Google's BERT.

This is the model that BioBERT checkpoints were trained with. It runs in graph
mode through ``tensorflow.compat.v1`` on TensorFlow 2.15 and uses core ops only
(no ``tf.contrib``): layer norm, dense layers and dropout are written here with
the variable names that the original ``tf.contrib``/``tf.layers`` code created,
so that ``model.ckpt-1000000`` files load unchanged.
"""

import copy
import json
import math

import numpy as np
import six
import tensorflow.compat.v1 as tf


class BertConfig(object):
  """Hyper-parameters of a BERT model (the contents of `bert_config.json`)."""

  def __init__(self,
               vocab_size,
               hidden_size=768,
               num_hidden_layers=12,
               num_attention_heads=12,
               intermediate_size=3072,
               hidden_act="gelu",
               hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1,
               max_position_embeddings=512,
               type_vocab_size=16,
               initializer_range=0.02):
    """Builds a config; the defaults are those of BERT-base."""
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  @classmethod
  def from_dict(cls, json_object):
    """Builds a config from a Python dict of parameters."""
    config = BertConfig(vocab_size=None)
    for (key, value) in six.iteritems(json_object):
      config.__dict__[key] = value
    return config

  @classmethod
  def from_json_file(cls, json_file):
    """Builds a config from a JSON file of parameters."""
    with tf.gfile.GFile(json_file, "r") as reader:
      text = reader.read()
    try:
      parsed = json.loads(text)
    except ValueError as e:
      raise ValueError("%s: not a valid BERT config JSON file (%s)" %
                       (json_file, e))
    if not isinstance(parsed, dict):
      raise ValueError("%s: expected a JSON object of BERT parameters" %
                       json_file)
    return cls.from_dict(parsed)

  def to_dict(self):
    """Serializes this instance to a Python dictionary."""
    return copy.deepcopy(self.__dict__)

  def to_json_string(self):
    """Serializes this instance to a JSON string."""
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


class BertModel(object):
  """BERT model ("Bidirectional Encoder Representations from Transformers").

  Example usage:

  ```python
  input_ids = tf.constant([[31, 51, 99], [15, 5, 0]])
  input_mask = tf.constant([[1, 1, 1], [1, 1, 0]])
  token_type_ids = tf.constant([[0, 0, 1], [0, 2, 0]])
  config = modeling.BertConfig(vocab_size=32000, hidden_size=512,
    num_hidden_layers=8, num_attention_heads=6, intermediate_size=1024)
  model = modeling.BertModel(config=config, is_training=True,
    input_ids=input_ids, input_mask=input_mask, token_type_ids=token_type_ids)
  pooled_output = model.get_pooled_output()
  ```
  """

  def __init__(self,
               config,
               is_training,
               input_ids,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=False,
               scope=None,
               position_ids=None,
               attention_mask=None,
               numerics=None):
    """Builds the graph of the encoder.

    Args:
      config: `BertConfig`.
      is_training: bool. False turns dropout off.
      input_ids: int32 Tensor [batch_size, seq_length].
      input_mask: (optional) int32 Tensor [batch_size, seq_length]; 1 for real
        tokens, 0 for padding.
      token_type_ids: (optional) int32 Tensor [batch_size, seq_length].
      use_one_hot_embeddings: (optional) bool. Look up word embeddings by a
        one-hot matmul instead of `tf.gather` (faster on TPUs).
      scope: (optional) variable scope. Defaults to "bert".
      position_ids: (optional) int32 Tensor [batch_size, seq_length]: the
        position of each token (default 0, 1, 2, ... in every row). Packed
        rows restart it for each example (finetuning/packing.py).
      attention_mask: (optional) float Tensor [batch_size, seq_length,
        seq_length], 1 where a position may attend to another; replaces
        the mask made from `input_mask` (for packed rows:
        `create_attention_mask_from_example_ids`).
      numerics: (optional) `numerics.Numerics`: how the layers compute
        (bfloat16, dropout keyed to the training step). Default: the
        original float32 graph, op for op.
    """
    config = copy.deepcopy(config)
    self.numerics = numerics
    if not is_training:
      config.hidden_dropout_prob = 0.0
      config.attention_probs_dropout_prob = 0.0

    input_shape = get_shape_list(input_ids, expected_rank=2)
    batch_size = input_shape[0]
    seq_length = input_shape[1]

    if input_mask is None:
      input_mask = tf.ones(shape=[batch_size, seq_length], dtype=tf.int32)
    if token_type_ids is None:
      token_type_ids = tf.zeros(shape=[batch_size, seq_length], dtype=tf.int32)

    with tf.variable_scope(scope, default_name="bert"):
      with tf.variable_scope("embeddings"):
        (self.embedding_output, self.embedding_table) = embedding_lookup(
            input_ids=input_ids,
            vocab_size=config.vocab_size,
            embedding_size=config.hidden_size,
            initializer_range=config.initializer_range,
            word_embedding_name="word_embeddings",
            use_one_hot_embeddings=use_one_hot_embeddings)
        self.embedding_output = embedding_postprocessor(
            input_tensor=self.embedding_output,
            use_token_type=True,
            token_type_ids=token_type_ids,
            token_type_vocab_size=config.type_vocab_size,
            token_type_embedding_name="token_type_embeddings",
            use_position_embeddings=True,
            position_embedding_name="position_embeddings",
            initializer_range=config.initializer_range,
            max_position_embeddings=config.max_position_embeddings,
            dropout_prob=config.hidden_dropout_prob,
            position_ids=position_ids,
            numerics=numerics)

      with tf.variable_scope("encoder"):
        if attention_mask is None:
          attention_mask = create_attention_mask_from_input_mask(
              input_ids, input_mask)
        self.all_encoder_layers = transformer_model(
            input_tensor=self.embedding_output,
            attention_mask=attention_mask,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            intermediate_act_fn=get_activation(config.hidden_act),
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
            initializer_range=config.initializer_range,
            do_return_all_layers=True,
            numerics=numerics)

      self.sequence_output = self.all_encoder_layers[-1]
      with tf.variable_scope("pooler"):
        # The pooled output is a dense + tanh over the [CLS] position.
        first_token_tensor = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
        self.pooled_output = dense(
            first_token_tensor,
            config.hidden_size,
            activation=tf.tanh,
            kernel_initializer=create_initializer(config.initializer_range))

  def get_pooled_output(self):
    """The [CLS] representation after the pooler, [batch_size, hidden_size]."""
    return self.pooled_output

  def get_sequence_output(self):
    """The final hidden layer, [batch_size, seq_length, hidden_size]."""
    return self.sequence_output

  def get_all_encoder_layers(self):
    """The outputs of every Transformer layer, a list of 3-D tensors."""
    return self.all_encoder_layers

  def get_embedding_output(self):
    """Word + token type + position embeddings after layer norm (and dropout)."""
    return self.embedding_output

  def get_embedding_table(self):
    """The word embedding table, [vocab_size, hidden_size]."""
    return self.embedding_table


def gelu(x):
  """Gaussian Error Linear Unit, in the tanh approximation that BERT uses."""
  cdf = 0.5 * (1.0 + tf.tanh(
      (np.sqrt(2 / np.pi) * (x + 0.044715 * tf.pow(x, 3)))))
  return x * cdf


def gelu_erf(x):
  """The exact GELU, x * Phi(x), that Hugging Face calls "gelu".

  Used by checkpoints converted from the Hugging Face format
  (`hidden_act: "gelu_erf"` in their bert_config.json).
  """
  return 0.5 * x * (1.0 + tf.math.erf(x / np.sqrt(2.0)))


def get_activation(activation_string):
  """Maps a config string to a function.

  "gelu" is BERT's tanh approximation (as in Google's checkpoints),
  "gelu_erf" the exact form; also "relu", "tanh" and "linear".
  """
  if not isinstance(activation_string, six.string_types):
    return activation_string
  if not activation_string:
    return None
  act = activation_string.lower()
  if act == "linear":
    return None
  if act == "relu":
    return tf.nn.relu
  if act == "gelu":
    return gelu
  if act == "gelu_erf":
    return gelu_erf
  if act == "tanh":
    return tf.tanh
  raise ValueError("Unsupported activation: %s" % act)


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Matches graph variables to the variables stored in a checkpoint.

  Returns:
    (assignment_map, initialized_variable_names): an ordered map from
    checkpoint name to graph name for every variable present in both, and a
    dict of the graph names so matched (each with and without ":0").
  """
  name_to_variable = {}
  for var in tvars:
    name = var.name
    if name.endswith(":0"):
      name = name[:-2]
    name_to_variable[name] = var

  assignment_map = {}
  initialized_variable_names = {}
  for (name, _) in tf.train.list_variables(init_checkpoint):
    if name not in name_to_variable:
      continue
    assignment_map[name] = name
    initialized_variable_names[name] = 1
    initialized_variable_names[name + ":0"] = 1
  # Keep the checkpoint's order so that logs are stable.
  ordered = {}
  for name in sorted(assignment_map):
    ordered[name] = assignment_map[name]
  return (ordered, initialized_variable_names)


def dropout(input_tensor, dropout_prob, numerics=None):
  """Dropout with a *drop* probability; a no-op when it is None or 0.

  TensorFlow's dropout, as in the original, or the `numerics`' dropout.
  """
  if dropout_prob is None or dropout_prob == 0.0:
    return input_tensor
  if numerics is not None:
    return numerics.dropout(input_tensor, dropout_prob)
  return tf.nn.dropout(input_tensor, rate=dropout_prob)


def layer_norm(input_tensor, name=None, numerics=None):
  """Layer norm over the last axis, epsilon 1e-12, variables beta and gamma.

  Same variables (`<name>/beta`, `<name>/gamma`) and computation as the
  `tf.contrib.layers.layer_norm` call of the original code, in float32
  whatever the input's dtype (`numerics` may compute it otherwise).
  """
  with tf.variable_scope(name, default_name="LayerNorm"):
    params_shape = input_tensor.shape[-1:]
    beta = tf.get_variable(
        "beta", shape=params_shape, dtype=tf.float32,
        initializer=tf.zeros_initializer())
    gamma = tf.get_variable(
        "gamma", shape=params_shape, dtype=tf.float32,
        initializer=tf.ones_initializer())
    x = tf.cast(input_tensor, tf.float32)
    if numerics is not None:
      out = numerics.normalize(x, gamma, beta)
    else:
      mean, variance = tf.nn.moments(x, [-1], keepdims=True)
      out = tf.nn.batch_normalization(
          x, mean, variance, offset=beta, scale=gamma, variance_epsilon=1e-12)
    return tf.cast(out, input_tensor.dtype)


def layer_norm_and_dropout(input_tensor, dropout_prob, name=None,
                           numerics=None):
  """Runs layer normalization followed by dropout."""
  output_tensor = layer_norm(input_tensor, name, numerics)
  return dropout(output_tensor, dropout_prob, numerics)


def create_initializer(initializer_range=0.02):
  """A truncated normal initializer with the given standard deviation."""
  return tf.truncated_normal_initializer(stddev=initializer_range)


def dense(input_tensor, units, activation=None, kernel_initializer=None,
          name=None, numerics=None):
  """A fully connected layer with variables `<name>/kernel` and `<name>/bias`.

  Equivalent to `tf.layers.dense` on a 2-D input, whose default name "dense"
  the original checkpoints carry. The float32 weights are read in the
  input's dtype (as the `numerics` provide them).
  """
  with tf.variable_scope(name, default_name="dense"):
    kernel, bias = dense_variables(input_tensor.shape[-1], units,
                                   kernel_initializer)
    if input_tensor.dtype.base_dtype != tf.float32:
      kernel = numerics.weight(kernel, input_tensor.dtype)
      bias = numerics.weight(bias, input_tensor.dtype)
    output = tf.nn.bias_add(tf.matmul(input_tensor, kernel), bias)
    if activation is not None:
      output = activation(output)
    return output


def dense_variables(in_units, units, kernel_initializer):
  """The float32 variables `kernel` [in_units, units] and `bias` [units] of
  a dense layer, in the current variable scope."""
  kernel = tf.get_variable(
      "kernel", shape=[in_units, units], dtype=tf.float32,
      initializer=kernel_initializer)
  bias = tf.get_variable(
      "bias", shape=[units], dtype=tf.float32,
      initializer=tf.zeros_initializer())
  return kernel, bias


def embedding_lookup(input_ids,
                     vocab_size,
                     embedding_size=128,
                     initializer_range=0.02,
                     word_embedding_name="word_embeddings",
                     use_one_hot_embeddings=False):
  """Looks up word embeddings for an id tensor.

  Returns:
    (output, embedding_table): float Tensor [batch_size, seq_length,
    embedding_size] and the table variable.
  """
  # Accept [batch_size, seq_length] by adding the trailing axis the original
  # code expects.
  if input_ids.shape.ndims == 2:
    input_ids = tf.expand_dims(input_ids, axis=[-1])

  embedding_table = tf.get_variable(
      name=word_embedding_name,
      shape=[vocab_size, embedding_size],
      initializer=create_initializer(initializer_range))

  flat_input_ids = tf.reshape(input_ids, [-1])
  if use_one_hot_embeddings:
    one_hot_input_ids = tf.one_hot(flat_input_ids, depth=vocab_size)
    output = tf.matmul(one_hot_input_ids, embedding_table)
  else:
    output = tf.gather(embedding_table, flat_input_ids)

  input_shape = get_shape_list(input_ids)
  output = tf.reshape(output,
                      input_shape[0:-1] + [input_shape[-1] * embedding_size])
  return (output, embedding_table)


def embedding_postprocessor(input_tensor,
                            use_token_type=False,
                            token_type_ids=None,
                            token_type_vocab_size=16,
                            token_type_embedding_name="token_type_embeddings",
                            use_position_embeddings=True,
                            position_embedding_name="position_embeddings",
                            initializer_range=0.02,
                            max_position_embeddings=512,
                            dropout_prob=0.1,
                            position_ids=None,
                            numerics=None):
  """Adds token type and position embeddings, then layer norm and dropout.

  Positions are 0, 1, 2, ... in every row, or `position_ids` when given.
  """
  input_shape = get_shape_list(input_tensor, expected_rank=3)
  batch_size = input_shape[0]
  seq_length = input_shape[1]
  width = input_shape[2]

  output = input_tensor

  if use_token_type:
    if token_type_ids is None:
      raise ValueError("`token_type_ids` must be specified if"
                       "`use_token_type` is True.")
    token_type_table = tf.get_variable(
        name=token_type_embedding_name,
        shape=[token_type_vocab_size, width],
        initializer=create_initializer(initializer_range))
    # The vocabulary of token types is tiny: a one-hot matmul is fastest.
    flat_token_type_ids = tf.reshape(token_type_ids, [-1])
    one_hot_ids = tf.one_hot(flat_token_type_ids, depth=token_type_vocab_size)
    token_type_embeddings = tf.matmul(one_hot_ids, token_type_table)
    token_type_embeddings = tf.reshape(token_type_embeddings,
                                       [batch_size, seq_length, width])
    output += token_type_embeddings

  if use_position_embeddings:
    if isinstance(seq_length, int) and seq_length > max_position_embeddings:
      raise ValueError(
          "Sequence length %d is longer than max_position_embeddings %d of "
          "the BERT config" % (seq_length, max_position_embeddings))
    full_position_embeddings = tf.get_variable(
        name=position_embedding_name,
        shape=[max_position_embeddings, width],
        initializer=create_initializer(initializer_range))
    if position_ids is not None:
      position_embeddings = tf.gather(full_position_embeddings, position_ids)
    else:
      # Positions 0..seq_length-1, broadcast over the batch.
      position_embeddings = tf.slice(full_position_embeddings, [0, 0],
                                     [seq_length, -1])
      num_dims = len(output.shape.as_list())
      position_broadcast_shape = [1] * (num_dims - 2) + [seq_length, width]
      position_embeddings = tf.reshape(position_embeddings,
                                       position_broadcast_shape)
    output += tf.cast(position_embeddings, output.dtype)

  output = layer_norm_and_dropout(output, dropout_prob, numerics=numerics)
  return output


def create_attention_mask_from_input_mask(from_tensor, to_mask):
  """Builds a 3-D attention mask [batch, from_seq, to_seq] from a 2-D mask."""
  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  batch_size = from_shape[0]
  from_seq_length = from_shape[1]

  to_shape = get_shape_list(to_mask, expected_rank=2)
  to_seq_length = to_shape[1]

  to_mask = tf.cast(
      tf.reshape(to_mask, [batch_size, 1, to_seq_length]), tf.float32)
  # Every "from" position may attend to every real "to" position.
  broadcast_ones = tf.ones(
      shape=[batch_size, from_seq_length, 1], dtype=tf.float32)
  mask = broadcast_ones * to_mask
  return mask


def create_attention_mask_from_example_ids(example_ids):
  """The block-diagonal mask [batch, seq, seq] of packed rows.

  `example_ids` [batch, seq] numbers the examples of each row from 1 (0 is
  padding); a position attends to the positions of its own example only.
  """
  same = tf.equal(tf.expand_dims(example_ids, 2),
                  tf.expand_dims(example_ids, 1))
  real = tf.expand_dims(tf.greater(example_ids, 0), 1)
  return tf.cast(tf.logical_and(same, real), tf.float32)


def attention_layer(from_tensor,
                    to_tensor,
                    attention_mask=None,
                    num_attention_heads=1,
                    size_per_head=512,
                    query_act=None,
                    key_act=None,
                    value_act=None,
                    attention_probs_dropout_prob=0.0,
                    initializer_range=0.02,
                    do_return_2d_tensor=False,
                    batch_size=None,
                    from_seq_length=None,
                    to_seq_length=None,
                    numerics=None):
  """Multi-headed scaled dot-product attention from `from_tensor` to `to_tensor`.

  Masked positions (mask 0) get -10000 added to their scores before the
  softmax, so they receive (almost) no attention. `numerics` (optional):
  the projections and matmuls run in its compute dtype, the softmax and
  dropout as it says, and the query, key and value projections of
  self-attention may be one matmul (`bfloat16_kernels.joined_projections`,
  the same variables); the result is in the compute dtype.

  Returns:
    float Tensor [batch_size, from_seq_length, num_heads * size_per_head], or
    [batch_size * from_seq_length, num_heads * size_per_head] when
    `do_return_2d_tensor`.
  """

  def transpose_for_scores(input_tensor, batch_size, num_attention_heads,
                           seq_length, width):
    output_tensor = tf.reshape(
        input_tensor, [batch_size, seq_length, num_attention_heads, width])
    return tf.transpose(output_tensor, [0, 2, 1, 3])

  compute_dtype = numerics.compute_dtype if numerics else tf.float32
  self_attention = to_tensor is from_tensor
  from_tensor = tf.cast(from_tensor, compute_dtype)  # no-op in float32
  to_tensor = (from_tensor if self_attention else
               tf.cast(to_tensor, compute_dtype))

  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  to_shape = get_shape_list(to_tensor, expected_rank=[2, 3])

  if len(from_shape) != len(to_shape):
    raise ValueError(
        "The rank of `from_tensor` must match the rank of `to_tensor`.")

  if len(from_shape) == 3:
    batch_size = from_shape[0]
    from_seq_length = from_shape[1]
    to_seq_length = to_shape[1]
  elif len(from_shape) == 2:
    if (batch_size is None or from_seq_length is None or to_seq_length is None):
      raise ValueError(
          "When passing in rank 2 tensors to attention_layer, the values "
          "for `batch_size`, `from_seq_length`, and `to_seq_length` "
          "must all be specified.")

  from_tensor_2d = reshape_to_matrix(from_tensor)
  to_tensor_2d = reshape_to_matrix(to_tensor)

  if numerics is not None and numerics.joined_projections:
    if not self_attention or query_act or key_act or value_act:
      raise ValueError("joined projections need self-attention without "
                       "projection activations")
    query_layer, key_layer, value_layer = numerics.joined_projections_of(
        from_tensor_2d, batch_size, from_seq_length, num_attention_heads,
        size_per_head, create_initializer(initializer_range))
  else:
    query_layer = dense(
        from_tensor_2d, num_attention_heads * size_per_head,
        activation=query_act, name="query",
        kernel_initializer=create_initializer(initializer_range),
        numerics=numerics)
    key_layer = dense(
        to_tensor_2d, num_attention_heads * size_per_head,
        activation=key_act, name="key",
        kernel_initializer=create_initializer(initializer_range),
        numerics=numerics)
    value_layer = dense(
        to_tensor_2d, num_attention_heads * size_per_head,
        activation=value_act, name="value",
        kernel_initializer=create_initializer(initializer_range),
        numerics=numerics)

    query_layer = transpose_for_scores(query_layer, batch_size,
                                       num_attention_heads, from_seq_length,
                                       size_per_head)
    key_layer = transpose_for_scores(key_layer, batch_size,
                                     num_attention_heads, to_seq_length,
                                     size_per_head)
    value_layer = transpose_for_scores(value_layer, batch_size,
                                       num_attention_heads, to_seq_length,
                                       size_per_head)

  # [B, N, F, T]
  attention_scores = tf.matmul(query_layer, key_layer, transpose_b=True)
  attention_scores = tf.multiply(attention_scores,
                                 1.0 / math.sqrt(float(size_per_head)))

  if attention_mask is not None:
    attention_mask = tf.expand_dims(attention_mask, axis=[1])
    adder = (1.0 - tf.cast(attention_mask, attention_scores.dtype)) * -10000.0
    attention_scores += adder

  if numerics is not None:
    attention_probs = numerics.softmax(attention_scores)
  else:
    attention_probs = tf.nn.softmax(attention_scores)
  attention_probs = dropout(attention_probs, attention_probs_dropout_prob,
                            numerics)

  context_layer = tf.matmul(attention_probs, value_layer)
  context_layer = tf.transpose(context_layer, [0, 2, 1, 3])

  if do_return_2d_tensor:
    context_layer = tf.reshape(
        context_layer,
        [batch_size * from_seq_length, num_attention_heads * size_per_head])
  else:
    context_layer = tf.reshape(
        context_layer,
        [batch_size, from_seq_length, num_attention_heads * size_per_head])
  return context_layer


def transformer_model(input_tensor,
                      attention_mask=None,
                      hidden_size=768,
                      num_hidden_layers=12,
                      num_attention_heads=12,
                      intermediate_size=3072,
                      intermediate_act_fn=gelu,
                      hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1,
                      initializer_range=0.02,
                      do_return_all_layers=False,
                      numerics=None):
  """The Transformer encoder of "Attention is All You Need", as in BERT.

  `numerics` (optional, `numerics.Numerics`): the dense layers, attention
  and activation run in its compute dtype; the residual stream and layer
  norms stay float32.

  Returns:
    The final layer [batch_size, seq_length, hidden_size], or the list of all
    layers when `do_return_all_layers`.
  """
  if hidden_size % num_attention_heads != 0:
    raise ValueError(
        "The hidden size (%d) is not a multiple of the number of attention "
        "heads (%d)" % (hidden_size, num_attention_heads))

  attention_head_size = int(hidden_size / num_attention_heads)
  input_shape = get_shape_list(input_tensor, expected_rank=3)
  batch_size = input_shape[0]
  seq_length = input_shape[1]
  input_width = input_shape[2]

  if input_width != hidden_size:
    raise ValueError("The width of the input tensor (%d) != hidden size (%d)" %
                     (input_width, hidden_size))

  compute_dtype = numerics.compute_dtype if numerics else tf.float32
  if numerics is not None:
    intermediate_act_fn = numerics.activation(intermediate_act_fn)

  # Layers run on 2-D [batch*seq, width] tensors to avoid reshapes per layer.
  prev_output = reshape_to_matrix(input_tensor)

  all_layer_outputs = []
  for layer_idx in range(num_hidden_layers):
    with tf.variable_scope("layer_%d" % layer_idx):
      layer_input = prev_output

      with tf.variable_scope("attention"):
        with tf.variable_scope("self"):
          attention_output = attention_layer(
              from_tensor=layer_input,
              to_tensor=layer_input,
              attention_mask=attention_mask,
              num_attention_heads=num_attention_heads,
              size_per_head=attention_head_size,
              attention_probs_dropout_prob=attention_probs_dropout_prob,
              initializer_range=initializer_range,
              do_return_2d_tensor=True,
              batch_size=batch_size,
              from_seq_length=seq_length,
              to_seq_length=seq_length,
              numerics=numerics)

        with tf.variable_scope("output"):
          attention_output = dense(
              attention_output, hidden_size,
              kernel_initializer=create_initializer(initializer_range),
              numerics=numerics)
          attention_output = dropout(attention_output, hidden_dropout_prob,
                                     numerics)
          attention_output = layer_norm(
              tf.cast(attention_output, layer_input.dtype) + layer_input,
              numerics=numerics)

      with tf.variable_scope("intermediate"):
        intermediate_output = dense(
            tf.cast(attention_output, compute_dtype), intermediate_size,
            activation=intermediate_act_fn,
            kernel_initializer=create_initializer(initializer_range),
            numerics=numerics)

      with tf.variable_scope("output"):
        layer_output = dense(
            intermediate_output, hidden_size,
            kernel_initializer=create_initializer(initializer_range),
            numerics=numerics)
        layer_output = dropout(layer_output, hidden_dropout_prob, numerics)
        layer_output = layer_norm(
            tf.cast(layer_output, attention_output.dtype) + attention_output,
            numerics=numerics)
        prev_output = layer_output
        all_layer_outputs.append(layer_output)

  if do_return_all_layers:
    return [reshape_from_matrix(layer_output, input_shape)
            for layer_output in all_layer_outputs]
  return reshape_from_matrix(prev_output, input_shape)


def get_shape_list(tensor, expected_rank=None, name=None):
  """The shape of a tensor as a list: Python ints where static, else tensors."""
  if name is None:
    name = tensor.name

  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)

  shape = tensor.shape.as_list()

  non_static_indexes = []
  for (index, dim) in enumerate(shape):
    if dim is None:
      non_static_indexes.append(index)

  if not non_static_indexes:
    return shape

  dyn_shape = tf.shape(tensor)
  for index in non_static_indexes:
    shape[index] = dyn_shape[index]
  return shape


def reshape_to_matrix(input_tensor):
  """Reshapes a >= rank 2 tensor to a rank 2 tensor (a matrix)."""
  ndims = input_tensor.shape.ndims
  if ndims < 2:
    raise ValueError("Input tensor must have at least rank 2. Shape = %s" %
                     (input_tensor.shape))
  if ndims == 2:
    return input_tensor

  width = input_tensor.shape[-1]
  output_tensor = tf.reshape(input_tensor, [-1, width])
  return output_tensor


def reshape_from_matrix(output_tensor, orig_shape_list):
  """Reshapes a rank 2 tensor back to its original rank >= 2 tensor."""
  if len(orig_shape_list) == 2:
    return output_tensor

  output_shape = get_shape_list(output_tensor)

  orig_dims = orig_shape_list[0:-1]
  width = output_shape[-1]

  return tf.reshape(output_tensor, orig_dims + [width])


def assert_rank(tensor, expected_rank, name=None):
  """Raises a ValueError if the tensor rank is not of the expected rank."""
  if name is None:
    name = tensor.name

  expected_rank_dict = {}
  if isinstance(expected_rank, six.integer_types):
    expected_rank_dict[expected_rank] = True
  else:
    for x in expected_rank:
      expected_rank_dict[x] = True

  actual_rank = tensor.shape.ndims
  if actual_rank not in expected_rank_dict:
    scope_name = tf.get_variable_scope().name
    raise ValueError(
        "For the tensor `%s` in scope `%s`, the actual rank "
        "`%d` (shape = %s) is not equal to the expected rank `%s`" %
        (name, scope_name, actual_rank, str(tensor.shape), str(expected_rank)))
