"""finetuning.options: flags made from the option dataclasses, with the
original names and each runner's defaults."""

import dataclasses
from typing import Optional

from absl import flags
import pytest

from finetuning import config as run_config
from finetuning import options
from finetuning.options import option


def test_defaults_per_runner_and_compat_flags():
  run_config.define_flags(task_name="NER", do_train=True,
                          num_train_epochs=10.0)
  f = flags.FLAGS
  assert f["num_train_epochs"].default == 10.0
  assert f["do_train"].default is True
  assert f["task_name"].default == "NER"
  assert f["max_seq_length"].default == 128
  for name in ("use_tpu", "tpu_name", "num_tpu_cores", "master",
               "iterations_per_loop", "bucket_by_length", "cache_dir"):
    assert name in f, name
  # The flag's default is the field's: one declaration.
  assert f["cache_dir"].default == run_config.RunConfig().cache_dir
  # Defining again (another runner in the same process) only resets defaults.
  run_config.define_flags()
  assert f["num_train_epochs"].default == 3.0
  assert f["do_train"].default is False
  with pytest.raises(ValueError, match="RunConfig has no option"):
    run_config.define_flags(num_epochs=3)


def test_a_new_option_is_one_field():
  @dataclasses.dataclass(frozen=True)
  class Toy:
    window: int = option(7, "Window size.")
    mode: str = option("fast", "How.", choices=["fast", "exact"])
    label: Optional[str] = option(None, "A label.")
    weight: float = option(0.5, "A weight.")
    verbose: bool = option(False, "Talk.")
    internal: int = 3  # not a flag

  values = flags.FlagValues()
  options.define_flags(Toy, {"window": 9}, flag_values=values)
  values(["prog", "--mode=exact", "--weight=2", "--verbose"])
  assert options.values(Toy, values) == {
      "window": 9, "mode": "exact", "label": None, "weight": 2.0,
      "verbose": True}
  assert "internal" not in values
  assert values["window"].help == "Window size."
  with pytest.raises(flags.IllegalFlagValueError):
    values(["prog", "--mode=slow"])


def test_the_three_runners_share_one_process():
  import run_ner  # noqa: F401
  import run_qa  # noqa: F401
  import run_re  # noqa: F401
  for name in ("raw_text_file", "raw_output_file", "train_file",
               "question_type", "eval_every_epoch", "entity_type",
               "gradient_accumulation_steps"):
    assert name in flags.FLAGS, name
