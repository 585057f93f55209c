"""Question answering: BioBERT's BioASQ task, in one module.

Factoid and list questions with the extractive model of BERT's SQuAD code
(`qa.squad`), yes/no questions with a classifier of each (question,
snippet) pair, both scored as the BioASQ organisers do (`qa.bioasq`,
biocodes/bioasq_eval.py). run_qa.py is its command line.
"""

import collections
import dataclasses
import json
import random

from typing import Optional

import tensorflow.compat.v1 as tf

from biocodes import bioasq_eval
from biocodes import transform_nbset2bioasqform as bioasq_form
import tasks
from finetuning import config as run_config
from finetuning import driver
from finetuning import errors
from finetuning import files
from finetuning import records
from finetuning.options import option
from qa import bioasq
from qa import squad

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
FLAG_DEFAULTS = dict(max_seq_length=384, train_batch_size=32,
                     predict_batch_size=8, learning_rate=5e-5,
                     num_train_epochs=3.0)


class _BioAsqTask(driver.Task):
  """What the two BioASQ tasks share: their files (SQuAD format, one qas id
  per snippet, golden answers in BioASQ JSON) and their dev scores (the
  official measures of the pooled answers).

  A task adds how to read a file's examples (`read_examples`) and the
  answer files of a split (`bioasq_answers`).
  """

  kind = "qa"

  def read_examples(self, path, training, options):
    """The examples of one SQuAD-format file."""
    raise NotImplementedError

  def bioasq_answers(self, context, split, batch_size, record_name):
    """(answer file, answer file with probabilities) of a split."""
    raise NotImplementedError

  def check_config(self, config):
    options = config.task
    if config.do_eval or config.evaluates_during_training:
      if not (options.dev_file and options.dev_golden_file):
        raise errors.UserError(
            "--do_eval and dev evaluation during training need --dev_file "
            "and --dev_golden_file (BioASQ questions and their golden "
            "answers)")
    if not (config.do_train or config.do_predict or config.do_eval):
      raise errors.UserError(
          "At least one of `do_train`, `do_eval` or `do_predict` must be "
          "True.")
    if config.do_train and not options.train_file:
      raise errors.UserError(
          "If `do_train` is True, then `train_file` must be specified.")
    if config.do_predict and not options.predict_file:
      raise errors.UserError(
          "If `do_predict` is True, then `predict_file` must be specified.")

  def read_inputs(self, config):
    options = config.task
    inputs = {}
    if config.do_train:
      examples = self.read_examples(options.train_file, True, options)
      if not examples:
        raise errors.UserError("%s: no usable training question" %
                               options.train_file)
      inputs["train"] = driver.Split(examples, options.train_file)
    if config.do_predict:
      inputs["test"] = driver.Split(
          self.read_examples(options.predict_file, False, options),
          options.predict_file,
          bioasq_eval.load_questions(options.golden_file, "golden")
          if options.golden_file else None)
    if config.do_eval or config.evaluates_during_training:
      inputs["dev"] = driver.Split(
          self.read_examples(options.dev_file, False, options),
          options.dev_file,
          bioasq_eval.load_questions(options.dev_golden_file, "golden"))
    return inputs

  def count_training_examples(self, info):
    return info["questions"]

  def _dev_scores(self, context, split):
    answers, _ = self.bioasq_answers(context, split,
                                     context.config.eval_batch_size,
                                     "dev.tf_record")
    return bioasq_eval.score(split.golden, answers["questions"])

  def evaluate(self, context, split):
    scores = self._dev_scores(context, split)
    return {k: scores[k] for k in bioasq_eval.OFFICIAL_ORDER}

  def dev_score(self, context, split):
    scores = self._dev_scores(context, split)
    metric = bioasq.DEV_METRICS[context.config.task.question_type]
    return metric, scores[metric], {k: scores[k] for k in (
        bioasq_eval.OFFICIAL_ORDER) if k != metric}


