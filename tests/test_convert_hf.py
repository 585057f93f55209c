"""convert_hf_checkpoint.py on a tiny Hugging Face-format fixture."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import convert_hf_checkpoint as convert
import export_model
import modeling
from finetuning import errors
from tests import tiny_bert


def _hf_name(tf_name):
  """The Hugging Face name of a BERT variable: export_model's mapping, so
  that conversion and export are each other's inverse."""
  return export_model.hf_name(tf_name)


def _write_hf_fixture(tiny_bert_dir, out, hidden_act="gelu_new", drop=None):
  from safetensors.numpy import save_file
  os.makedirs(out, exist_ok=True)
  reader = tf.train.load_checkpoint(tiny_bert_dir["ckpt"])
  tensors = {}
  for name in reader.get_variable_to_shape_map():
    if not name.startswith("bert/"):
      continue
    hf, transpose = _hf_name(name)
    value = reader.get_tensor(name)
    tensors[hf] = np.ascontiguousarray(value.T if transpose else value)
  # Things a real HF checkpoint carries that are not BERT's encoder.
  tensors["cls.predictions.bias"] = np.zeros([5], np.float32)
  tensors["bert.embeddings.position_ids"] = np.arange(8, dtype=np.int64)[None]
  for name in ([drop] if isinstance(drop, str) else drop or []):
    del tensors[name]
  save_file(tensors, os.path.join(out, "model.safetensors"))
  config = json.load(open(tiny_bert_dir["config"]))
  config.update(hidden_act=hidden_act, model_type="bert",
                layer_norm_eps=1e-12, architectures=["BertForMaskedLM"])
  with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f)
  with open(tiny_bert_dir["vocab"]) as src, open(
      os.path.join(out, "vocab.txt"), "w") as dst:
    dst.write(src.read())
  return out


def _forward(config_path, ckpt, ids):
  return tiny_bert.forward(config_path, ckpt, ids)["sequence_output"]


def test_round_trip_equals_original(tiny_bert_dir, tmp_path):
  hf = _write_hf_fixture(tiny_bert_dir, str(tmp_path / "hf"))
  prefix = convert.convert(hf, str(tmp_path / "tf"))
  original = tf.train.load_checkpoint(tiny_bert_dir["ckpt"])
  converted = tf.train.load_checkpoint(prefix)
  names = sorted(n for n in original.get_variable_to_shape_map()
                 if n.startswith("bert/"))
  assert sorted(converted.get_variable_to_shape_map()) == names
  for n in names:
    np.testing.assert_array_equal(converted.get_tensor(n),
                                  original.get_tensor(n), n)
  config = json.load(open(tmp_path / "tf" / "bert_config.json"))
  assert config["hidden_act"] == "gelu"
  ids = [[2, 10, 20, 30, 3]]
  np.testing.assert_array_equal(
      _forward(str(tmp_path / "tf" / "bert_config.json"), prefix, ids),
      _forward(tiny_bert_dir["config"], tiny_bert_dir["ckpt"], ids))
  assert (tmp_path / "tf" / "vocab.txt").read_text() == open(
      tiny_bert_dir["vocab"]).read()


def test_hf_gelu_becomes_exact_gelu(tiny_bert_dir, tmp_path):
  hf = _write_hf_fixture(tiny_bert_dir, str(tmp_path / "hf"),
                         hidden_act="gelu")
  convert.convert(hf, str(tmp_path / "tf"))
  config = json.load(open(tmp_path / "tf" / "bert_config.json"))
  assert config["hidden_act"] == "gelu_erf"
  with tf.Graph().as_default(), tf.Session() as sess:
    got = sess.run(modeling.get_activation("gelu_erf")(
        tf.constant([-1.0, 0.0, 1.0])))
  np.testing.assert_allclose(got, [-0.15865525, 0.0, 0.84134475], atol=1e-6)


