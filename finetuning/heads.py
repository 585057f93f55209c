"""What the NER and RE heads share: the output projection and the loss.

Variables `output_weights [num_labels, hidden]` and `output_bias
[num_labels]` at the top scope, as in BioBERT's fine-tuned checkpoints.
"""

import tensorflow.compat.v1 as tf

import modeling
from finetuning import estimator


def output_logits(layer, num_labels, is_training, dropout_prob=0.1):
  """Logits of `layer` (any rank, last axis hidden) for `num_labels` classes.

  Dropout `dropout_prob` is applied in training, as the original heads did.
  """
  hidden_size = layer.shape[-1]
  output_weights = tf.get_variable(
      "output_weights", [num_labels, hidden_size],
      initializer=tf.truncated_normal_initializer(stddev=0.02))
  output_bias = tf.get_variable(
      "output_bias", [num_labels], initializer=tf.zeros_initializer())
  if is_training:
    layer = modeling.dropout(layer, dropout_prob)
  flat = tf.reshape(layer, [-1, hidden_size])
  logits = tf.matmul(flat, tf.cast(output_weights, flat.dtype),
                     transpose_b=True)
  logits = tf.nn.bias_add(logits, tf.cast(output_bias, flat.dtype))
  logits = tf.cast(logits, tf.float32)
  out_shape = tf.concat([tf.shape(layer)[:-1], [num_labels]], axis=0)
  return tf.reshape(logits, out_shape)


def cross_entropy(logits, label_ids, num_labels):
  """(log-probabilities, cross-entropy per position) of `logits`.

  `label_ids` has the shape of `logits` without its last axis; the loss is
  computed as the original heads did (one-hot times log-softmax).
  """
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  one_hot_labels = tf.one_hot(label_ids, depth=num_labels, dtype=tf.float32)
  return log_probs, -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)


def classifier_head_fn(num_labels):
  """A sequence classifier: softmax on the pooled [CLS] output.

  The head of run_re.py (and of yes/no questions in run_qa.py): variables
  `output_weights`/`output_bias`, mean cross-entropy over the batch;
  predicts `probabilities` and `per_example_loss`. Features need
  `label_ids` (a scalar per example).
  """

  def head_fn(model, features, is_training):
    logits = output_logits(model.get_pooled_output(), num_labels,
                           is_training)
    _, per_example_loss = cross_entropy(logits, features["label_ids"],
                                        num_labels)
    loss = tf.reduce_mean(per_example_loss)
    predictions = {"probabilities": tf.nn.softmax(logits, axis=-1),
                   "per_example_loss": per_example_loss}
    return estimator.HeadOutput(loss, predictions)

  return head_fn


def span_logits(sequence_output):
  """(start logits, end logits) [batch, seq] of an extractive QA head.

  Variables `cls/squad/output_weights [2, hidden]` and
  `cls/squad/output_bias [2]`, as BERT's SQuAD code.
  """
  shape = tf.shape(sequence_output)
  hidden_size = sequence_output.shape[-1]
  output_weights = tf.get_variable(
      "cls/squad/output_weights", [2, hidden_size],
      initializer=tf.truncated_normal_initializer(stddev=0.02))
  output_bias = tf.get_variable("cls/squad/output_bias", [2],
                                initializer=tf.zeros_initializer())
  matrix = tf.reshape(sequence_output, [-1, hidden_size])
  logits = tf.matmul(matrix, tf.cast(output_weights, matrix.dtype),
                     transpose_b=True)
  logits = tf.cast(tf.nn.bias_add(logits, tf.cast(output_bias, logits.dtype)),
                   tf.float32)
  logits = tf.reshape(logits, [shape[0], shape[1], 2])
  logits = tf.transpose(logits, [2, 0, 1])
  start_logits, end_logits = tf.unstack(logits, axis=0)
  return start_logits, end_logits
