"""BertModel against Google's reference outputs, and its building blocks."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import modeling
from tests import tiny_bert
from tests.conftest import REFERENCE

REF = os.path.join(REFERENCE, "bert")


def _reference_inputs():
  with open(os.path.join(REF, "inputs.json")) as f:
    return json.load(f)


def _run_model(config, ids, mask, types, ckpt):
  return tiny_bert.forward(config, ckpt, ids, mask, types)


def test_forward_matches_google_reference():
  config = modeling.BertConfig.from_json_file(os.path.join(REF,
                                                           "bert_config.json"))
  inputs = _reference_inputs()
  out = _run_model(config, inputs["input_ids"], inputs["input_mask"],
                   inputs["token_type_ids"], os.path.join(REF, "model.ckpt-0"))
  expected = np.load(os.path.join(REF, "expected_forward.npz"))
  assert sorted(expected.keys()) == sorted(
      ["sequence_output", "pooled_output", "embedding_output",
       "encoder_layer_0", "encoder_layer_1"])
  for key in expected.keys():
    assert out[key].shape == expected[key].shape, key
    diff = np.abs(out[key] - expected[key]).max()
    assert diff < 1e-5, (key, diff)


def test_variable_names_and_shapes_equal_bert_checkpoint():
  config = modeling.BertConfig.from_json_file(os.path.join(REF,
                                                           "bert_config.json"))
  with tf.Graph().as_default():
    modeling.BertModel(config, True, tf.zeros([2, 5], tf.int32))
    ours = {v.name[:-2]: v.shape.as_list() for v in tf.global_variables()}
  theirs = dict(tf.train.list_variables(os.path.join(REF, "model.ckpt-0")))
  theirs = {k: v for k, v in theirs.items() if k != "global_step"}
  assert ours == theirs
  assert "bert/encoder/layer_1/attention/self/query/kernel" in ours
  assert ours["bert/embeddings/LayerNorm/gamma"] == [48]


def test_gelu_values():
  x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0], np.float32)

  def expected(v):
    return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) *
                                    (v + 0.044715 * v ** 3)))

  with tf.Graph().as_default(), tf.Session() as sess:
    got = sess.run(modeling.gelu(tf.constant(x)))
  np.testing.assert_allclose(got, [expected(v) for v in x], atol=1e-6)
  # Known values of the tanh approximation.
  assert abs(got[4] - 0.8411920) < 1e-6
  assert abs(got[1] - (-0.1588080)) < 1e-6
  assert got[2] == 0.0


def test_layer_norm_values_and_variables():
  x = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]], np.float32)
  with tf.Graph().as_default():
    out = modeling.layer_norm(tf.constant(x))
    names = sorted(v.name for v in tf.global_variables())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      got = sess.run(out)
  assert names == ["LayerNorm/beta:0", "LayerNorm/gamma:0"]
  mean = x.mean(-1, keepdims=True)
  var = x.var(-1, keepdims=True)
  np.testing.assert_allclose(got, (x - mean) / np.sqrt(var + 1e-12),
                             atol=1e-6)
  # A constant row normalises to exactly 0 (epsilon 1e-12 keeps it finite).
  assert np.all(got[1] == 0.0)


def test_attention_mask_adds_minus_10000():
  # Two positions; the second is masked. Scores q.k are zero for all, so the
  # softmax is uniform among unmasked positions and e^-10000 ~ 0 elsewhere.
  with tf.Graph().as_default():
    mask = modeling.create_attention_mask_from_input_mask(
        tf.zeros([1, 3], tf.int32), tf.constant([[1, 1, 0]]))
    with tf.Session() as sess:
      m = sess.run(mask)
  np.testing.assert_array_equal(m, [[[1, 1, 0]] * 3])


def test_padding_does_not_change_real_positions(tiny_bert_dir):
  config = modeling.BertConfig.from_json_file(tiny_bert_dir["config"])
  ckpt = tiny_bert_dir["ckpt"]
  ids = [[2, 40, 41, 42, 3]]
  short = _run_model(config, ids, [[1] * 5], [[0] * 5], ckpt)
  # Same sentence padded to 9 with junk ids and junk segment ids.
  padded = _run_model(config, [ids[0] + [77, 12, 9, 50]],
                      [[1] * 5 + [0] * 4], [[0] * 5 + [1] * 4], ckpt)
  diff = np.abs(short["sequence_output"] -
                padded["sequence_output"][:, :5]).max()
  assert diff < 1e-5
  assert np.abs(short["pooled_output"] - padded["pooled_output"]).max() < 1e-5
  # And the mask matters: unmasking the padding does change the output.
  unmasked = _run_model(config, [ids[0] + [77, 12, 9, 50]], [[1] * 9],
                        [[0] * 5 + [1] * 4], ckpt)
  assert np.abs(short["sequence_output"] -
                unmasked["sequence_output"][:, :5]).max() > 1e-3


def test_checkpoint_round_trip(tmp_path):
  config = modeling.BertConfig(vocab_size=50, hidden_size=16,
                               num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32,
                               max_position_embeddings=16)
  ids = [[1, 2, 3, 4]]
  prefix = str(tmp_path / "model.ckpt")
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    model = modeling.BertModel(config, False, tf.constant(ids))
    saver = tf.train.Saver()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      before = sess.run(model.get_sequence_output())
      saver.save(sess, prefix)
  after = _run_model(config, ids, [[1] * 4], [[0] * 4], prefix)
  np.testing.assert_array_equal(before, after["sequence_output"])
  # A model from a different random init differs: the restore did the work.
  with tf.Graph().as_default():
    tf.set_random_seed(4)
    model = modeling.BertModel(config, False, tf.constant(ids))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      other = sess.run(model.get_sequence_output())
  assert np.abs(other - before).max() > 1e-3


def test_assignment_map_covers_every_variable():
  ckpt = os.path.join(REF, "model.ckpt-0")
  config = modeling.BertConfig.from_json_file(os.path.join(REF,
                                                           "bert_config.json"))
  with tf.Graph().as_default():
    modeling.BertModel(config, False, tf.zeros([1, 4], tf.int32))
    extra = tf.get_variable("output_weights", [3, 48])
    tvars = tf.trainable_variables()
    amap, names = modeling.get_assignment_map_from_checkpoint(tvars, ckpt)
  assert len(amap) == len(tvars) - 1 == 39
  assert all(v == k for k, v in amap.items())
  assert "output_weights" not in amap and extra.name not in names
  assert "bert/pooler/dense/kernel:0" in names
  assert "bert/pooler/dense/kernel" in names


def test_config_json_round_trip(tmp_path):
  config = modeling.BertConfig(vocab_size=99, hidden_size=24,
                               hidden_act="relu")
  path = tmp_path / "c.json"
  path.write_text(config.to_json_string())
  again = modeling.BertConfig.from_json_file(str(path))
  assert again.to_dict() == config.to_dict()
  assert json.loads(config.to_json_string())["hidden_act"] == "relu"
  assert modeling.BertConfig.from_dict({"vocab_size": 7}).vocab_size == 7


def test_bad_config_file_names_the_file(tmp_path):
  path = tmp_path / "bert_config.json"
  path.write_text("{not json")
  with pytest.raises(ValueError, match="bert_config.json"):
    modeling.BertConfig.from_json_file(str(path))


def test_sequence_longer_than_position_table_is_refused():
  config = modeling.BertConfig(vocab_size=10, hidden_size=8,
                               num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=8, max_position_embeddings=4)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="max_position_embeddings"):
      modeling.BertModel(config, False, tf.zeros([1, 5], tf.int32))


def test_get_activation():
  assert modeling.get_activation("gelu") is modeling.gelu
  assert modeling.get_activation("linear") is None
  assert modeling.get_activation("relu") is tf.nn.relu
  with pytest.raises(ValueError):
    modeling.get_activation("swish9")


def _small_model_inputs():
  """A 2-layer config and a batch of 3 ids (one row with padding), mask."""
  config = modeling.BertConfig(vocab_size=50, hidden_size=32,
                               num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=64)
  ids = np.random.RandomState(0).randint(0, 50, (3, 7)).astype(np.int32)
  mask = np.ones_like(ids)
  mask[1, 5:] = 0
  return config, ids, mask
