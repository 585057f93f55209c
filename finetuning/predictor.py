"""A predictor that keeps its session: the graph is built and the model
restored once, then batches are fed straight from Python.

`Estimator.predict` builds the graph and restores the checkpoint on every
call, and goes through a TFRecord file; the predictor does neither after
its first call, which matters for short prediction runs, dev evaluations
during training and raw-text tagging. Batches are made exactly as the
Estimator input pipeline makes them when padded (to max_seq_length, in
order). For a bucketed RecordFormat the features are sorted by length and
batched by area: each batch is padded to its longest member, and holds as
many features as fit in `batch_size x max_seq_length` positions (what one
padded batch takes), so short sentences go many to a batch. A feature's
outputs do not depend on its batch mates (tests/test_predictor.py).
"""

import numpy as np
import tensorflow.compat.v1 as tf

from finetuning import packing
from finetuning import records


def plan_batches(lengths, batch_size, record_format):
  """The batches of features of these lengths: lists of indices, in run order.

  Padded formats: `batch_size` features at a time, in order. Bucketed ones:
  sorted by length, each batch as many features as fit in `batch_size x
  max_seq_length` positions when padded to the batch's longest.
  """
  if not record_format.bucketed:
    return [list(range(start, min(start + batch_size, len(lengths))))
            for start in range(0, len(lengths), batch_size)]
  order = sorted(range(len(lengths)), key=lambda i: lengths[i])
  area = batch_size * record_format.max_seq_length
  batches, current = [], []
  for i in order:
    # Sorted: the newest feature is the longest and sets the width.
    if current and (len(current) + 1) * lengths[i] > area:
      batches.append(current)
      current = []
    current.append(i)
  if current:
    batches.append(current)
  return batches


class Predictor(object):
  """Predictions of one checkpoint for lists of features.

  Args:
    model_fn: the Estimator model_fn (`estimator.model_fn_builder`).
    checkpoint: the checkpoint prefix to restore.
    record_format: the `records.RecordFormat` of the features.
    session_config: a ConfigProto (`devices.session_config`), or None.
  """

  def __init__(self, model_fn, checkpoint, record_format,
               session_config=None):
    self.checkpoint = checkpoint
    self.format = record_format
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.inputs = {}
      for name, kind in record_format.fields.items():
        shape = [None, None] if kind == records.SEQUENCE else [None]
        self.inputs[name] = tf.placeholder(tf.int32, shape, name=name)
      if record_format.packed:
        self.inputs[packing.POSITION_IDS] = tf.placeholder(
            tf.int32, [None, None], name=packing.POSITION_IDS)
      tf.train.get_or_create_global_step()
      spec = model_fn(dict(self.inputs), None, tf.estimator.ModeKeys.PREDICT)
      self.outputs = spec.predictions
      saver = tf.train.Saver(tf.global_variables())
      # Made before the session first runs: it marks the initializers as
      # control inputs, a change TensorFlow warns about on ops already run.
      init_locals = tf.local_variables_initializer()
      self.session = tf.Session(graph=self.graph, config=session_config)
      saver.restore(self.session, checkpoint)
      # After the restore: local variables hold weights cast once to the
      # compute dtype (numerics.Numerics.weights_cast_once).
      self.session.run(init_locals)
    self.graph.finalize()

  def _batch(self, features, width):
    feed = {}
    for name, kind in self.format.fields.items():
      values = [f[name] for f in features]
      if kind == records.SCALAR:
        feed[self.inputs[name]] = np.array(
            [v if isinstance(v, int) else v[0] for v in values], np.int32)
      else:
        block = np.zeros([len(values), width], np.int32)
        for i, v in enumerate(values):
          block[i, :len(v)] = v
        feed[self.inputs[name]] = block
    return feed

  def _predict_packed(self, features, batch_size):
    """Packed rows, `batch_size` rows a batch; per-position outputs only."""
    lengths = [records.feature_length(f) for f in features]
    names = self.format.sequence_names
    rows, places = packing.pack({n: [f[n] for f in features] for n in names},
                                lengths, self.format.max_seq_length,
                                self.format.multiple)
    n_rows = len(rows[packing.POSITION_IDS])
    outputs = {}
    for start in range(0, n_rows, batch_size):
      feed = {self.inputs[n]: v[start:start + batch_size]
              for n, v in rows.items()}
      out = self.session.run(self.outputs, feed)
      for k, v in out.items():
        if v.ndim >= 2 and v.shape[1] == rows[packing.POSITION_IDS].shape[1]:
          outputs.setdefault(k, []).append(v)  # per position: unpackable
    outputs = {k: np.concatenate(v) for k, v in outputs.items()}
    return packing.unpack(outputs, places, lengths)

  def predict(self, features, batch_size):
    """One result dict (NumPy values) per feature, in the order given.

    Packed: only the per-position outputs, each as long as its feature.
    """
    features = list(features)
    if self.format.packed:
      return self._predict_packed(features, batch_size)
    results = [None] * len(features)
    lengths = [records.feature_length(f) for f in features]
    for chunk in plan_batches(lengths, batch_size, self.format):
      batch = [features[i] for i in chunk]
      if self.format.bucketed:
        width = max(lengths[i] for i in chunk)
      else:
        width = self.format.max_seq_length
      out = self.session.run(self.outputs, self._batch(batch, width))
      for row, i in enumerate(chunk):
        results[i] = {k: v[row] for k, v in out.items()}
    return results

  def close(self):
    self.session.close()
