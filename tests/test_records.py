"""finetuning.records: padded and bucketed records, written and batched."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from finetuning import records

FIELDS = {"input_ids": records.SEQUENCE, "input_mask": records.SEQUENCE,
          "segment_ids": records.SEQUENCE, "label_ids": records.SCALAR}


def _feature(n, label):
  return {"input_ids": list(range(1, n + 1)), "input_mask": [1] * n,
          "segment_ids": [0] * n, "label_ids": label}


def _batches(input_fn, count):
  with tf.Graph().as_default():
    batch = tf.data.make_one_shot_iterator(input_fn()).get_next()
    with tf.Session() as sess:
      return [sess.run(batch) for _ in range(count)]


def test_padded_records_hold_max_seq_length_positions(tmp_path):
  fmt = records.RecordFormat(FIELDS, 8)
  path = str(tmp_path / "p.tf_record")
  assert fmt.write([_feature(3, 1), _feature(8, 0)], path) == 2
  (batch,) = _batches(fmt.input_fn(path, 2, training=False), 1)
  np.testing.assert_array_equal(batch["input_ids"],
                                [[1, 2, 3, 0, 0, 0, 0, 0],
                                 [1, 2, 3, 4, 5, 6, 7, 8]])
  np.testing.assert_array_equal(batch["input_mask"].sum(1), [3, 8])
  assert list(batch["label_ids"]) == [1, 0]
  assert batch["input_ids"].dtype == np.int32


def test_bucketed_batches_are_padded_to_a_multiple_of_8(tmp_path):
  fmt = records.RecordFormat(FIELDS, 32, bucketed=True)
  sizes = [3, 5, 11, 17, 9, 30]
  path = str(tmp_path / "p.tf_record")
  fmt.write([_feature(n, i) for i, n in enumerate(sizes)], path)
  batches = _batches(fmt.input_fn(path, 2, training=False), 3)
  assert [b["input_ids"].shape for b in batches] == [(2, 8), (2, 24),
                                                      (2, 32)]
  np.testing.assert_array_equal(batches[0]["input_ids"][0],
                                [1, 2, 3, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(batches[0]["input_mask"].sum(1), [3, 5])
  assert list(batches[2]["label_ids"]) == [4, 5]


def test_training_batches_group_similar_lengths(tmp_path):
  seq = 64
  fmt = records.RecordFormat(FIELDS, seq, bucketed=True)
  rng = np.random.RandomState(0)
  path = str(tmp_path / "t.tf_record")
  fmt.write([_feature(int(n), 0) for n in rng.randint(3, seq, size=200)],
            path)
  for b in _batches(fmt.input_fn(path, 4, training=True, seed=1), 20):
    real = b["input_mask"].sum(1)
    width = b["input_ids"].shape[1]
    assert width % 8 == 0 and width == -(-real.max() // 8) * 8
    # All members come from the same 8-wide length bucket.
    assert len(set((real - 1) // 8)) == 1


def test_describe_and_bad_features():
  fmt = records.RecordFormat(FIELDS, 16, bucketed=True)
  assert fmt.describe() == {"fields": dict(sorted(FIELDS.items())),
                            "max_seq_length": 16, "bucketed": True,
                            "multiple": 8}
  with pytest.raises(ValueError, match="more than max_seq_length 16"):
    fmt.encode(_feature(17, 0))
  with pytest.raises(ValueError, match="'extra' is not in the record format"):
    fmt.encode(dict(_feature(3, 0), extra=[1]))


@pytest.mark.parametrize("bucketed", [False, True])
def test_skipping_batches_continues_the_same_stream(tmp_path, bucketed):
  fmt = records.RecordFormat(FIELDS, 32, bucketed=bucketed)
  rng = np.random.RandomState(1)
  path = str(tmp_path / "s.tf_record")
  fmt.write([_feature(int(n), i) for i, n in
             enumerate(rng.randint(3, 32, size=50))], path)
  whole = _batches(fmt.input_fn(path, 4, training=True, seed=3), 30)
  later = _batches(fmt.input_fn(path, 4, training=True, seed=3,
                                skip_batches=12), 18)
  for a, b in zip(whole[12:], later):
    for name in FIELDS:
      np.testing.assert_array_equal(a[name], b[name])
