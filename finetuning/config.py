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
from finetuning import feature_cache
from finetuning import files
from finetuning import options
from finetuning.options import option


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """The options every runner shares, with the original names and meanings.

  Each is a flag (`options.define_flags`); a runner changes only defaults.
  """
  # Paths.
  output_dir: str = option(
      None, "Where checkpoints, predictions and the run record are written.")
  data_dir: Optional[str] = option(
      None, "The input data dir. Should contain the .tsv files for the task.")
  bert_config_file: Optional[str] = option(
      None, "The config json file of the pre-trained BERT model.")
  vocab_file: Optional[str] = option(
      None, "The vocabulary file of the BERT model.")
  init_checkpoint: Optional[str] = option(
      None, "Initial checkpoint (usually from a pre-trained BERT model).")
  task_name: Optional[str] = option(None, "The name of the task.")
  # Model input.
  do_lower_case: bool = option(
      True, "Lower case the input text. True for uncased models, False for "
      "cased ones (BioBERT is cased).")
  max_seq_length: int = option(
      128, "Maximum total input length in WordPiece tokens, [CLS] and [SEP] "
      "included.")
  # What to do.
  do_train: bool = option(False, "Whether to run training.")
  do_eval: bool = option(False, "Whether to run eval on the dev set.")
  do_predict: bool = option(False,
                            "Whether to run prediction on the test set.")
  # Optimisation.
  train_batch_size: int = option(32, "Total batch size for training.")
  eval_batch_size: int = option(8, "Total batch size for eval.")
  predict_batch_size: int = option(8, "Total batch size for predict.")
  learning_rate: float = option(5e-5, "The initial learning rate for Adam.")
  num_train_epochs: float = option(
      3.0, "Total number of training epochs to perform.")
  max_train_steps: int = option(
      0, "Train at most this many steps (0: no limit; a budget for large "
      "data sets). Warmup and decay are over the steps trained.")
  warmup_proportion: float = option(
      0.1, "Proportion of training to perform linear learning rate warmup "
      "for. E.g., 0.1 = 10% of training.")
  save_checkpoints_steps: int = option(
      1000, "How often to save the model checkpoint.")
  keep_checkpoint_max: int = option(5, "How many recent checkpoints to keep.")
  gradient_accumulation_steps: int = option(
      1, "Add up the gradients of K batches of --train_batch_size before "
      "each update: the update of a K times larger batch in the memory of "
      "one. Steps, --save_checkpoints_steps and the learning-rate schedule "
      "count updates.")
  seed: Optional[int] = option(
      None, "Random seed (graph-level seed and data shuffling) for "
      "reproducible runs. Unset: a different run each time, as the "
      "original.")
  log_every_n_steps: int = option(
      100, "How often training prints progress, speed and ETA (a short run: "
      "about every 5 % of its steps).")
  # Speed (README "Speed").
  bucket_by_length: bool = option(
      True, "Store examples unpadded and batch them by similar length, each "
      "batch padded only to its longest member (a multiple of 8): the same "
      "predictions, much less compute on padding; training batches are made "
      "of examples of similar length. --bucket_by_length=false: pad every "
      "example to --max_seq_length and batch in the shuffled order, exactly "
      "as the original.")
  pack_sequences: bool = option(
      False, "run_ner.py: pack several sentences into each row of "
      "--max_seq_length (positions restart, each sentence attends to itself "
      "only). A training batch holds the same --train_batch_size sentences as "
      "a padded one; predictions equal the padded ones up to float rounding. "
      "Overrides --bucket_by_length.")
  use_fp16: bool = option(
      False, "Mixed precision: float16 with loss scaling on a GPU "
      "(TensorFlow's graph rewrite), bfloat16 on a CPU that supports it "
      "(AVX512_BF16 / AMX; the dense layers, attention and GELU compute in "
      "bfloat16, the rest in float32). Variables stay float32.")
  loss_scale: float = option(1024.0,
                             "Static loss scale for --use_fp16 on a GPU.")
  use_xla: bool = option(False, "Compile the graph with XLA.")
  distribution_strategy: str = option(
      "none", "none: the original single-device training. one_device: one "
      "GPU (or the CPU). mirrored: all local GPUs. multi_worker_mirrored: "
      "several machines described by TF_CONFIG. With a strategy, "
      "--train_batch_size is per replica: the global batch is "
      "train_batch_size x replicas, and the number of steps is divided by "
      "the number of replicas.",
      choices=["none", "one_device", "mirrored", "multi_worker_mirrored"])
  cache_dir: str = option(
      feature_cache.DEFAULT_CACHE_DIR, "Where tokenized training features "
      "are kept, keyed by the input file's and the vocab's content, casing, "
      "max_seq_length and labels, so that a re-run skips tokenization. "
      "Empty: no cache (write train.tf_record into --output_dir, as the "
      "original).")
  # Choosing the model on the development set (README "Choosing the model
  # on dev").
  eval_every_n_steps: int = option(
      0, "Score the dev set with the task's real metric (NER entity F1, RE "
      "F1) every N training steps: printed, appended to dev_scores.jsonl "
      "and written for TensorBoard. 0: only at the end (--do_eval).")
  eval_every_epoch: bool = option(
      False, "Score the dev set after every epoch (as --eval_every_n_steps "
      "with the steps of one epoch).")
  keep_best: bool = option(
      False, "Keep the checkpoint with the best dev score in "
      "<output_dir>/best/; evaluation, prediction and export use it from "
      "then on. Needs dev evaluations during training.")
  early_stopping_patience: int = option(
      0, "Stop training after this many dev evaluations without improvement "
      "(0: never).")
  task: Any = None
  # The flags named on the command line (the rest kept their defaults),
  # the task's too.
  given: frozenset = frozenset()

  @property
  def evaluates_during_training(self):
    """Whether the dev set is scored while training."""
    return self.do_train and bool(self.eval_every_n_steps or
                                  self.eval_every_epoch)

  def path(self, name):
    """`name` inside the output dir."""
    return os.path.join(self.output_dir, name)


