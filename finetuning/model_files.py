"""Checks of the model files a run is given: bert_config.json, vocab.txt and
--init_checkpoint, all before anything is written.

Each check names the file (and line) or the flag and what was expected, so
that a wrong file never becomes a traceback half-way through a run, or a
model silently different from the one the user meant.
"""

import os
import re

import tensorflow.compat.v1 as tf

import modeling
import tokenization
from finetuning import errors
from finetuning import files

# Keys of bert_config.json that fix the shapes of the model.
SHAPE_KEYS = ["vocab_size", "hidden_size", "num_hidden_layers",
              "num_attention_heads", "intermediate_size",
              "max_position_embeddings", "type_vocab_size"]
ACTIVATIONS = ["gelu", "gelu_erf", "relu", "tanh", "linear"]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


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


def _is_count(value):
  return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_number(value, low, high):
  return (isinstance(value, (int, float)) and not isinstance(value, bool) and
          low <= value <= high)


def check_bert_config(values, path):
  """Raises InputError (naming `path`) for a config that cannot be BERT's."""
  if not isinstance(values, dict):
    raise errors.InputError(path, None, "expected a JSON object of BERT "
                            "parameters (vocab_size, hidden_size, ...)")
  for key in SHAPE_KEYS:
    if key not in values:
      raise errors.InputError(path, None, "\"%s\" is missing (a BERT config "
                              "has %s)" % (key, ", ".join(SHAPE_KEYS)))
    if not _is_count(values[key]):
      raise errors.InputError(path, None, "\"%s\" is %r: expected a whole "
                              "number >= 1" % (key, values[key]))
  if values["hidden_size"] % values["num_attention_heads"]:
    raise errors.InputError(
        path, None, "hidden_size %d is not a multiple of num_attention_heads "
        "%d" % (values["hidden_size"], values["num_attention_heads"]))
  act = values.get("hidden_act", "gelu")
  if not isinstance(act, str) or act.lower() not in ACTIVATIONS:
    raise errors.InputError(path, None, "\"hidden_act\" is %r: expected one "
                            "of %s" % (act, ", ".join(ACTIVATIONS)))
  for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
    if key in values and not _is_number(values[key], 0.0, 0.999):
      raise errors.InputError(path, None, "\"%s\" is %r: expected a number "
                              "from 0 to below 1" % (key, values[key]))
  if "initializer_range" in values and not _is_number(
      values["initializer_range"], 1e-12, 1e6):
    raise errors.InputError(path, None, "\"initializer_range\" is %r: "
                            "expected a number > 0" %
                            (values["initializer_range"],))


def load_bert_config(bert_config_file, max_seq_length):
  """Reads and checks bert_config.json and `max_seq_length` against it."""
  check_file(bert_config_file, "bert_config_file", "bert_config.json")
  values = files.read_json(bert_config_file, "bert_config.json")
  check_bert_config(values, bert_config_file)
  config = modeling.BertConfig.from_dict(values)
  if max_seq_length > config.max_position_embeddings:
    raise errors.UserError(
        "Cannot use sequence length %d because the BERT model was only "
        "trained up to sequence length %d (%s)" %
        (max_seq_length, config.max_position_embeddings, bert_config_file))
  return config


# Rows some models add to their embedding table to round its size (unused
# by any piece): a vocabulary may be this much shorter than vocab_size.
MAX_PADDING = 127


def check_vocab(vocab_file, vocab_size):
  """Raises InputError for a vocab.txt the model cannot use.

  It must be UTF-8 text, hold [PAD], [UNK], [CLS] and [SEP], no entry twice,
  no more entries than the model's `vocab_size` and not fewer than that
  less MAX_PADDING.
  """
  lines = files.read_text_lines(vocab_file, "vocab.txt, one WordPiece a "
                                "line")
  while lines and not lines[-1].strip():  # blank lines at the end: no entry
    lines.pop()
  seen = {}
  for number, line in enumerate(lines, 1):
    token = line.strip()
    if token in seen:
      raise errors.InputError(vocab_file, number, "%r is already on line %d: "
                              "a vocabulary holds every piece once" %
                              (token, seen[token]))
    seen[token] = number
  missing = [t for t in SPECIAL_TOKENS if t not in seen]
  if missing:
    raise errors.InputError(vocab_file, None, "%s missing: a BERT vocabulary "
                            "holds %s" % (" and ".join(missing),
                                          ", ".join(SPECIAL_TOKENS)))
  if vocab_size is not None and len(lines) > vocab_size:
    raise errors.InputError(vocab_file, None, "%d entries, more than the "
                            "model's vocab_size %d (bert_config.json): it is "
                            "not this model's vocabulary" %
                            (len(lines), vocab_size))
  if vocab_size is not None and vocab_size - len(lines) > MAX_PADDING:
    raise errors.InputError(
        vocab_file, None, "%d entries, %d fewer than the model's vocab_size "
        "%d (bert_config.json): it is not this model's vocabulary (e.g. a "
        "cased 28,996-piece vocab.txt with an uncased 30,522 config); every "
        "piece would read another piece's embedding" % (
            len(lines), vocab_size - len(lines), vocab_size))
  return list(seen)