class ExtractiveTask(_BioAsqTask):
  """Extractive answers (BERT's SQuAD head): BioASQ factoid and list
  questions, or plain SQuAD."""

  name = "qa"
  head = "span"

  def record_fields(self, training):
    fields = {"unique_ids": records.SCALAR, "input_ids": records.SEQUENCE,
              "input_mask": records.SEQUENCE,
              "segment_ids": records.SEQUENCE}
    if training:
      fields.update(start_positions=records.SCALAR,
                    end_positions=records.SCALAR)
    return fields

  def read_examples(self, path, training, options):
    """The examples of a SQuAD-format file (skipped ones reported)."""
    examples, skipped = squad.read_squad_examples(
        path, training, options.version_2_with_negative,
        options.check_bioasq_ids)
    squad.report_skipped(skipped, len(examples) + len(skipped), path)
    return examples

  def cache_options(self, config):
    options = config.task
    return {"task": "qa", "doc_stride": options.doc_stride,
            "max_query_length": options.max_query_length,
            "seed": config.seed,
            "version_2_with_negative": options.version_2_with_negative,
            "check_bioasq_ids": options.check_bioasq_ids}

  def training_features(self, examples, tokenizer, config, labels):
    examples = list(examples)
    rng = random.Random(12345 if config.seed is None else config.seed)
    rng.shuffle(examples)
    features = squad.convert_examples_to_features(
        examples, tokenizer, config.max_seq_length, config.task.doc_stride,
        config.task.max_query_length, is_training=True)
    return (list(squad.feature_dicts(features, True)),
            {"questions": len(examples)})

  def report_training(self, examples, info, config):
    tf.logging.info("%d training questions make %d windows",
                    len(examples), info["num_features"])

  def _nbest(self, context, split, batch_size, record_name):
    """(predictions, nbest, null odds) of a split's questions."""
    config, options = context.config, context.config.task
    features = squad.convert_examples_to_features(
        split.examples, context.tokenizer, config.max_seq_length,
        options.doc_stride, options.max_query_length, is_training=False)
    tf.logging.info("***** Running predictions *****")
    tf.logging.info("  Num orig examples = %d", len(split.examples))
    tf.logging.info("  Num split examples = %d", len(features))
    predicted = context.predict(list(squad.feature_dicts(features, False)),
                                batch_size, record_name)
    results = [squad.RawResult(int(r["unique_ids"]),
                               [float(x) for x in r["start_logits"]],
                               [float(x) for x in r["end_logits"]])
               for r in predicted]
    return squad.make_predictions(
        split.examples, features, results, options.n_best_size,
        options.max_answer_length, config.do_lower_case,
        options.version_2_with_negative, options.null_score_diff_threshold,
        options.verbose_logging)

  def bioasq_answers(self, context, split, batch_size, record_name):
    """(answer file, answer file with probabilities) of a split."""
    options = context.config.task
    _, nbest, _ = self._nbest(context, split, batch_size, record_name)
    return bioasq_form.transform(nbest, options.question_type,
                                 options.list_threshold, options.list_max)

  def predict(self, context, split):
    config, options = context.config, context.config.task
    predictions, nbest, null_odds = self._nbest(
        context, split, config.predict_batch_size, "eval.tf_record")
    squad.write_predictions(
        config.output_dir, predictions, nbest,
        null_odds if options.version_2_with_negative else None)
    print("Wrote predictions.json and nbest_predictions.json (%d questions) "
          "to %s" % (len(predictions), config.output_dir))
    if options.golden_file or options.question_type == "list":
      answers, with_prob = bioasq_form.transform(
          nbest, options.question_type, options.list_threshold,
          options.list_max)
      bioasq.score_bioasq(answers, with_prob, split.golden,
                          config.output_dir, options.question_type)


class YesNoTask(_BioAsqTask):
  """BioASQ yes/no questions: a classifier over (question, snippet) pairs."""

  name = "qa_yesno"
  head = "sequence_classifier"
  fields = {"input_ids": records.SEQUENCE, "input_mask": records.SEQUENCE,
            "segment_ids": records.SEQUENCE, "label_ids": records.SCALAR}

  def read_examples(self, path, training, options):
    return bioasq.read_yesno_examples(
        path, training, options.check_bioasq_ids or not training)

  def label_list(self, inputs, recorded):
    return list(bioasq.YESNO_LABELS)

  def cache_options(self, config):
    return {"task": self.name,
            "max_query_length": config.task.max_query_length,
            "check_bioasq_ids": config.task.check_bioasq_ids}

  def training_features(self, examples, tokenizer, config, labels):
    return (bioasq.yesno_features(examples, tokenizer,
                                  config.max_seq_length,
                                  config.task.max_query_length),
            {"questions": len(examples)})

  def report_training(self, examples, info, config):
    tf.logging.info("%d (question, snippet) pairs, %d yes", len(examples),
                    sum(ex.label == "yes" for ex in examples))

  def _yes_probabilities(self, context, split, batch_size, record_name):
    config, options = context.config, context.config.task
    features = bioasq.yesno_features(split.examples, context.tokenizer,
                                     config.max_seq_length,
                                     options.max_query_length)
    results = context.predict(features, batch_size, record_name)
    return [float(r["probabilities"][bioasq.YESNO_LABELS.index("yes")])
            for r in results]

  def bioasq_answers(self, context, split, batch_size, record_name):
    yes = self._yes_probabilities(context, split, batch_size, record_name)
    return bioasq.yesno_answer_files(bioasq.aggregate_yesno(
        [ex.qas_id for ex in split.examples], yes,
        context.config.task.yesno_threshold))

  def predict(self, context, split):
    config, options = context.config, context.config.task
    yes = self._yes_probabilities(context, split, config.predict_batch_size,
                                  "eval.tf_record")
    qas_ids = [ex.qas_id for ex in split.examples]
    files.atomic_write(config.path("yesno_predictions.json"), json.dumps(
        collections.OrderedDict(zip(qas_ids, yes)), indent=4) + "\n")
    decisions = bioasq.aggregate_yesno(qas_ids, yes, options.yesno_threshold)
    print("Wrote yesno_predictions.json (%d pairs, %d questions) to %s" %
          (len(qas_ids), len(decisions), config.output_dir))
    answers, with_prob = bioasq.yesno_answer_files(decisions)
    bioasq.score_bioasq(answers, with_prob, split.golden, config.output_dir,
                 "yesno")


KIND = tasks.Kind(
    "qa", "run_qa.py", QaOptions, FLAG_DEFAULTS, "bioasq_scores.json",
    tasks.metrics(
        tasks.Metric("sacc", ("strict_accuracy",), 100, "SAcc"),
        tasks.Metric("lacc", ("lenient_accuracy",), 100, "LAcc"),
        tasks.Metric("mrr", ("mrr",), 100, "MRR"),
        tasks.Metric("list_f1", ("list_f1",), 100, "list F1"),
        tasks.Metric("yesno_accuracy", ("yesno_accuracy",), 100,
                     "yes/no accuracy")),
    ("sacc", "lacc", "mrr"))


def task_of(config):
  """The task a RunConfig runs: yes/no or extractive."""
  return (YesNoTask() if config.task.question_type == "yesno" else
          ExtractiveTask())


def run(config):
  """A run_qa.py run."""
  driver.run(task_of(config), config)
