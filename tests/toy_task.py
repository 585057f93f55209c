"""A toy two-class task over tiny random records, for the plumbing tests."""

import numpy as np
import tensorflow.compat.v1 as tf

import modeling
from finetuning import config as run_config
from finetuning import estimator as est
from finetuning import records

SEQ = 16
FIELDS = {"input_ids": records.SEQUENCE, "input_mask": records.SEQUENCE,
          "segment_ids": records.SEQUENCE, "label_ids": records.SCALAR}


def head(model, features, is_training):
  """A two-class head on the pooled output (what run_re uses)."""
  hidden = model.get_pooled_output()
  w = tf.get_variable("output_weights", [2, hidden.shape[-1]],
                      initializer=tf.truncated_normal_initializer(stddev=0.02))
  b = tf.get_variable("output_bias", [2], initializer=tf.zeros_initializer())
  if is_training:
    hidden = tf.nn.dropout(hidden, rate=0.1)
  logits = tf.nn.bias_add(tf.matmul(hidden, w, transpose_b=True), b)
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=features["label_ids"], logits=logits))
  return est.HeadOutput(loss, {"probabilities": tf.nn.softmax(logits)})


def features(n=24, seed=0):
  """`n` unpadded random features of lengths 4..SEQ-1, labels alternating."""
  rng = np.random.RandomState(seed)
  feats = []
  for i in range(n):
    length = rng.randint(4, SEQ)
    ids = [2] + [int(x) for x in rng.randint(5, 90, size=length - 2)] + [3]
    feats.append({"input_ids": ids, "input_mask": [1] * length,
                  "segment_ids": [0] * length, "label_ids": i % 2})
  return feats


def config(tiny_bert_dir, out, **kw):
  """A RunConfig for the toy task."""
  values = dict(output_dir=out, init_checkpoint=tiny_bert_dir["ckpt"],
                bert_config_file=tiny_bert_dir["config"],
                vocab_file=tiny_bert_dir["vocab"], max_seq_length=SEQ,
                learning_rate=1e-3, train_batch_size=4,
                save_checkpoints_steps=3, seed=1, log_every_n_steps=2)
  values.update(kw)
  return run_config.RunConfig(**values)


def bert_config(tiny_bert_dir):
  return modeling.BertConfig.from_json_file(tiny_bert_dir["config"])
