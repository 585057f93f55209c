"""finetuning.model_files: the model files are checked before anything runs."""

import json
import os
import shutil

import pytest

from finetuning import errors
from finetuning import model_files
from tests import tiny_bert
from tests import toy_task

GOOD = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64, "type_vocab_size": 2,
        "hidden_act": "gelu"}


def test_missing_inputs_are_user_errors(tmp_path):
  with pytest.raises(errors.UserError, match="--vocab_file"):
    model_files.load_tokenizer(str(tmp_path / "nope.txt"), False, None)
  with pytest.raises(errors.UserError, match="--init_checkpoint"):
    model_files.check_init_checkpoint(str(tmp_path / "model.ckpt-1000000"))
  with pytest.raises(errors.UserError, match="--bert_config_file is required"):
    model_files.load_bert_config(None, 128)
  with pytest.raises(errors.UserError,
                     match="--bert_config_file=.*: is a directory"):
    model_files.load_bert_config(str(tmp_path), 128)
  cfg = tmp_path / "bert_config.json"
  cfg.write_text(json.dumps(GOOD))
  with pytest.raises(errors.UserError, match="up to sequence length 64"):
    model_files.load_bert_config(str(cfg), 128)
  assert model_files.load_bert_config(str(cfg), 64).num_hidden_layers == 2


@pytest.mark.parametrize("change,message", [
    ({"num_hidden_layers": None}, '"num_hidden_layers" is missing'),
    ({"vocab_size": None}, '"vocab_size" is missing'),
    ({"hidden_size": "768"}, "\"hidden_size\" is '768': expected a whole "
     "number >= 1"),
    ({"num_hidden_layers": 0}, '"num_hidden_layers" is 0'),
    ({"num_attention_heads": 3}, "hidden_size 32 is not a multiple of "
     "num_attention_heads 3"),
    ({"hidden_act": "swish"}, "\"hidden_act\" is 'swish': expected one of"),
    ({"hidden_dropout_prob": 1.5}, '"hidden_dropout_prob" is 1.5'),
])
def test_bad_configs_name_the_file_and_the_key(tmp_path, change, message):
  values = dict(GOOD)
  for key, value in change.items():
    if value is None:
      del values[key]
    else:
      values[key] = value
  cfg = tmp_path / "bert_config.json"
  cfg.write_text(json.dumps(values))
  with pytest.raises(errors.InputError) as e:
    model_files.load_bert_config(str(cfg), 64)
  assert str(e.value).startswith(str(cfg) + ": ")
  assert message in str(e.value)


def test_config_that_is_not_json_or_not_utf8(tmp_path):
  cfg = tmp_path / "bert_config.json"
  cfg.write_text('{"vocab_size": 5,\n')
  with pytest.raises(errors.InputError, match="bert_config.json:2: not valid "
                     "JSON"):
    model_files.load_bert_config(str(cfg), 64)
  cfg.write_bytes(b'{"a": "\xff"}')
  with pytest.raises(errors.InputError, match="bert_config.json:1: not UTF-8"):
    model_files.load_bert_config(str(cfg), 64)
  cfg.write_text("[1, 2]")
  with pytest.raises(errors.InputError, match="expected a JSON object"):
    model_files.load_bert_config(str(cfg), 64)


def test_a_vocabulary_of_another_model(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n" + "".join(
      "w%d\n" % i for i in range(28996 - 4)))
  with pytest.raises(errors.InputError) as e:
    model_files.check_vocab(str(vocab), 30522)
  assert str(e.value) == (
      "%s: 28996 entries, 1526 fewer than the model's vocab_size 30522 "
      "(bert_config.json): it is not this model's vocabulary (e.g. a cased "
      "28,996-piece vocab.txt with an uncased 30,522 config); every piece "
      "would read another piece's embedding" % vocab)
  assert len(model_files.check_vocab(str(vocab), 28996 + 127)) == 28996


@pytest.mark.parametrize("text,message", [
    ("", "file is empty"),
    ("[PAD]\n[UNK]\n[CLS]\n", r"\[SEP\] missing"),
    ("[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\na\n", r"vocab.txt:7: 'a' is already "
     "on line 5"),
    ("[PAD]\n[UNK]\n[CLS]\n[SEP]\n" + "".join("w%d\n" % i for i in range(9)),
     "13 entries, more than the model's vocab_size 10"),
])
def test_bad_vocabularies(tmp_path, text, message):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text(text)
  with pytest.raises(errors.InputError, match=message):
    model_files.check_vocab(str(vocab), 10)


def test_binary_vocab(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_bytes(b"[PAD]\n\x89PNG\xff\xfe\n")
  with pytest.raises(errors.InputError, match="vocab.txt:2: not UTF-8"):
    model_files.check_vocab(str(vocab), 10)


def test_checkpoint_must_fit_the_config(tiny_bert_dir, tmp_path):
  config = model_files.load_bert_config(tiny_bert_dir["config"], 64)
  model_files.check_init_checkpoint(tiny_bert_dir["ckpt"], config)
  three = tiny_bert.write_tiny_bert(str(tmp_path / "three"), num_layers=3,
                                    words=tiny_bert.NCBI_WORDS)
  with pytest.raises(errors.UserError, match="has more layers than the 2"):
    model_files.check_init_checkpoint(three["ckpt"], config)
  wide = tiny_bert.write_tiny_bert(str(tmp_path / "wide"), hidden_size=64,
                                   words=tiny_bert.NCBI_WORDS)
  with pytest.raises(errors.UserError, match="embeddings has shape "
                     r"\[\d+, 64\], but --bert_config_file says \[\d+, 32\]"):
    model_files.check_init_checkpoint(wide["ckpt"], config)
  one = tiny_bert.write_tiny_bert(str(tmp_path / "one"), num_layers=1,
                                  words=tiny_bert.NCBI_WORDS)
  with pytest.raises(errors.UserError, match="has no variable "
                     "bert/encoder/layer_1/"):
    model_files.check_init_checkpoint(one["ckpt"], config)


def test_damaged_checkpoint_is_a_user_error(tiny_bert_dir, tmp_path):
  for name in os.listdir(tiny_bert_dir["dir"]):
    shutil.copy(os.path.join(tiny_bert_dir["dir"], name), str(tmp_path))
  prefix = str(tmp_path / os.path.basename(tiny_bert_dir["ckpt"]))
  data = prefix + ".data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  with pytest.raises(errors.UserError, match="no readable checkpoint there"):
    model_files.check_init_checkpoint(prefix)
  with open(prefix + ".index", "wb") as f:
    f.write(b"garbage")
  with pytest.raises(errors.UserError, match="no readable checkpoint there"):
    model_files.check_init_checkpoint(prefix)


def test_load_model_files_of_a_config(tiny_bert_dir, tmp_path):
  config = toy_task.config(tiny_bert_dir, str(tmp_path))
  bert_config, tokenizer = model_files.load_model_files(config)
  assert bert_config.hidden_size == 32
  assert tokenizer.tokenize("the gene") == ["the", "gene"]
