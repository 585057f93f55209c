"""finetuning.packing: rows of several examples, and the model reading them."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import modeling
from finetuning import packing
from finetuning import records


def test_plan_first_fit_longest_first():
  places, fill = packing.plan([3, 7, 2, 5, 4], 8)
  # 7 -> row 0; 5 -> row 1; 4 -> row 2; 3 -> row 1 (5+3); 2 -> row 2.
  assert places == [(1, 5), (0, 0), (2, 4), (1, 0), (2, 0)]
  assert fill == [7, 8, 6]
  with pytest.raises(ValueError, match="does not fit"):
    packing.plan([9], 8)


def test_pack_and_unpack():
  ids = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11, 12]]
  labels = [[1, 1, 1], [2] * 7, [3, 3]]
  masks = [[1] * len(x) for x in ids]
  rows, places = packing.pack({"input_ids": ids, "label_ids": labels,
                               "input_mask": masks}, [3, 7, 2], 8,
                              multiple=4)
  # Row 0: the 7; row 1: the 3 then the 2; width 8 (fullest row 7 -> 8).
  np.testing.assert_array_equal(rows["input_ids"], [
      [4, 5, 6, 7, 8, 9, 10, 0], [1, 2, 3, 11, 12, 0, 0, 0]])
  np.testing.assert_array_equal(rows["input_mask"], [
      [1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 2, 2, 0, 0, 0]])
  np.testing.assert_array_equal(rows["position_ids"], [
      [0, 1, 2, 3, 4, 5, 6, 0], [0, 1, 2, 0, 1, 0, 0, 0]])
  back = packing.unpack({"input_ids": rows["input_ids"],
                         "label_ids": rows["label_ids"]}, places, [3, 7, 2])
  assert [list(b["input_ids"]) for b in back] == ids
  assert [list(b["label_ids"]) for b in back] == labels


def test_block_diagonal_mask():
  with tf.Graph().as_default(), tf.Session() as sess:
    m = sess.run(modeling.create_attention_mask_from_example_ids(
        tf.constant([[1, 1, 2, 0]])))
  # Padding (id 0) attends to nothing; its outputs are never read.
  np.testing.assert_array_equal(m[0], [[1, 1, 0, 0], [1, 1, 0, 0],
                                       [0, 0, 1, 0], [0, 0, 0, 0]])


def _encode(config, ids, mask, seg, positions=None, packed=False):
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    model = modeling.BertModel(
        config, False, tf.constant(ids), tf.constant(mask),
        tf.constant(seg),
        position_ids=None if positions is None else tf.constant(positions),
        attention_mask=(modeling.create_attention_mask_from_example_ids(
            tf.constant(mask)) if packed else None))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return sess.run(model.get_sequence_output())


def test_packed_rows_give_each_example_its_own_outputs():
  config = modeling.BertConfig(vocab_size=60, hidden_size=32,
                               num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=64)
  rng = np.random.RandomState(0)
  lengths = [5, 9, 3, 12, 4]
  examples = [list(rng.randint(1, 60, n)) for n in lengths]
  # Padded, one example a row (the original).
  padded = np.zeros([len(lengths), 16], np.int32)
  mask = np.zeros_like(padded)
  for i, ex in enumerate(examples):
    padded[i, :len(ex)] = ex
    mask[i, :len(ex)] = 1
  want = _encode(config, padded, mask, np.zeros_like(padded))
  rows, places = packing.pack(
      {"input_ids": examples, "input_mask": [[1] * n for n in lengths],
       "segment_ids": [[0] * n for n in lengths]}, lengths, 16)
  assert len(rows["input_ids"]) < len(lengths)
  got = _encode(config, rows["input_ids"], rows["input_mask"],
                rows["segment_ids"], rows["position_ids"], packed=True)
  back = packing.unpack({"out": got}, places, lengths)
  for i, n in enumerate(lengths):
    np.testing.assert_allclose(back[i]["out"], want[i, :n], atol=2e-5)


def test_training_batches_are_the_same_examples_packed():
  fmt = records.RecordFormat({"input_ids": records.SEQUENCE,
                              "input_mask": records.SEQUENCE}, 16,
                             packed=True)
  assert fmt.bucketed and fmt.describe()["packed"]
  features = [{"input_ids": [10 + i] * n, "input_mask": [1] * n}
              for i, n in enumerate([5, 9, 3, 12, 4, 7])]
  with tf.Graph().as_default():
    d = tf.data.Dataset.from_generator(
        lambda: iter([{k: np.array(v, np.int32) for k, v in f.items()}
                      for f in features]),
        output_types={"input_ids": tf.int32, "input_mask": tf.int32},
        output_shapes={"input_ids": [None], "input_mask": [None]})
    batch = tf.data.make_one_shot_iterator(
        fmt.batches(d, 3, training=True)).get_next()
    with tf.Session() as sess:
      first, second = sess.run(batch), sess.run(batch)
  # Batch 1 is examples 0-2 (5, 9, 3 positions): two rows of 16.
  ids = first["input_ids"]
  assert ids.shape == (2, 16)
  assert sorted(np.unique(ids[ids > 0])) == [10, 11, 12]
  assert (ids > 0).sum() == 17
  assert sorted(np.unique(second["input_ids"][second["input_ids"] > 0])) == [
      13, 14, 15]
  np.testing.assert_array_equal(first["position_ids"][0, :9], np.arange(9))
