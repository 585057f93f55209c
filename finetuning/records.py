"""TFRecord files of model features and the Estimator input functions.

A feature is a dict from name to a list of ints (all of the same length for
a given name). The runners build features; this module stores and reads them.
"""

import collections
import os

import tensorflow.compat.v1 as tf


def _int64_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def write_features(features, output_file):
  """Writes an iterable of feature dicts to a TFRecord file, atomically.

  Returns:
    The number of records written.
  """
  tmp = "%s.%d.tmp" % (output_file, os.getpid())
  count = 0
  with tf.io.TFRecordWriter(tmp) as writer:
    for feature in features:
      record = collections.OrderedDict()
      for name, values in feature.items():
        if isinstance(values, int):
          values = [values]
        record[name] = _int64_feature(values)
      example = tf.train.Example(features=tf.train.Features(feature=record))
      writer.write(example.SerializeToString())
      count += 1
  os.replace(tmp, output_file)
  return count


def _decode_record(record, name_to_features):
  """Parses one serialized Example into int32 tensors (TPU/GPU friendly).

  Variable-length fields (bucketed records) come back dense.
  """
  example = tf.parse_single_example(record, name_to_features)
  out = {}
  for name, t in example.items():
    if isinstance(t, tf.SparseTensor):
      t = tf.sparse.to_dense(t)
    out[name] = tf.cast(t, tf.int32) if t.dtype == tf.int64 else t
  return out


def fixed_length_spec(lengths):
  """Maps {name: length} to the `tf.FixedLenFeature` spec of int64 lists."""
  spec = {}
  for name, length in lengths.items():
    shape = [] if length is None else [length]
    spec[name] = tf.FixedLenFeature(shape, tf.int64)
  return spec


def trim_padding(feature, lengths):
  """The feature without the padding of its sequence fields.

  The real length is the number of 1s in `input_mask`; every field whose
  length equals the padded length is cut to it.
  """
  n = sum(feature["input_mask"])
  return {name: (values[:n] if lengths.get(name) is not None else values)
          for name, values in feature.items()}


def feature_length(feature):
  """Number of real positions of a feature (its `input_mask` ones)."""
  return sum(feature["input_mask"])


def bucketed_spec(lengths):
  """Variable-length sequence fields, fixed scalar fields."""
  spec = {}
  for name, length in lengths.items():
    spec[name] = (tf.FixedLenFeature([], tf.int64) if length is None else
                  tf.VarLenFeature(tf.int64))
  return spec


def _pad_to_multiple(batch, names, multiple):
  """Pads the sequence fields of a batch to a multiple of `multiple`."""
  n = tf.shape(batch[names[0]])[1]
  target = (n + multiple - 1) // multiple * multiple
  out = dict(batch)
  for name in names:
    out[name] = tf.pad(batch[name], [[0, 0], [0, target - n]])
  return out


def input_fn_builder(input_file, lengths, is_training, drop_remainder,
                     batch_size, seed=None, shuffle_buffer=100,
                     bucketed=False, max_seq_length=None, multiple=8):
  """Creates an Estimator `input_fn` over a TFRecord file of features.

  Args:
    input_file: TFRecord path written by `write_features`.
    lengths: {feature name: list length, or None for a scalar}.
    is_training: repeat forever and shuffle (buffer `shuffle_buffer`, as the
      original) when True; one ordered pass when False.
    drop_remainder: drop the last partial batch.
    batch_size: examples per batch.
    seed: shuffling seed (None: a different order each run).
    bucketed: the records hold unpadded sequences (`trim_padding`). Batches
      are padded only to their longest member, rounded up to `multiple`; in
      training, examples are grouped with others of similar length (buckets
      `multiple` wide up to `max_seq_length`).
  """
  seq_names = sorted(n for n, l in lengths.items() if l is not None)
  name_to_features = (bucketed_spec(lengths) if bucketed else
                      fixed_length_spec(lengths))
  decode = lambda record: _decode_record(record, name_to_features)

  def input_fn(params=None):
    del params
    d = tf.data.TFRecordDataset(input_file)
    if is_training:
      d = d.repeat()
      d = d.shuffle(buffer_size=shuffle_buffer, seed=seed)
    d = d.map(decode, num_parallel_calls=tf.data.experimental.AUTOTUNE)
    if not bucketed:
      d = d.batch(batch_size, drop_remainder=drop_remainder)
    elif is_training:
      top = max_seq_length or max(l for l in lengths.values() if l)
      boundaries = list(range(multiple + 1, top + 1, multiple))
      d = d.bucket_by_sequence_length(
          lambda ex: tf.shape(ex["input_ids"])[0], boundaries,
          [batch_size] * (len(boundaries) + 1),
          drop_remainder=drop_remainder)
    else:
      d = d.padded_batch(batch_size, drop_remainder=drop_remainder)
    if bucketed:
      d = d.map(lambda batch: _pad_to_multiple(batch, seq_names, multiple))
    d = d.prefetch(tf.data.experimental.AUTOTUNE)
    return d

  return input_fn