def test_missing_weight_is_named(tiny_bert_dir, tmp_path):
  hf = _write_hf_fixture(tiny_bert_dir, str(tmp_path / "hf"),
                         drop="bert.pooler.dense.weight")
  with pytest.raises(errors.UserError,
                     match="lack 1 BERT variables, e.g. "
                     "bert/pooler/dense/kernel"):
    convert.convert(hf, str(tmp_path / "tf"))
  assert not (tmp_path / "tf").exists()


def test_missing_files_and_torch(tmp_path, monkeypatch):
  with pytest.raises(errors.InputError, match="config.json: file not found"):
    convert.convert(str(tmp_path), str(tmp_path / "tf"))
  (tmp_path / "pytorch_model.bin").write_bytes(b"")
  monkeypatch.setitem(sys.modules, "torch", None)
  with pytest.raises(errors.UserError, match="needs PyTorch"):
    convert.load_weights(str(tmp_path))


def test_name_mapping():
  assert convert.tf_name("bert.encoder.layer.11.attention.self.query.weight") \
      == ("bert/encoder/layer_11/attention/self/query/kernel", True)
  assert convert.tf_name("encoder.layer.0.output.LayerNorm.weight") == (
      "bert/encoder/layer_0/output/LayerNorm/gamma", False)
  assert convert.tf_name("embeddings.word_embeddings.weight") == (
      "bert/embeddings/word_embeddings", False)
  assert convert.tf_name("cls.predictions.transform.dense.weight") is None
  with pytest.raises(ValueError, match="position_embedding_type"):
    convert.convert_config({k: 1 for k in convert.CONFIG_KEYS} |
                           {"position_embedding_type": "relative_key"})


def _fixture_with(tiny_bert_dir, out, change_config=None, change_weights=None):
  """The HF fixture with its config.json and/or weights altered."""
  from safetensors.numpy import load_file, save_file
  hf = _write_hf_fixture(tiny_bert_dir, out)
  if change_config:
    path = os.path.join(hf, "config.json")
    config = json.load(open(path))
    config.update(change_config)
    json.dump(config, open(path, "w"))
  if change_weights:
    path = os.path.join(hf, "model.safetensors")
    tensors = load_file(path)
    change_weights(tensors)
    save_file(tensors, path)
  return hf


@pytest.mark.parametrize("config,weights,message", [
    ({"num_hidden_layers": 1}, None, "hold bert/encoder/layer_1/"),
    ({"hidden_size": 64, "num_attention_heads": 2}, None,
     "bert/embeddings/LayerNorm/beta (bert.embeddings.LayerNorm.bias) has "
     "shape [32], but config.json says [64]"),
    ({"vocab_size": 300}, None, "has shape [210, 32], but config.json says "
     "[300, 32]"),
    ({"num_hidden_layers": "2"}, None, "\"num_hidden_layers\" is '2'"),
    ({"vocab_size": 100}, None, "210 entries, more than the model's "
     "vocab_size 100"),
    (None, lambda t: t.update({"bert.encoder.layer.2.output.dense.bias":
                               np.zeros([32], np.float32)}),
     "which the model of config.json (2 layers) has no place for"),
])
def test_checkpoint_never_contradicts_its_config(tiny_bert_dir, tmp_path,
                                                 config, weights, message):
  hf = _fixture_with(tiny_bert_dir, str(tmp_path / "hf"), config, weights)
  with pytest.raises(errors.UserError) as e:
    convert.convert(hf, str(tmp_path / "tf"))
  assert message in str(e.value)
  assert not (tmp_path / "tf").exists()


@pytest.mark.parametrize("content", [b"", b"garbage" * 10])
def test_damaged_safetensors(tmp_path, content, tiny_bert_dir):
  hf = _write_hf_fixture(tiny_bert_dir, str(tmp_path / "hf"))
  with open(os.path.join(hf, "model.safetensors"), "wb") as f:
    f.write(content)
  with pytest.raises(errors.InputError,
                     match="model.safetensors: not a readable safetensors"):
    convert.convert(hf, str(tmp_path / "tf"))
  assert not (tmp_path / "tf").exists()
