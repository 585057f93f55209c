#!/usr/bin/env python
"""Converts a Hugging Face BERT directory into a TF1 BERT checkpoint directory.

    python convert_hf_checkpoint.py --hf_dir=./BiomedNLP-PubMedBERT \
      --output_dir=./pubmedbert_tf

Input: `config.json`, `vocab.txt` and `model.safetensors` (read with the
safetensors NumPy API, no PyTorch needed) or `pytorch_model.bin` (needs
PyTorch). Output: `bert_config.json`, `vocab.txt` and `model.ckpt` with
BERT's variable names, ready for `--init_checkpoint=OUT/model.ckpt` of the
runners. Heads other than the encoder and pooler (e.g. `cls.*` masked-LM
weights) are left out.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402
from finetuning import model_files  # noqa: E402

# Hugging Face activation names -> ours (BERT's "gelu" is the tanh form).
ACTIVATIONS = {"gelu": "gelu_erf", "gelu_new": "gelu",
               "gelu_pytorch_tanh": "gelu", "relu": "relu", "tanh": "tanh"}
CONFIG_KEYS = ["vocab_size", "hidden_size", "num_hidden_layers",
               "num_attention_heads", "intermediate_size",
               "hidden_dropout_prob", "attention_probs_dropout_prob",
               "max_position_embeddings", "type_vocab_size",
               "initializer_range"]


def convert_config(hf_config):
  """bert_config.json contents from a Hugging Face config.json dict."""
  missing = [k for k in CONFIG_KEYS if k not in hf_config]
  if missing:
    raise ValueError("config.json lacks %s" % ", ".join(missing))
  if hf_config.get("position_embedding_type", "absolute") != "absolute":
    raise ValueError("position_embedding_type %r is not BERT's absolute "
                     "positions" % hf_config["position_embedding_type"])
  act = hf_config.get("hidden_act", "gelu")
  if act not in ACTIVATIONS:
    raise ValueError("hidden_act %r is not supported (%s)" %
                     (act, ", ".join(sorted(ACTIVATIONS))))
  config = {k: hf_config[k] for k in CONFIG_KEYS}
  config["hidden_act"] = ACTIVATIONS[act]
  return config


def tf_name(hf_name):
  """BERT variable name (and whether to transpose) of a Hugging Face weight.

  Returns None for weights that are not part of the encoder or pooler.
  """
  name = hf_name[len("bert."):] if hf_name.startswith("bert.") else hf_name
  if not name.startswith(("embeddings.", "encoder.", "pooler.")):
    return None
  if name.endswith("position_ids"):
    return None
  name = re.sub(r"^encoder\.layer\.(\d+)\.", r"encoder.layer_\1.", name)
  parts = name.split(".")
  leaf = parts[-1]
  transpose = False
  if parts[-2] == "LayerNorm":
    leaf = {"weight": "gamma", "bias": "beta", "gamma": "gamma",
            "beta": "beta"}[leaf]
  elif parts[-2].endswith("_embeddings"):
    if leaf != "weight":
      return None
    parts = parts[:-1]
    leaf = None
  elif leaf == "weight":
    leaf = "kernel"
    transpose = True
  path = "/".join(["bert"] + parts[:-1] + ([leaf] if leaf else [parts[-1]]))
  return path, transpose


def expected_shapes(config):
  """{variable name: shape} of a BERT encoder with its pooler."""
  h, inter = config["hidden_size"], config["intermediate_size"]
  shapes = {
      "bert/embeddings/word_embeddings": [config["vocab_size"], h],
      "bert/embeddings/token_type_embeddings": [config["type_vocab_size"], h],
      "bert/embeddings/position_embeddings": [
          config["max_position_embeddings"], h],
      "bert/embeddings/LayerNorm/gamma": [h],
      "bert/embeddings/LayerNorm/beta": [h],
      "bert/pooler/dense/kernel": [h, h],
      "bert/pooler/dense/bias": [h],
  }
  for i in range(config["num_hidden_layers"]):
    p = "bert/encoder/layer_%d/" % i
    for dense, (n_in, n_out) in (("attention/self/query", (h, h)),
                                 ("attention/self/key", (h, h)),
                                 ("attention/self/value", (h, h)),
                                 ("attention/output/dense", (h, h)),
                                 ("intermediate/dense", (h, inter)),
                                 ("output/dense", (inter, h))):
      shapes[p + dense + "/kernel"] = [n_in, n_out]
      shapes[p + dense + "/bias"] = [n_out]
    for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
      shapes[p + ln + "/gamma"] = [h]
      shapes[p + ln + "/beta"] = [h]
  return shapes


def load_weights(hf_dir):
  """{name: numpy array} from model.safetensors or pytorch_model.bin."""
  st = os.path.join(hf_dir, "model.safetensors")
  binary = os.path.join(hf_dir, "pytorch_model.bin")
  if os.path.isfile(st):
    from safetensors.numpy import load_file
    try:
      weights = load_file(st)
    except Exception as e:  # pylint: disable=broad-except
      # safetensors raises its own error types on a damaged file.
      raise errors.InputError(st, None, "not a readable safetensors file "
                              "(%s)" % (str(e).splitlines()[0] if str(e) else
                                        type(e).__name__))
    if not weights:
      raise errors.InputError(st, None, "holds no weights")
    return weights
  if os.path.isfile(binary):
    try:
      import torch
    except ImportError:
      raise errors.UserError(
          "%s needs PyTorch to be read (pip install torch); or save the "
          "model as model.safetensors" % binary)
    state = torch.load(binary, map_location="cpu")
    return {k: v.float().numpy() if v.is_floating_point() else v.numpy()
            for k, v in state.items()}
  raise errors.UserError("%s has neither model.safetensors nor "
                         "pytorch_model.bin" % hf_dir)


POOLER_NOTE = ("the weights have no pooler (a token-classification or "
               "question-answering model): it is initialised as BERT "
               "initialises it (truncated normal, stddev %g; bias 0)")


def initial_pooler(shapes, initializer_range, seed=0):
  """The pooler as BERT creates it: a kernel drawn from a normal of stddev
  `initializer_range` cut at two stddevs (tf.truncated_normal_initializer),
  a zero bias; from a fixed seed, so a conversion is repeatable."""
  rng = np.random.RandomState(seed)
  shape = shapes["bert/pooler/dense/kernel"]
  kernel = rng.normal(0.0, initializer_range, shape)
  while True:
    outside = np.abs(kernel) > 2 * initializer_range
    if not outside.any():
      break
    kernel[outside] = rng.normal(0.0, initializer_range, outside.sum())
  return {"bert/pooler/dense/kernel": kernel.astype(np.float32),
          "bert/pooler/dense/bias": np.zeros(
              shapes["bert/pooler/dense/bias"], np.float32)}


def convert_weights(weights, config):
  """{BERT variable name: float32 array}, exactly the variables and shapes
  that `config` (bert_config.json contents) describes.

  Raises:
    ValueError: a variable is missing, has another shape, or has no place in
      the model of `config` (e.g. a layer beyond num_hidden_layers).
  """
  shapes = expected_shapes(config)
  out = {}
  for hf_name, value in sorted(weights.items()):
    mapped = tf_name(hf_name)
    if mapped is None:
      continue
    name, transpose = mapped
    if name not in shapes:
      raise ValueError("the weights hold %s (%s), which the model of "
                       "config.json (%d layers) has no place for" %
                       (name, hf_name, config["num_hidden_layers"]))
    value = np.asarray(value, dtype=np.float32)
    value = value.T.copy() if transpose else value
    if list(value.shape) != shapes[name]:
      raise ValueError("%s (%s) has shape %s, but config.json says %s" %
                       (name, hf_name, list(value.shape), shapes[name]))
    out[name] = value
  pooler = ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"]
  if not any(n in out for n in pooler):
    out.update(initial_pooler(shapes, config.get("initializer_range", 0.02)))
  missing = [n for n in shapes if n not in out]
  if missing:
    raise ValueError("the weights lack %d BERT variables, e.g. %s" %
                     (len(missing), ", ".join(missing[:5])))
  return out


def write_checkpoint(variables, prefix):
  """Saves {name: array} as a TF1 checkpoint at `prefix`."""
  import tensorflow.compat.v1 as tf
  tf.disable_v2_behavior()
  with tf.Graph().as_default():
    tf_vars = []
    for name in sorted(variables):
      value = variables[name]
      tf_vars.append((tf.get_variable(name, shape=value.shape,
                                      dtype=tf.float32,
                                      initializer=tf.zeros_initializer()),
                      value))
    saver = tf.train.Saver([v for v, _ in tf_vars])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for var, value in tf_vars:
        var.load(value, sess)
      saver.save(sess, prefix, write_meta_graph=False)


def convert(hf_dir, output_dir):
  """Converts `hf_dir` into `output_dir`; returns the checkpoint prefix."""
  config_path = os.path.join(hf_dir, "config.json")
  vocab_path = os.path.join(hf_dir, "vocab.txt")
  if os.path.isdir(output_dir) and os.path.isdir(hf_dir) and (
      os.path.samefile(output_dir, hf_dir)):
    raise errors.FlagError("output_dir", output_dir, "another directory "
                           "than --hf_dir (its vocab.txt would be written "
                           "over the input's)")
  for path in (config_path, vocab_path):
    if not os.path.isfile(path):
      raise errors.InputError(path, None, "file not found (a Hugging Face "
                              "BERT directory holds config.json, vocab.txt "
                              "and model.safetensors or pytorch_model.bin)")
  hf_config = files.read_json(config_path, "a Hugging Face BERT config")
  try:
    config = convert_config(hf_config)
  except ValueError as e:
    raise errors.InputError(config_path, None, str(e))
  model_files.check_bert_config(config, config_path)
  model_files.check_vocab(vocab_path, config["vocab_size"])
  if abs(hf_config.get("layer_norm_eps", 1e-12) - 1e-12) > 1e-15:
    sys.stderr.write("warning: layer_norm_eps %g differs from BERT's 1e-12; "
                     "outputs will differ slightly\n" %
                     hf_config["layer_norm_eps"])
  try:
    weights = load_weights(hf_dir)
    variables = convert_weights(weights, config)
  except ValueError as e:
    raise errors.UserError("%s: %s" % (hf_dir, e))
  if not any(n.startswith("pooler.") or ".pooler." in n for n in weights):
    print("note: " + POOLER_NOTE % config.get("initializer_range", 0.02))
  # Written in a folder beside the outputs, then moved into place: a full
  # disk or a kill leaves no half checkpoint among them.
  os.makedirs(output_dir, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=".convert-", dir=output_dir)
  try:
    write_checkpoint(variables, os.path.join(staging, "model.ckpt"))
    files.atomic_write(os.path.join(staging, "bert_config.json"),
                       json.dumps(config, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(vocab_path, os.path.join(staging, "vocab.txt"))
    # TensorFlow's checkpoint list names the staging path: written anew.
    files.atomic_write(os.path.join(staging, "checkpoint"),
                       'model_checkpoint_path: "model.ckpt"\n'
                       'all_model_checkpoint_paths: "model.ckpt"\n')
    for name in sorted(os.listdir(staging)):
      os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return os.path.join(output_dir, "model.ckpt")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--hf_dir", required=True,
                      help="Hugging Face model directory")
  parser.add_argument("--output_dir", required=True,
                      help="where bert_config.json, vocab.txt and "
                      "model.ckpt are written")
  args = parser.parse_args(argv)
  from finetuning import console
  console.no_deprecation_notices()
  prefix = convert(args.hf_dir, args.output_dir)
  print("Wrote %s (use --init_checkpoint=%s), bert_config.json and vocab.txt"
        % (prefix, prefix))
  return 0


if __name__ == "__main__":
  # A user error: one line, exit 2; a full disk or another OS error: one
  # line, exit 1, and nothing half-written in --output_dir.
  sys.exit(errors.run_main(main, "convert again")(sys.argv[1:]))
