"""finetuning.config: flags parsed once into a checked, frozen RunConfig."""

import dataclasses
import types

import pytest

from finetuning import config as run_config
from finetuning import errors
from finetuning.options import option


def _flags(**kw):
  values = {f.name: f.default for f in dataclasses.fields(run_config.RunConfig)
            if f.name not in ("task", "given")}
  values.update(output_dir="/tmp/out", cache_dir=None, doc_stride=128)
  values.update(kw)
  return types.SimpleNamespace(**values)


@dataclasses.dataclass(frozen=True)
class _Options:
  doc_stride: int = option(128, "Stride.")

  def validate(self, config):
    run_config.check_positive_int("doc_stride", self.doc_stride)


def test_from_flags_is_typed_and_frozen():
  config = run_config.from_flags(_flags(max_seq_length=64, doc_stride=32),
                                 _Options)
  assert config.max_seq_length == 64 and config.task.doc_stride == 32
  assert config.cache_dir == ""
  assert config.path("x.txt") == "/tmp/out/x.txt"
  with pytest.raises(dataclasses.FrozenInstanceError):
    config.max_seq_length = 3


@pytest.mark.parametrize("flag,value,message", [
    ("train_batch_size", 0, "--train_batch_size=0: expected a whole number "
     ">= 1"),
    ("predict_batch_size", -1, "--predict_batch_size=-1: expected a whole "
     "number >= 1"),
    ("max_seq_length", 2, "--max_seq_length=2: expected a whole number >= 3"),
    ("save_checkpoints_steps", 0, "--save_checkpoints_steps=0: expected a "
     "whole number >= 1"),
    ("learning_rate", float("nan"), "--learning_rate=nan: expected a finite "
     "number > 0"),
    ("learning_rate", 0.0, "--learning_rate=0.0: expected a finite number "
     "> 0"),
    ("num_train_epochs", float("inf"), "--num_train_epochs=inf: expected a "
     "finite number > 0"),
    ("warmup_proportion", 1.5, "--warmup_proportion=1.5: expected a finite "
     "number from 0 to 1"),
    ("seed", -1, "--seed=-1: expected a whole number >= 0"),
    ("doc_stride", 0, "--doc_stride=0: expected a whole number >= 1"),
    ("doc_stride", -5, "--doc_stride=-5: expected a whole number >= 1"),
    ("max_seq_length", 0, "--max_seq_length=0: expected a whole number >= 3"),
    ("train_batch_size", -3, "--train_batch_size=-3: expected a whole "
     "number >= 1"),
    ("num_train_epochs", float("nan"), "--num_train_epochs=nan: expected a "
     "finite number > 0"),
    ("warmup_proportion", 2.0, "--warmup_proportion=2.0: expected a finite "
     "number from 0 to 1"),
    ("eval_every_n_steps", -1, "--eval_every_n_steps=-1: expected a whole "
     "number >= 0"),
    ("max_train_steps", -1, "--max_train_steps=-1: expected a whole "
     "number >= 0"),
    ("early_stopping_patience", -1, "--early_stopping_patience=-1: expected "
     "a whole number >= 0"),
    ("gradient_accumulation_steps", 0, "--gradient_accumulation_steps=0: "
     "expected a whole number >= 1"),
    ("log_every_n_steps", 0, "--log_every_n_steps=0: expected a whole number "
     ">= 1"),
    ("loss_scale", float("inf"), "--loss_scale=inf: expected a finite number "
     "> 0"),
    # run_qa.py's own (QaOptions.validate).
    ("n_best_size", 0, "--n_best_size=0: expected a whole number >= 1"),
    ("max_answer_length", -1, "--max_answer_length=-1: expected a whole "
     "number >= 1"),
    ("list_threshold", 1.5, "--list_threshold=1.5: expected a finite number "
     "from 0 to 1"),
    ("yesno_threshold", float("nan"), "--yesno_threshold=nan: expected a "
     "finite number from 0 to 1"),
])
def test_bad_numbers_name_their_flag(flag, value, message):
  from tasks import qa
  values = {f.name: f.default for f in dataclasses.fields(qa.QaOptions)}
  values[flag] = value
  with pytest.raises(errors.FlagError) as e:
    run_config.from_flags(_flags(**values), qa.QaOptions)
  assert str(e.value) == message


def test_output_dir_and_cache_dir_must_not_be_files(tmp_path):
  f = tmp_path / "file"
  f.write_text("x")
  for flag in ("output_dir", "cache_dir"):
    with pytest.raises(errors.FlagError,
                       match="--%s=.*: expected a directory" % flag):
      run_config.from_flags(_flags(**{flag: str(f)}))
  with pytest.raises(errors.UserError, match="--output_dir is required"):
    run_config.from_flags(_flags(output_dir=None))


def test_yesno_says_which_extractive_flags_it_ignores(capsys):
  from tasks import qa
  flags = _flags(**{f.name: f.default for f in
                    dataclasses.fields(qa.QaOptions)})
  flags.question_type = "yesno"
  config = run_config.from_flags(flags, qa.QaOptions)
  config.task.validate(dataclasses.replace(
      config, given=frozenset({"doc_stride", "n_best_size", "seed"})))
  assert capsys.readouterr().err == (
      "warning: --doc_stride, --n_best_size: not used by "
      "--question_type=yesno (a classifier of each (question, snippet) "
      "pair, cut to --max_seq_length)\n")
