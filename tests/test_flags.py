"""finetuning.flags: the original flag names, each runner's defaults."""

from absl import flags

from finetuning import flags as common_flags


def test_defaults_per_runner_and_compat_flags():
  common_flags.define_common_flags(task_name="NER", do_train=True,
                                   num_train_epochs=10.0)
  f = flags.FLAGS
  assert f["num_train_epochs"].default == 10.0
  assert f["do_train"].default is True
  assert f["task_name"].default == "NER"
  assert f["max_seq_length"].default == 128
  for name in ("use_tpu", "tpu_name", "num_tpu_cores", "master",
               "iterations_per_loop", "bucket_by_length", "cache_dir"):
    assert name in f, name
  # Defining again (another runner in the same process) only resets defaults.
  common_flags.define_common_flags()
  assert f["num_train_epochs"].default == 3.0
  assert f["do_train"].default is False


def test_the_three_runners_share_one_process():
  import run_ner  # noqa: F401
  import run_qa  # noqa: F401
  import run_re  # noqa: F401
  for name in ("raw_text_file", "raw_output_file", "train_file",
               "question_type", "eval_every_epoch",
               "gradient_accumulation_steps"):
    assert name in flags.FLAGS, name
