"""A predictor that keeps its session: the graph is built and the model
restored once, then batches are fed straight from Python.

`Estimator.predict` builds the graph and restores the checkpoint on every
call, and goes through a TFRecord file; the predictor does neither after
its first call, which matters for short prediction runs, dev evaluations
during training and raw-text tagging. Batches are made exactly as the
Estimator input pipeline makes them (padded to max_seq_length, or, for a
bucketed RecordFormat, sorted by length and padded to the batch's longest
member rounded up to a multiple of 8), so the outputs are the same.
"""

import numpy as np
import tensorflow.compat.v1 as tf

from finetuning import records


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
      tf.train.get_or_create_global_step()
      spec = model_fn(dict(self.inputs), None, tf.estimator.ModeKeys.PREDICT,
                      None)
      self.outputs = spec.predictions
      saver = tf.train.Saver(tf.global_variables())
      self.session = tf.Session(graph=self.graph, config=session_config)
      saver.restore(self.session, checkpoint)
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

  def predict(self, features, batch_size):
    """One result dict (NumPy values) per feature, in the order given."""
    features = list(features)
    if self.format.bucketed:
      order = sorted(range(len(features)),
                     key=lambda i: records.feature_length(features[i]))
    else:
      order = list(range(len(features)))
    results = [None] * len(features)
    multiple = self.format.multiple
    for start in range(0, len(order), batch_size):
      chunk = order[start:start + batch_size]
      batch = [features[i] for i in chunk]
      if self.format.bucketed:
        longest = max(records.feature_length(f) for f in batch)
        width = -(-longest // multiple) * multiple
      else:
        width = self.format.max_seq_length
      out = self.session.run(self.outputs, self._batch(batch, width))
      for row, i in enumerate(chunk):
        results[i] = {k: v[row] for k, v in out.items()}
    return results

  def close(self):
    self.session.close()
