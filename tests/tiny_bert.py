"""Writes tiny random BERT models (config + vocab + checkpoint) for tests.

The checkpoint carries the real BERT variable names and shapes, so anything
that loads BioBERT's `model.ckpt-1000000` loads it the same way.
"""

import json
import os
import string

import tensorflow.compat.v1 as tf

import modeling

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# A few frequent biomedical words, so word pieces are not only characters.
NCBI_WORDS = ["the", "of", "and", "in", "with", "cancer", "disease",
              "patients", "gene", "mutations", "deficiency", "syndrome",
              "tumor", "##s", "##ing", "##ed", "##ia", "##oma"]


def vocab_tokens(words=()):
  """Special tokens, every printable ASCII character with its ## form, words."""
  chars = [c for c in string.printable if not c.isspace()]
  tokens = list(SPECIAL_TOKENS)
  tokens += chars + ["##" + c for c in chars]
  for w in words:
    if w not in tokens:
      tokens.append(w)
  return tokens


def write_tiny_bert(out_dir, words=(), hidden_size=32, num_layers=2,
                    num_heads=2, intermediate_size=64,
                    max_position_embeddings=512, seed=0, vocab_file=None):
  """Writes bert_config.json, vocab.txt and model.ckpt into `out_dir`.

  The vocabulary is `vocab_file` when given, else characters + `words`.

  Returns:
    dict with keys config, vocab, ckpt (the checkpoint prefix) and dir.
  """
  os.makedirs(out_dir, exist_ok=True)
  if vocab_file:
    with open(vocab_file, encoding="utf-8") as f:
      tokens = [line.rstrip("\n") for line in f]
  else:
    tokens = vocab_tokens(words)
  vocab_path = os.path.join(out_dir, "vocab.txt")
  with open(vocab_path, "w", encoding="utf-8") as f:
    f.write("\n".join(tokens) + "\n")

  config = modeling.BertConfig(
      vocab_size=len(tokens), hidden_size=hidden_size,
      num_hidden_layers=num_layers, num_attention_heads=num_heads,
      intermediate_size=intermediate_size,
      max_position_embeddings=max_position_embeddings, type_vocab_size=2)
  config_path = os.path.join(out_dir, "bert_config.json")
  with open(config_path, "w") as f:
    f.write(config.to_json_string())

  ckpt_prefix = os.path.join(out_dir, "model.ckpt")
  with tf.Graph().as_default():
    tf.set_random_seed(seed)
    ids = tf.zeros([1, 8], dtype=tf.int32)
    modeling.BertModel(config, False, ids)
    saver = tf.train.Saver(tf.global_variables())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      saver.save(sess, ckpt_prefix)
  return {"config": config_path, "vocab": vocab_path, "ckpt": ckpt_prefix,
          "dir": out_dir}


def forward(config, ckpt, input_ids, input_mask=None, token_type_ids=None):
  """Runs BertModel (is_training=False) restored from `ckpt`.

  Args:
    config: a `modeling.BertConfig` or the path of a bert_config.json.
    ckpt: checkpoint prefix; every model variable must be in it.
    input_ids, input_mask, token_type_ids: nested lists [batch, seq].

  Returns:
    dict of numpy arrays: sequence_output, pooled_output, embedding_output
    and encoder_layer_<i> for every layer.
  """
  if isinstance(config, str):
    config = modeling.BertConfig.from_json_file(config)
  as_tensor = lambda x: None if x is None else tf.constant(x)
  with tf.Graph().as_default():
    model = modeling.BertModel(config, False, tf.constant(input_ids),
                               as_tensor(input_mask),
                               as_tensor(token_type_ids))
    tvars = tf.trainable_variables()
    amap, _ = modeling.get_assignment_map_from_checkpoint(tvars, ckpt)
    assert len(amap) == len(tvars), "%s lacks model variables" % ckpt
    tf.train.init_from_checkpoint(ckpt, amap)
    fetch = {
        "sequence_output": model.get_sequence_output(),
        "pooled_output": model.get_pooled_output(),
        "embedding_output": model.get_embedding_output(),
    }
    for i, layer in enumerate(model.get_all_encoder_layers()):
      fetch["encoder_layer_%d" % i] = layer
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return sess.run(fetch)


def read_json(path):
  with open(path) as f:
    return json.load(f)
