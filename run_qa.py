# coding=utf-8
r"""BioBERT question answering (BioASQ factoid, SQuAD format): train and predict.

    python run_qa.py --do_train=True --do_predict=True \
      --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --max_seq_length=384 --train_batch_size=12 --learning_rate=5e-6 \
      --doc_stride=128 --num_train_epochs=5.0 --do_lower_case=False \
      --train_file=$QA_DIR/BioASQ-train-factoid-4b.json \
      --predict_file=$QA_DIR/BioASQ-test-factoid-4b-1.json \
      --output_dir=$OUTPUT_DIR

Writes predictions.json and nbest_predictions.json as BERT's SQuAD code did.
With --golden_file (a BioASQ golden JSON) it also writes the BioASQ answer
file (biocodes/transform_nbset2bioasqform.py) and prints the factoid scores
(biocodes/bioasq_eval.py), in the same run.
"""


import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines

import dataclasses
from typing import Optional

from absl import flags

from biocodes import transform_nbset2bioasqform as bioasq_form
from finetuning import config as run_config
from finetuning import driver
from finetuning import errors
from finetuning.options import option
from qa import tasks



# Options of the extractive model (factoid and list questions) only.
EXTRACTIVE_ONLY = ("doc_stride", "n_best_size", "max_answer_length",
                   "version_2_with_negative", "null_score_diff_threshold",
                   "list_threshold", "list_max", "verbose_logging")


@dataclasses.dataclass(frozen=True)
class QaOptions:
  """The flags of run_qa.py beyond the common ones."""
  train_file: Optional[str] = option(
      None, "SQuAD-format JSON for training. E.g., "
      "BioASQ-train-factoid-4b.json")
  predict_file: Optional[str] = option(
      None, "SQuAD-format JSON for predictions. E.g., "
      "BioASQ-test-factoid-4b-1.json")
  doc_stride: int = option(
      128, "When splitting up a long document into chunks, how much stride "
      "to take between chunks.")
  max_query_length: int = option(
      64, "The maximum number of tokens for the question. Longer questions "
      "are truncated to this length.")
  n_best_size: int = option(
      20, "The total number of n-best predictions to generate in the "
      "nbest_predictions.json output file.")
  max_answer_length: int = option(
      30, "The maximum length of an answer that can be generated, in word "
      "pieces.")
  verbose_logging: bool = option(
      False, "Log warnings about answers that cannot be mapped back to the "
      "original text.")
  version_2_with_negative: bool = option(
      False, "If true, the SQuAD examples contain some that do not have an "
      "answer.")
  null_score_diff_threshold: float = option(
      0.0, "If null_score - best_non_null is greater than the threshold "
      "predict null.")
  golden_file: Optional[str] = option(
      None, "BioASQ golden JSON: after prediction, write the BioASQ answer "
      "file and print factoid SAcc/LAcc/MRR.")
  check_bioasq_ids: bool = option(
      True, "Require BioASQ qas ids (<24-character id>_<3 digits>). Set "
      "false for plain SQuAD data.")
  dev_file: Optional[str] = option(
      None, "Development questions (SQuAD-format JSON, BioASQ ids) with "
      "--dev_golden_file: scored with the BioASQ rules by --do_eval and by "
      "--eval_every_epoch / --eval_every_n_steps (factoid: MRR, list: F1, "
      "yes/no: macro F1).")
  dev_golden_file: Optional[str] = option(
      None, "BioASQ golden JSON of --dev_file.")
  question_type: str = option(
      "factoid", "factoid: extractive answers, the top 5 in the BioASQ form "
      "(the original). list: the same model, the answers above "
      "--list_threshold. yesno: a yes/no classifier over (question, "
      "snippet) pairs, averaged per question.",
      choices=["factoid", "list", "yesno"])
  list_threshold: float = option(
      bioasq_form.LIST_THRESHOLD, "List questions: keep an answer whose "
      "probability summed over the question's snippets, divided by their "
      "number, is at least this.")
  list_max: int = option(bioasq_form.LIST_MAX,
                         "List questions: at most this many answers.")
  yesno_threshold: float = option(
      0.5, "Yes/no questions: answer yes when the mean probability of yes "
      "over the question's snippets is at least this.")

  def validate(self, config):
    """Raises FlagError for a value that cannot work."""
    for name in ("doc_stride", "max_query_length", "n_best_size",
                 "max_answer_length", "list_max"):
      run_config.check_positive_int(name, getattr(self, name))
    for name in ("list_threshold", "yesno_threshold"):
      run_config.check_finite(name, getattr(self, name), 0, 1)
    run_config.check_finite("null_score_diff_threshold",
                            self.null_score_diff_threshold, float("-inf"))
    if config.max_seq_length <= self.max_query_length + 3:
      raise errors.UserError(
          "The max_seq_length (%d) must be greater than max_query_length "
          "(%d) + 3" % (config.max_seq_length, self.max_query_length))
    if self.question_type == "yesno":
      unused = sorted(set(EXTRACTIVE_ONLY) & config.given)
      if unused:
        errors.warn("%s: not used by --question_type=yesno (a classifier of "
                    "each (question, snippet) pair, cut to --max_seq_length)"
                    % ", ".join("--" + n for n in unused))


# The original run_qa.py's defaults.
run_config.define_flags(QaOptions, max_seq_length=384, train_batch_size=32,
                        predict_batch_size=8, learning_rate=5e-5,
                        num_train_epochs=3.0)
FLAGS = flags.FLAGS


def main(_):
  config = run_config.from_flags(FLAGS, QaOptions)
  task = (tasks.YesNoTask() if config.task.question_type == "yesno" else
          tasks.ExtractiveTask())
  driver.run(task, config)


if __name__ == "__main__":
  driver.start(main)
