"""The run configuration: the flags, parsed once, checked, frozen and typed.

`from_flags` turns absl's FLAGS into a `RunConfig` (the flags every runner
shares) holding the task's own options (`task`, a frozen dataclass the
runner defines). Everything below the runner's `main` takes this object or
plain values from it; nothing reads FLAGS.
"""

import dataclasses
import math
import os
from typing import Any, Optional

from absl import flags

from finetuning import errors
from finetuning import files


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """The common flags of the three runners (original names and meanings)."""
  output_dir: str
  data_dir: Optional[str] = None
  bert_config_file: Optional[str] = None
  vocab_file: Optional[str] = None
  init_checkpoint: Optional[str] = None
  task_name: Optional[str] = None
  do_lower_case: bool = True
  max_seq_length: int = 128
  do_train: bool = False
  do_eval: bool = False
  do_predict: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  predict_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_epochs: float = 3.0
  warmup_proportion: float = 0.1
  save_checkpoints_steps: int = 1000
  keep_checkpoint_max: int = 5
  gradient_accumulation_steps: int = 1
  seed: Optional[int] = None
  log_every_n_steps: int = 100
  bucket_by_length: bool = True
  pack_sequences: bool = False
  use_fp16: bool = False
  loss_scale: float = 1024.0
  use_xla: bool = False
  distribution_strategy: str = "none"
  cache_dir: str = ""
  eval_every_n_steps: int = 0
  eval_every_epoch: bool = False
  keep_best: bool = False
  early_stopping_patience: int = 0
  task: Any = None
  # The flags named on the command line (the rest kept their defaults).
  given: frozenset = frozenset()

  @property
  def evaluates_during_training(self):
    """Whether the dev set is scored while training."""
    return self.do_train and bool(self.eval_every_n_steps or
                                  self.eval_every_epoch)

  def path(self, name):
    """`name` inside the output dir."""
    return os.path.join(self.output_dir, name)


def _check(flag, value, ok, expected):
  if not ok:
    raise errors.FlagError(flag, value, expected)


def check_positive_int(flag, value, minimum=1):
  """Raises FlagError unless `value` is an int >= `minimum`."""
  _check(flag, value, isinstance(value, int) and value >= minimum,
         "a whole number >= %d" % minimum)


def check_finite(flag, value, low=None, high=None, low_open=False):
  """Raises FlagError unless `value` is a finite number in the range."""
  ok = isinstance(value, (int, float)) and math.isfinite(value)
  if ok and low is not None:
    ok = value > low if low_open else value >= low
  if ok and high is not None:
    ok = value <= high
  if low_open and high is None:
    expected = "a finite number > %g" % low
  elif high is None:
    expected = "a finite number >= %g" % low
  else:
    expected = "a finite number from %g to %g" % (low, high)
  _check(flag, value, ok, expected)


def validate(config):
  """Checks every numeric flag of `config` (not its task options)."""
  if not config.output_dir:
    raise errors.UserError("--output_dir is required")
  for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
               "save_checkpoints_steps", "keep_checkpoint_max",
               "log_every_n_steps", "gradient_accumulation_steps"):
    check_positive_int(name, getattr(config, name))
  check_positive_int("max_seq_length", config.max_seq_length, 3)
  check_positive_int("eval_every_n_steps", config.eval_every_n_steps, 0)
  check_positive_int("early_stopping_patience",
                     config.early_stopping_patience, 0)
  if config.do_train and (config.keep_best or config.early_stopping_patience
                          ) and not config.evaluates_during_training:
    raise errors.UserError(
        "--keep_best and --early_stopping_patience need dev evaluations "
        "during training: add --eval_every_epoch or --eval_every_n_steps=N")
  if config.evaluates_during_training and (
      config.distribution_strategy == "multi_worker_mirrored"):
    raise errors.UserError(
        "dev evaluation during training runs in one process: it does not go "
        "with --distribution_strategy=multi_worker_mirrored")
  check_finite("learning_rate", config.learning_rate, 0, low_open=True)
  check_finite("num_train_epochs", config.num_train_epochs, 0, low_open=True)
  check_finite("warmup_proportion", config.warmup_proportion, 0, 1)
  check_finite("loss_scale", config.loss_scale, 0, low_open=True)
  if config.seed is not None:
    _check("seed", config.seed, 0 <= config.seed < 2**63,
           "a whole number >= 0")
  problem = files.directory_problem(config.output_dir)
  if problem:
    raise errors.FlagError("output_dir", config.output_dir, problem)
  if config.cache_dir:
    # The cache is shared by runs: making it here writes nothing of the run.
    problem = files.directory_problem(config.cache_dir,
                                      create=config.do_train)
    if problem:
      raise errors.FlagError("cache_dir", config.cache_dir, problem)
  _check_raw_output(config)


def _check_raw_output(config):
  """--raw_output_file must be a file we can write, not the input."""
  raw_in = getattr(config.task, "raw_text_file", None)
  raw_out = getattr(config.task, "raw_output_file", None)
  if not raw_out:
    return
  if os.path.isdir(raw_out):
    raise errors.FlagError("raw_output_file", raw_out,
                           "a file name (this is a directory)")
  problem = files.directory_problem(os.path.dirname(os.path.abspath(raw_out)))
  if problem:
    raise errors.FlagError("raw_output_file", raw_out,
                           "a file in " + problem)
  if raw_in and os.path.exists(raw_out) and os.path.exists(raw_in) and (
      os.path.samefile(raw_in, raw_out)):
    raise errors.FlagError("raw_output_file", raw_out,
                           "another file than --raw_text_file (writing the "
                           "results would overwrite the input)")


def from_flags(flag_values, task_options=None):
  """A checked RunConfig from absl flag values.

  Args:
    flag_values: absl's FLAGS (parsed).
    task_options: the runner's frozen dataclass of its own flags (each field
      named as its flag), or None. Its `validate()` is called if it has one.
  """
  names = [f.name for f in dataclasses.fields(RunConfig)
           if f.name not in ("task", "given")]
  values = {name: getattr(flag_values, name) for name in names}
  values["output_dir"] = values["output_dir"] or ""
  values["cache_dir"] = values["cache_dir"] or ""
  task = None
  if task_options is not None:
    task = task_options(**{f.name: getattr(flag_values, f.name)
                           for f in dataclasses.fields(task_options)})
  given = frozenset(
      name for name in names if isinstance(flag_values, flags.FlagValues) and
      name in flag_values and flag_values[name].present)
  config = RunConfig(task=task, given=given, **values)
  validate(config)
  if task is not None and hasattr(task, "validate"):
    task.validate(config)
  return config