@dataclasses.dataclass(frozen=True)
class RawTextOptions:
  """Tagging raw text with a trained model (run_ner.py, run_re.py)."""
  raw_text_file: Optional[str] = option(
      None, "Raw text to predict with the model in --output_dir. "
      "run_ner.py: plain text, one sentence or paragraph a line; writes JSON "
      "Lines of the entities found. run_re.py: JSON Lines {\"text\": ..., "
      "\"entities\": [{\"start\", \"end\", \"type\"}, ...]} (run_ner.py's "
      "raw_text_predictions.jsonl, typed; see its --entity_type); every pair "
      "of entities of the task's two types is masked as the data sets mask "
      "them (@GENE$, @DISEASE$, @CHEMICAL$) and classified.")
  raw_output_file: Optional[str] = option(
      None, "Where --raw_text_file results go (default: <output_dir>/"
      "raw_text_predictions.jsonl for run_ner.py, raw_re_predictions.jsonl "
      "for run_re.py).")


@dataclasses.dataclass(frozen=True)
class CompatOptions:
  """Flags of the TPU-era scripts, accepted so that old commands run."""
  iterations_per_loop: int = option(
      1000, "Accepted for compatibility (TPU only); ignored.")
  use_tpu: bool = option(False, "Accepted for compatibility; TPUs are not "
                         "supported.")
  tpu_name: Optional[str] = option(None, "Accepted for compatibility; "
                                   "ignored.")
  tpu_zone: Optional[str] = option(None, "Accepted for compatibility; "
                                   "ignored.")
  gcp_project: Optional[str] = option(None, "Accepted for compatibility; "
                                      "ignored.")
  master: Optional[str] = option(None, "Accepted for compatibility; "
                                 "ignored.")
  num_tpu_cores: int = option(8, "Accepted for compatibility; ignored.")


def define_flags(task_options=None, **defaults):
  """The flags of a runner: the common ones with this runner's `defaults`
  (the original scripts' differ), the compatibility ones, and those of its
  `task_options` dataclass."""
  options.define_flags(RunConfig, defaults)
  options.define_flags(CompatOptions)
  if task_options is not None:
    options.define_flags(task_options)


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
  check_positive_int("max_train_steps", config.max_train_steps, 0)
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
  values = options.values(RunConfig, flag_values)
  values["output_dir"] = values["output_dir"] or ""
  values["cache_dir"] = values["cache_dir"] or ""
  task = None
  names = list(values)
  if task_options is not None:
    task_values = options.values(task_options, flag_values)
    task = task_options(**task_values)
    names += list(task_values)
  given = frozenset(
      name for name in names if isinstance(flag_values, flags.FlagValues)
      and name in flag_values and flag_values[name].present)
  config = RunConfig(task=task, given=given, **values)
  validate(config)
  if task is not None and hasattr(task, "validate"):
    task.validate(config)
  return config
