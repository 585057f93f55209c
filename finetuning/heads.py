"""The task heads: one registry that training, prediction and export ask.

A `Head` says how to build the head on the encoder (training and
prediction), what a SavedModel serves, and how the head looks in Hugging
Face's format (the architecture and its own weights' names). A task names
its head (`Task.head`), run_manifest.json records it, export_model.py reads
it back. Adding a head is one `Head(...)` in HEADS (docs/extending.md).

The classifier heads keep BioBERT's variables `output_weights [num_labels,
hidden]` and `output_bias [num_labels]` at the top scope; the span head
BERT's SQuAD `cls/squad/output_weights [2, hidden]` and `.../output_bias`.
"""

import collections

import tensorflow.compat.v1 as tf

import modeling
from finetuning import estimator
from finetuning import packing

Head = collections.namedtuple(
    "Head", ["name", "build", "serving", "hf_architecture", "hf_variables",
             "uses_pooler"])
Head.__doc__ = """A task head.

name: recorded in run_manifest.json.
build(num_labels): `head_fn(model, features, is_training)` -> HeadOutput,
  for training and prediction.
serving(model, num_labels): {output name: Tensor} of an exported
  SavedModel, from the model's inputs alone.
hf_architecture: the transformers class written in config.json.
hf_variables: {our variable: Hugging Face weight name} of the head's own
  weights (stored [out, in], as transformers stores linear layers).
uses_pooler: whether the head reads the pooled [CLS] output (exported with
  the pooler; transformers' token and span classes have none).
"""


def output_logits(layer, num_labels, is_training, dropout_prob=0.1,
                  numerics=None):
  """Logits of `layer` (any rank, last axis hidden) for `num_labels` classes.

  Dropout `dropout_prob` is applied in training, as the original heads did
  (by the encoder's `numerics`).
  """
  hidden_size = layer.shape[-1]
  output_weights = tf.get_variable(
      "output_weights", [num_labels, hidden_size],
      initializer=tf.truncated_normal_initializer(stddev=0.02))
  output_bias = tf.get_variable(
      "output_bias", [num_labels], initializer=tf.zeros_initializer())
  if is_training:
    layer = modeling.dropout(layer, dropout_prob, numerics)
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
                           is_training, numerics=model.numerics)
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


def token_classifier_head_fn(num_labels):
  """Per-token softmax (run_ner.py), the loss summed over all positions."""

  def head_fn(model, features, is_training):
    logits = output_logits(model.get_sequence_output(), num_labels,
                           is_training, numerics=model.numerics)
    log_probs, per_position_loss = cross_entropy(
        logits, features["label_ids"], num_labels)
    loss = tf.reduce_sum(per_position_loss)
    if packing.POSITION_IDS in features:
      # Packed rows: a row's sum would mix examples; the predictor cuts
      # per-position outputs back into examples.
      predictions = {"log_probs": log_probs,
                     "position_loss": per_position_loss}
    else:
      predictions = {"log_probs": log_probs,
                     "loss": tf.reduce_sum(per_position_loss, axis=-1)}
    return estimator.HeadOutput(loss, predictions, loss_is_sum=True)

  return head_fn


def span_head_fn(num_labels=None):
  """Start and end logits over the positions (run_qa.py, BERT's SQuAD)."""
  del num_labels

  def head_fn(model, features, is_training):
    del is_training
    start_logits, end_logits = span_logits(model.get_sequence_output())
    loss = None
    if "start_positions" in features:
      seq_length = tf.shape(start_logits)[1]

      def compute_loss(logits, positions):
        one_hot_positions = tf.one_hot(positions, depth=seq_length,
                                       dtype=tf.float32)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        return -tf.reduce_mean(tf.reduce_sum(one_hot_positions * log_probs,
                                             axis=-1))

      loss = (compute_loss(start_logits, features["start_positions"]) +
              compute_loss(end_logits, features["end_positions"])) / 2.0
    predictions = {"unique_ids": features["unique_ids"],
                   "start_logits": start_logits, "end_logits": end_logits}
    return estimator.HeadOutput(loss, predictions)

  return head_fn


def _class_outputs(layer_of):
  def serving(model, num_labels):
    logits = output_logits(layer_of(model), num_labels, False)
    return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}
  return serving


def _span_outputs(model, num_labels=None):
  del num_labels
  start, end = span_logits(model.get_sequence_output())
  return {"start_logits": start, "end_logits": end,
          "start_probabilities": tf.nn.softmax(start, axis=-1),
          "end_probabilities": tf.nn.softmax(end, axis=-1)}


_CLASSIFIER_WEIGHTS = {"output_weights": "classifier.weight",
                       "output_bias": "classifier.bias"}

def encoder_head_fn(num_labels):
  """The [CLS] vector of the last layer, as a normalizer compares mentions
  with names (tasks/norm.py trains it with its own loss)."""
  del num_labels

  def head_fn(model, features, is_training):
    del features, is_training
    return estimator.HeadOutput(None, _encoder_outputs(model))
  return head_fn


def _encoder_outputs(model, num_labels=None):
  del num_labels
  return {"embedding": tf.cast(model.get_sequence_output()[:, 0, :],
                               tf.float32)}


HEADS = collections.OrderedDict((h.name, h) for h in [
    Head("token_classifier", token_classifier_head_fn,
         _class_outputs(lambda m: m.get_sequence_output()),
         "BertForTokenClassification", _CLASSIFIER_WEIGHTS, False),
    Head("sequence_classifier", classifier_head_fn,
         _class_outputs(lambda m: m.get_pooled_output()),
         "BertForSequenceClassification", _CLASSIFIER_WEIGHTS, True),
    Head("span", span_head_fn, _span_outputs, "BertForQuestionAnswering",
         {"cls/squad/output_weights": "qa_outputs.weight",
          "cls/squad/output_bias": "qa_outputs.bias"}, False),
    Head("concept_encoder", encoder_head_fn, _encoder_outputs, "BertModel",
         {}, False),
])


def of_run(manifest):
  """The head of a recorded run (runs recorded before heads were named:
  by their task)."""
  name = manifest.get("head") or {"ner": "token_classifier",
                                  "qa": "span"}.get(manifest["task"],
                                                    "sequence_classifier")
  return HEADS[name]