def casing_warning(pieces, do_lower_case):
  """A warning when the vocabulary's casing and --do_lower_case disagree,
  or None.

  An uncased vocabulary (no upper-case piece: uncased BERT, MiniLM) with
  --do_lower_case=false turns every capitalised word ("Identification",
  "APC2") into [UNK]; a cased one with --do_lower_case=true loses case.
  A piece counts as upper case only when lower-casing changes it: uncased
  vocabularies keep symbols such as "ℝ", which have no lower case.
  """
  cased = any(p != p.lower() for p in pieces
              if not (p.startswith("[") and p.endswith("]")))
  if cased == (not do_lower_case):
    return None
  if not cased:
    return ("--do_lower_case=false, but the vocabulary has no upper-case "
            "piece (an uncased model): capitalised words become [UNK]. Add "
            "--do_lower_case=true")
  return ("--do_lower_case=true, but the vocabulary has upper-case pieces "
          "(a cased model such as BioBERT): add --do_lower_case=false unless "
          "the model was trained on lower-cased text")


def load_tokenizer(vocab_file, do_lower_case, init_checkpoint,
                   vocab_size=None):
  """A FullTokenizer, after checking the vocab and the casing."""
  check_file(vocab_file, "vocab_file", "vocab.txt, one WordPiece a line")
  pieces = check_vocab(vocab_file, vocab_size)
  warning = casing_warning(pieces, do_lower_case)
  if warning:
    errors.warn(warning)
  try:
    tokenization.validate_case_matches_checkpoint(do_lower_case,
                                                  init_checkpoint)
  except ValueError as e:
    raise errors.UserError(str(e))
  return tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case)


def _expected_shapes(config):
  h = config.hidden_size
  shapes = {
      "bert/embeddings/word_embeddings": [config.vocab_size, h],
      "bert/embeddings/position_embeddings": [config.max_position_embeddings,
                                              h],
      "bert/embeddings/token_type_embeddings": [config.type_vocab_size, h],
      "bert/pooler/dense/kernel": [h, h],
  }
  for i in range(config.num_hidden_layers):
    layer = "bert/encoder/layer_%d/" % i
    shapes[layer + "attention/self/query/kernel"] = [h, h]
    shapes[layer + "intermediate/dense/kernel"] = [h,
                                                   config.intermediate_size]
  return shapes


def checkpoint_shapes(path, failure):
  """{variable: shape} of the checkpoint `path`, every weight read once.

  Raises UserError("`failure`: <the reader's reason>") when it is missing
  or damaged, so that a bad file stops a run before it writes, not mid-run.
  Optimizer slots are not read (prediction and export never use them).
  """
  try:
    reader = tf.train.load_checkpoint(path)
    shapes = reader.get_variable_to_shape_map()
    for name in sorted(shapes):
      if not re.search(r"adam_[mv]$|grad_accum$", name):
        reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except
    # The checkpoint reader raises OpError, ValueError, IndexError... on
    # damaged files; any of them means the same to the user.
    raise errors.UserError("%s: %s" % (failure, str(e).splitlines()[0] if
                                       str(e) else type(e).__name__))
  return shapes


def check_run_checkpoint(output_dir, checkpoint):
  """Raises UserError unless `checkpoint`, of the run in `output_dir`, reads.
  """
  checkpoint_shapes(
      checkpoint, "--output_dir=%s: checkpoint %s is damaged; use a new "
      "--output_dir, or delete %s (rm -r) to start over" %
      (output_dir, os.path.relpath(checkpoint, output_dir), output_dir))


def check_init_checkpoint(init_checkpoint, bert_config=None):
  """Raises a UserError unless --init_checkpoint is readable and fits.

  Every BERT variable is read (a damaged file fails here, not mid-run), and
  its shape is compared with `bert_config`: a checkpoint with other sizes
  or another number of layers is not this model's.
  """
  if not init_checkpoint:
    return
  flag = "--init_checkpoint=%s" % init_checkpoint
  shapes = checkpoint_shapes(
      init_checkpoint, "%s: no readable checkpoint there (expected the "
      "prefix of model.ckpt-NNN.index / .data-* files, e.g. "
      "$BIOBERT_DIR/model.ckpt-1000000)" % flag)
  if bert_config is None or not any(n.startswith("bert/") for n in shapes):
    return
  for name, shape in sorted(_expected_shapes(bert_config).items()):
    if name not in shapes:
      raise errors.UserError(
          "%s has no variable %s, which the model of --bert_config_file "
          "needs (%d layers): the checkpoint and the config do not belong "
          "together" % (flag, name, bert_config.num_hidden_layers))
    if list(shapes[name]) != shape:
      raise errors.UserError(
          "%s: %s has shape %s, but --bert_config_file says %s: the "
          "checkpoint and the config do not belong together" %
          (flag, name, list(shapes[name]), shape))
  extra = "bert/encoder/layer_%d/" % bert_config.num_hidden_layers
  if any(n.startswith(extra) for n in shapes):
    raise errors.UserError(
        "%s has more layers than the %d of --bert_config_file: the "
        "checkpoint and the config do not belong together" %
        (flag, bert_config.num_hidden_layers))


def load_model_files(config):
  """Checks the model files of a RunConfig; returns (bert_config, tokenizer).
  """
  bert_config = load_bert_config(config.bert_config_file,
                                 config.max_seq_length)
  tokenizer = load_tokenizer(config.vocab_file, config.do_lower_case,
                             config.init_checkpoint, bert_config.vocab_size)
  check_init_checkpoint(config.init_checkpoint, bert_config)
  return bert_config, tokenizer
