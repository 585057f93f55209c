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
  tmp = output_file + ".tmp"
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
  """Parses one serialized Example, casting int64 to int32 (TPU/GPU friendly)."""
  example = tf.parse_single_example(record, name_to_features)
  for name in list(example.keys()):
    t = example[name]
    if t.dtype == tf.int64:
      t = tf.cast(t, tf.int32)
    example[name] = t
  return example


def fixed_length_spec(lengths):
  """Maps {name: length} to the `tf.FixedLenFeature` spec of int64 lists."""
  spec = {}
  for name, length in lengths.items():
    shape = [] if length is None else [length]
    spec[name] = tf.FixedLenFeature(shape, tf.int64)
  return spec


def input_fn_builder(input_file, lengths, is_training, drop_remainder,
                     batch_size, seed=None, shuffle_buffer=100):
  """Creates an Estimator `input_fn` over a TFRecord file of features.

  Args:
    input_file: TFRecord path written by `write_features`.
    lengths: {feature name: list length, or None for a scalar}.
    is_training: repeat forever and shuffle (buffer `shuffle_buffer`, as the
      original) when True; one ordered pass when False.
    drop_remainder: drop the last partial batch.
    batch_size: examples per batch.
    seed: shuffling seed (None: a different order each run).
  """
  name_to_features = fixed_length_spec(lengths)

  def input_fn(params=None):
    del params
    d = tf.data.TFRecordDataset(input_file)
    if is_training:
      d = d.repeat()
      d = d.shuffle(buffer_size=shuffle_buffer, seed=seed)
    d = d.map(lambda record: _decode_record(record, name_to_features),
              num_parallel_calls=tf.data.experimental.AUTOTUNE)
    d = d.batch(batch_size, drop_remainder=drop_remainder)
    d = d.prefetch(tf.data.experimental.AUTOTUNE)
    return d

  return input_fn
