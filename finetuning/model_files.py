"""Checks of the model files a run is given: bert_config.json, vocab.txt and
--init_checkpoint, before anything is written."""

import os

import tensorflow.compat.v1 as tf

import modeling
import tokenization
from finetuning import errors


def check_file(path, flag_name, what):
  """Raises a UserError unless `path` (the value of --flag_name) is a file."""
  if not path:
    raise errors.UserError("--%s is required (%s)" % (flag_name, what))
  if os.path.isdir(path):
    raise errors.UserError("--%s=%s: is a directory (expected %s)" %
                           (flag_name, path, what))
  if not tf.gfile.Exists(path):
    raise errors.UserError("--%s=%s: file not found (expected %s)" %
                           (flag_name, path, what))


def check_init_checkpoint(init_checkpoint):
  """Raises a UserError if `--init_checkpoint` names no readable checkpoint."""
  if not init_checkpoint:
    return
  try:
    tf.train.list_variables(init_checkpoint)
  except (tf.errors.OpError, ValueError) as e:
    raise errors.UserError(
        "--init_checkpoint=%s: no readable checkpoint there (expected the "
        "prefix of model.ckpt-NNN.index / .data-* files, e.g. "
        "$BIOBERT_DIR/model.ckpt-1000000): %s" %
        (init_checkpoint, str(e).splitlines()[0] if str(e) else
         type(e).__name__))


def load_bert_config(bert_config_file, max_seq_length):
  """Reads bert_config.json and checks `max_seq_length` against it."""
  check_file(bert_config_file, "bert_config_file", "bert_config.json")
  try:
    config = modeling.BertConfig.from_json_file(bert_config_file)
  except ValueError as e:
    raise errors.UserError(str(e))
  if max_seq_length > config.max_position_embeddings:
    raise errors.UserError(
        "Cannot use sequence length %d because the BERT model was only "
        "trained up to sequence length %d (%s)" %
        (max_seq_length, config.max_position_embeddings, bert_config_file))
  return config


def load_tokenizer(vocab_file, do_lower_case, init_checkpoint):
  """A FullTokenizer, after checking the vocab and the casing."""
  check_file(vocab_file, "vocab_file", "vocab.txt, one WordPiece a line")
  try:
    tokenization.validate_case_matches_checkpoint(do_lower_case,
                                                  init_checkpoint)
  except ValueError as e:
    raise errors.UserError(str(e))
  return tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case)


def load_model_files(config):
  """Checks the model files of a RunConfig; returns (bert_config, tokenizer).
  """
  bert_config = load_bert_config(config.bert_config_file,
                                 config.max_seq_length)
  tokenizer = load_tokenizer(config.vocab_file, config.do_lower_case,
                             config.init_checkpoint)
  check_init_checkpoint(config.init_checkpoint)
  return bert_config, tokenizer
