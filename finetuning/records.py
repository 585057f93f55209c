"""TFRecord files of model features, and how they are batched.

A feature is a dict from field name to a list of ints: the sequence fields
(`input_ids`, `input_mask`, `segment_ids`, per-position labels) as long as
the example is, unpadded; the scalar fields (a label, an id) as one int or a
one-element list. A `RecordFormat` knows the fields, `max_seq_length` and
whether batches are padded to it (the original) or bucketed by length; it
writes, parses and batches records, and describes itself for cache keys.
"""

import collections
import os

import tensorflow.compat.v1 as tf

from finetuning import packing

SEQUENCE = "sequence"
SCALAR = "scalar"


def _int64_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def feature_length(feature):
  """Number of real positions of a feature (the length of its input_ids)."""
  return len(feature["input_ids"])


class RecordFormat(object):
  """How features are stored and batched.

  Args:
    fields: {name: SEQUENCE or SCALAR}.
    max_seq_length: the longest sequence; padded records have this length.
    bucketed: store sequences unpadded and batch examples of similar length,
      each batch padded to its longest member rounded up to `multiple`.
      False: every record padded to `max_seq_length`, batches in file order
      (the original).
    multiple: see `bucketed`.
    packed: store sequences unpadded; a training batch is the same
      `batch_size` examples (in the shuffled order) as a padded one, packed
      several to a row (finetuning/packing.py). Implies unpadded storage;
      prediction packs in the predictor.
  """

  def __init__(self, fields, max_seq_length, bucketed=False, multiple=8,
               packed=False):
    self.fields = dict(fields)
    self.max_seq_length = int(max_seq_length)
    self.packed = bool(packed)
    self.bucketed = bool(bucketed) or self.packed
    self.multiple = int(multiple)
    self.sequence_names = sorted(n for n, k in self.fields.items()
                                 if k == SEQUENCE)

  def describe(self):
    """A JSON-able description (part of the feature cache key)."""
    described = {"fields": dict(sorted(self.fields.items())),
                 "max_seq_length": self.max_seq_length,
                 "bucketed": self.bucketed, "multiple": self.multiple}
    if self.packed:
      described["packed"] = True
    return described

  def encode(self, feature):
    """One serialized tf.train.Example of `feature`."""
    record = collections.OrderedDict()
    for name, values in feature.items():
      if name not in self.fields:
        raise ValueError("feature field %r is not in the record format %s" %
                         (name, sorted(self.fields)))
      if isinstance(values, int):
        values = [values]
      values = list(values)
      if self.fields[name] == SEQUENCE:
        if len(values) > self.max_seq_length:
          raise ValueError("%s has %d positions, more than max_seq_length %d"
                           % (name, len(values), self.max_seq_length))
        if not self.bucketed:
          values += [0] * (self.max_seq_length - len(values))
      record[name] = _int64_feature(values)
    example = tf.train.Example(features=tf.train.Features(feature=record))
    return example.SerializeToString()

  def write(self, features, path):
    """Writes an iterable of features to `path`, atomically; returns the count.
    """
    tmp = "%s.%d.tmp" % (path, os.getpid())
    count = 0
    try:
      with tf.io.TFRecordWriter(tmp) as writer:
        for feature in features:
          writer.write(self.encode(feature))
          count += 1
      os.replace(tmp, path)
    except BaseException:
      if os.path.exists(tmp):
        os.remove(tmp)
      raise
    return count

  def _spec(self):
    spec = {}
    for name, kind in self.fields.items():
      if kind == SCALAR:
        spec[name] = tf.FixedLenFeature([], tf.int64)
      elif self.bucketed:
        spec[name] = tf.VarLenFeature(tf.int64)
      else:
        spec[name] = tf.FixedLenFeature([self.max_seq_length], tf.int64)
    return spec

  def parse(self, record):
    """A serialized record as a dict of dense int32 tensors."""
    example = tf.parse_single_example(record, self._spec())
    out = {}
    for name, t in example.items():
      if isinstance(t, tf.SparseTensor):
        t = tf.sparse.to_dense(t)
      out[name] = tf.cast(t, tf.int32)
    return out

  def _pad_to_multiple(self, batch):
    n = tf.shape(batch[self.sequence_names[0]])[1]
    target = (n + self.multiple - 1) // self.multiple * self.multiple
    out = dict(batch)
    for name in self.sequence_names:
      out[name] = tf.pad(batch[name], [[0, 0], [0, target - n]])
    return out

  def _pack_batch(self, batch):
    """A padded batch of examples as packed rows (tf.numpy_function)."""
    names = self.sequence_names
    if any(self.fields[n] != SEQUENCE for n in self.fields):
      raise ValueError("only sequence fields can be packed")

    def pack(*arrays):
      lengths = [int(n) for n in arrays[-1]]
      rows, _ = packing.pack(dict(zip(names, arrays[:-1])), lengths,
                             self.max_seq_length, self.multiple)
      return [rows[n] for n in names + [packing.POSITION_IDS]]

    lengths = tf.reduce_sum(tf.cast(tf.not_equal(batch["input_mask"], 0),
                                    tf.int32), axis=1)
    packed = tf.numpy_function(pack, [batch[n] for n in names] + [lengths],
                               [tf.int32] * (len(names) + 1))
    out = {}
    for name, values in zip(names + [packing.POSITION_IDS], packed):
      values.set_shape([None, None])
      out[name] = values
    return out

  def batches(self, dataset, batch_size, training, drop_remainder=None):
    """Batches a dataset of parsed records.

    Training: padded records in order; bucketed ones grouped by length
    (buckets `multiple` wide); packed ones `batch_size` in order, packed.
    Not training: one pass in order.
    """
    if drop_remainder is None:
      drop_remainder = training
    if self.packed and training:
      d = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
      return d.map(self._pack_batch)
    if not self.bucketed:
      d = dataset.batch(batch_size, drop_remainder=drop_remainder)
    elif training:
      boundaries = list(range(self.multiple + 1, self.max_seq_length + 1,
                              self.multiple))
      d = dataset.bucket_by_sequence_length(
          lambda ex: tf.shape(ex["input_ids"])[0], boundaries,
          [batch_size] * (len(boundaries) + 1),
          drop_remainder=drop_remainder)
    else:
      d = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    if self.bucketed:
      d = d.map(self._pad_to_multiple)
    return d

  def input_fn(self, path, batch_size, training, seed=None,
               shuffle_buffer=100, skip_batches=0):
    """An Estimator input_fn over the records of `path`.

    Training repeats forever and shuffles with a buffer of `shuffle_buffer`
    (as the original) seeded by `seed`; otherwise one ordered pass.
    `skip_batches` starts the stream after that many batches: a run resumed
    at step k then sees the batches an uninterrupted run saw from step k.
    """

    def input_fn(params=None):
      del params
      d = tf.data.TFRecordDataset(path)
      if training:
        d = d.repeat()
        d = d.shuffle(buffer_size=shuffle_buffer, seed=seed)
      in_order = not self.bucketed or self.packed
      if skip_batches and in_order:
        d = d.skip(skip_batches * batch_size)  # cheap: records unparsed
      d = d.map(self.parse, num_parallel_calls=tf.data.experimental.AUTOTUNE)
      d = self.batches(d, batch_size, training)
      if skip_batches and not in_order:
        d = d.skip(skip_batches)  # buckets depend on what came before
      return d.prefetch(tf.data.experimental.AUTOTUNE)

    return input_fn
