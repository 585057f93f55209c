"""finetuning.model_files: the model files are checked before anything runs."""

import json

import pytest

from finetuning import errors
from finetuning import model_files
from tests import toy_task


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
  cfg.write_text(json.dumps({"vocab_size": 5, "max_position_embeddings": 64}))
  with pytest.raises(errors.UserError, match="up to sequence length 64"):
    model_files.load_bert_config(str(cfg), 128)


def test_load_model_files_of_a_config(tiny_bert_dir, tmp_path):
  config = toy_task.config(tiny_bert_dir, str(tmp_path))
  bert_config, tokenizer = model_files.load_model_files(config)
  assert bert_config.hidden_size == 32
  assert tokenizer.tokenize("the gene") == ["the", "gene"]
