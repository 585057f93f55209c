# coding=utf-8
r"""BioBERT relation extraction (GAD, EU-ADR, ChemProt): fine-tune and predict.

    python run_re.py --task_name=gad --do_train=true --do_eval=true \
      --do_predict=true --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --max_seq_length=128 --train_batch_size=32 --learning_rate=2e-5 \
      --num_train_epochs=3.0 --do_lower_case=false --data_dir=$RE_DIR \
      --output_dir=$OUTPUT_DIR

The data dir holds train.tsv and dev.tsv (`sentence<TAB>label`) and test.tsv
(`index<TAB>sentence<TAB>label` after a header), entities masked as
@GENE$, @DISEASE$ or @CHEMICAL$. --do_predict writes test_results.tsv (class
probabilities, one line per test example) and prints the scores of
biocodes/re_eval.py; --do_eval writes eval_results.txt. Run all folds with
biocodes/run_re_folds.py.
"""


import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines

import collections
import dataclasses
import json
import math
import os

from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

from biocodes import re_datasets
from biocodes import re_eval
from biocodes import re_io
from finetuning import config as run_config
from finetuning import driver
from finetuning import errors
from finetuning import feature_cache
from finetuning import files
from finetuning import records


RawPair = collections.namedtuple(
    "RawPair", ["line", "text", "masked", "entities"])


@dataclasses.dataclass(frozen=True)
class ReOptions(run_config.RawTextOptions):
  """The flags of run_re.py beyond the common ones."""


run_config.define_flags(ReOptions)  # the original run_re.py's defaults
FLAGS = flags.FLAGS


def _entity(path, number, text, k, entity):
  """A checked entity dict {start, end, type (upper case or None)}."""
  if not isinstance(entity, dict):
    raise errors.InputError(path, number, "entities[%d]: expected an object "
                            "with \"start\", \"end\" and \"type\"" % k)
  start, end, kind = entity.get("start"), entity.get("end"), entity.get(
      "type")
  if not (isinstance(start, int) and isinstance(end, int) and
          0 <= start < end <= len(text)):
    raise errors.InputError(path, number, "entities[%d]: span %r-%r is not "
                            "inside the text (0-%d)" % (k, start, end,
                                                        len(text)))
  if "text" in entity and entity["text"] != text[start:end]:
    raise errors.InputError(path, number, "entities[%d]: \"text\" %r is not "
                            "what the span holds (%r)" %
                            (k, entity["text"], text[start:end]))
  if kind is not None and (not isinstance(kind, str) or
                           kind.upper() not in re_datasets.ENTITY_TYPES):
    raise errors.InputError(path, number, "entities[%d]: type %r is not one "
                            "of %s" % (k, kind,
                                       ", ".join(re_datasets.ENTITY_TYPES)))
  return {"start": start, "end": end, "text": text[start:end],
          "type": kind.upper() if kind else None}


def mask_pair(text, first, second):
  """`text` with both entities replaced by @TYPE$ (the data sets' masks)."""
  for e in sorted((first, second), key=lambda e: -e["start"]):
    text = text[:e["start"]] + "@%s$" % e["type"] + text[e["end"]:]
  return text


def read_raw_pairs(path, types):
  """Every pair (an entity of types[0], one of types[1]) of every line.

  Returns:
    (pairs, lines read, entities without a type or of another task).
  """
  lines = files.read_text_lines(path, "JSON Lines: {\"text\", "
                                "\"entities\": [...]}")
  pairs, ignored, n = [], 0, 0
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    n += 1
    record = files.parse_json(line, path, "a JSON object {\"text\", "
                              "\"entities\": [...]}", line=number)
    text = record.get("text") if isinstance(record, dict) else None
    found = record.get("entities") if isinstance(record, dict) else None
    if not isinstance(text, str) or not isinstance(found, list):
      raise errors.InputError(path, number, "expected {\"text\": string, "
                              "\"entities\": [...]}")
    entities = [_entity(path, number, text, k, e)
                for k, e in enumerate(found)]
    ignored += sum(1 for e in entities if e["type"] not in types)
    for i, a in enumerate(entities):
      for j, b in enumerate(entities):
        # One of the first type with one of the second; of a data set that
        # relates two entities of one type, each two once.
        if not (a["type"] == types[0] and b["type"] == types[1]) or (
            types[0] == types[1] and j <= i):
          continue
        if a["start"] < b["end"] and b["start"] < a["end"]:
          raise errors.InputError(path, number, "entities %r and %r overlap"
                                  % (a["text"], b["text"]))
        pairs.append(RawPair(number, text, mask_pair(text, a, b), [a, b]))
  return pairs, n, ignored

InputExample = collections.namedtuple("InputExample",
                                      ["guid", "text", "label"])


class ReProcessor(object):
  """A BioBERT RE data dir of a data set of biocodes/re_datasets.py.
  Subclass it for another file layout."""

  train_file = "train.tsv"
  dev_file = "dev.tsv"
  test_file = "test.tsv"

  def __init__(self, dataset):
    self.labels = dataset.labels

  def get_labels(self):
    """The task's labels, in the order of the model's outputs."""
    return list(self.labels)

  def get_train_examples(self, data_dir):
    """Training examples."""
    return self._read(data_dir, self.train_file, "train")

  def get_dev_examples(self, data_dir):
    """Evaluation examples ([] for an empty file, as GAD/EU-ADR ship)."""
    return self._read(data_dir, self.dev_file, "dev", allow_empty=True)

  def get_test_examples(self, data_dir):
    """Prediction examples, in file order."""
    return self._read(data_dir, self.test_file, "test")

  def _read(self, data_dir, name, set_type, allow_empty=False):
    path = os.path.join(data_dir, name)
    if not os.path.isfile(path):
      raise errors.InputError(
          path, None, "file not found. An RE data dir holds %s, %s and %s" %
          (self.train_file, self.dev_file, self.test_file))
    rows = re_io.read_rows(path, labels=self.get_labels(),
                           allow_empty=allow_empty)
    return driver.Split(
        [InputExample("%s-%s" % (set_type, r.index), r.sentence, r.label)
         for r in rows], path)


def convert_examples(examples, label_list, tokenizer, max_seq_length):
  """Unpadded `[CLS] sentence [SEP]` features, cut to `max_seq_length`.

  Returns:
    (features, number of examples that were cut).
  """
  label_map = {label: i for i, label in enumerate(label_list)}
  features = []
  n_cut = 0
  for ex_index, ex in enumerate(examples):
    tokens = tokenizer.tokenize(ex.text)
    if len(tokens) > max_seq_length - 2:
      n_cut += 1
      tokens = tokens[:max_seq_length - 2]
    tokens = ["[CLS]"] + tokens + ["[SEP]"]
    features.append({
        "input_ids": tokenizer.convert_tokens_to_ids(tokens),
        "input_mask": [1] * len(tokens),
        "segment_ids": [0] * len(tokens),
        "label_ids": [label_map[ex.label]],
    })
    if ex_index < 3:
      tf.logging.info("*** Example %s ***", ex.guid)
      tf.logging.info("tokens: %s", " ".join(tokens))
      tf.logging.info("label: %s", ex.label)
  return features, n_cut


def _report_cut(n_cut, n, name, max_seq_length):
  message = ("%d of %d %s sentences are longer than %d word pieces and were "
             "cut to fit --max_seq_length=%d" %
             (n_cut, n, name, max_seq_length - 2, max_seq_length))
  tf.logging.info(message)
  if n_cut:
    print(message)


def format_probabilities(probabilities):
  """test_results.tsv lines: probabilities tab-separated, label order."""
  return "".join("\t".join(str(p) for p in row) + "\n"
                 for row in probabilities)


def accuracy_and_loss(results, examples, label_list):
  """eval_results.txt of the dev set: accuracy and mean loss."""
  right = sum(int(r["probabilities"].argmax()) == label_list.index(ex.label)
              for r, ex in zip(results, examples))
  loss = np.float32(math.fsum(float(r["per_example_loss"]) for r in results) /
                    len(results))
  return {"eval_accuracy": np.float32(right / len(results)),
          "eval_loss": loss, "loss": loss}


def one_class_warning(probabilities, labels):
  """A warning when every row gets the same class (recall 100 and
  specificity 0, or the reverse, look like a score), or None."""
  predicted = {int(np.argmax(p)) for p in probabilities}
  if len(probabilities) < 2 or len(predicted) != 1:
    return None
  return ("the model predicts %r for all %d test rows: it has learned one "
          "class only. Train longer, or change --learning_rate" %
          (labels[predicted.pop()], len(probabilities)))


class ReTask(driver.Task):
  """Sentence classification of masked entity pairs (GAD, EU-ADR, ChemProt)."""

  head = "sequence_classifier"
  fields = {"input_ids": records.SEQUENCE,
            "input_mask": records.SEQUENCE,
            "segment_ids": records.SEQUENCE,
            "label_ids": records.SCALAR}

  def __init__(self, dataset):
    self.dataset = dataset
    self.name = dataset.name
    self.processor = ReProcessor(dataset)

  @classmethod
  def of_config(cls, config):
    """The task of --task_name; FlagError for an unknown one."""
    if not config.task_name:
      raise errors.UserError("--task_name is required")
    dataset = re_datasets.get(config.task_name)
    if dataset is None:
      raise errors.FlagError("task_name", config.task_name, "one of " +
                             ", ".join(sorted(re_datasets.DATASETS)))
    return cls(dataset)

  def check_config(self, config):
    raw = config.task is not None and config.task.raw_text_file
    if not (config.do_train or config.do_eval or config.do_predict or raw):
      raise errors.UserError("At least one of `do_train`, `do_eval`, "
                             "`do_predict' or `raw_text_file` must be set.")
    if (config.do_train or config.do_eval or config.do_predict) and not (
        config.data_dir):
      raise errors.UserError("--data_dir is required")

  def read_inputs(self, config):
    inputs = {}
    if config.do_train:
      inputs["train"] = self.processor.get_train_examples(config.data_dir)
    if config.do_eval or config.evaluates_during_training:
      inputs["dev"] = self.processor.get_dev_examples(config.data_dir)
    if config.do_predict:
      inputs["test"] = self.processor.get_test_examples(config.data_dir)
    if config.task is not None and config.task.raw_text_file:
      inputs["raw"] = read_raw_pairs(config.task.raw_text_file,
                                     self.dataset.entity_types)
    return inputs

  def label_list(self, inputs, recorded):
    return self.processor.get_labels()

  def cache_options(self, config):
    return {"task": self.name}

  def training_features(self, examples, tokenizer, config, labels):
    parts = feature_cache.parallel_chunks(
        lambda chunk: convert_examples(chunk, labels, tokenizer,
                                       config.max_seq_length), examples)
    return ([f for feats, _ in parts for f in feats],
            {"cut": sum(n for _, n in parts)})

  def report_training(self, examples, info, config):
    _report_cut(info["cut"], len(examples), "training",
                config.max_seq_length)

  def _predict(self, context, split, what, batch_size, record_name):
    seq = context.config.max_seq_length
    features, n_cut = convert_examples(split.examples, context.labels,
                                       context.tokenizer, seq)
    _report_cut(n_cut, len(split.examples), what, seq)
    return context.predict(features, batch_size, record_name)

  def evaluate(self, context, split):
    if not split.examples:
      message = ("%s is empty: nothing to evaluate (the GAD and EU-ADR "
                 "releases ship an empty dev.tsv); skipping --do_eval" %
                 split.path)
      tf.logging.warning(message)
      print(message)
      return None
    results = self._predict(context, split, "dev",
                            context.config.eval_batch_size, "eval.tf_record")
    return accuracy_and_loss(results, split.examples, context.labels)

  def dev_score(self, context, split):
    results = self._predict(context, split, "dev",
                            context.config.eval_batch_size, "eval.tf_record")
    scores, _ = re_eval.score([r["probabilities"] for r in results],
                              [ex.label for ex in split.examples],
                              self.dataset)
    scores = dict(scores)
    return (re_datasets.MAIN_SCORE[self.dataset.metric],
            scores.pop("f1 score"), scores)

  def predict(self, context, split):
    results = self._predict(context, split, "test",
                            context.config.predict_batch_size,
                            "predict.tf_record")
    probabilities = [r["probabilities"] for r in results]
    path = context.config.path("test_results.tsv")
    files.atomic_write(path, format_probabilities(probabilities))
    print("Wrote %d predictions to %s" % (len(probabilities), path))
    scores, notes = re_eval.score(probabilities,
                                  [ex.label for ex in split.examples],
                                  self.dataset)
    print("***** test scores (biocodes/re_eval.py) *****")
    print(re_eval.format_scores(scores), end="")
    for note in notes:
      print("note: %s" % note)
    warning = one_class_warning(probabilities, context.labels)
    if warning:
      errors.warn(warning)
    files.atomic_write(context.config.path("re_scores.json"),
                       json.dumps(dict(scores), indent=2) + "\n")


  def raw_text(self, context, raw):
    pairs, n_lines, ignored = raw
    config = context.config
    labels = context.labels
    examples = [InputExample("raw-%d" % i, p.masked, labels[0])
                for i, p in enumerate(pairs)]
    results = (self._predict(context, driver.Split(examples, None),
                             "raw text", config.predict_batch_size,
                             "raw.tf_record") if examples else [])
    out = config.task.raw_output_file or config.path(
        "raw_re_predictions.jsonl")
    files.atomic_write(out, "".join(json.dumps({
        "line": p.line, "text": p.text, "masked": p.masked,
        "entities": p.entities,
        "probabilities": {l: float(x) for l, x in zip(
            labels, r["probabilities"])}}, ensure_ascii=False) + "\n"
                                   for p, r in zip(pairs, results)))
    print("Classified %d entity pairs of %d lines (%d entities of other "
          "types or untyped were not paired): %s" %
          (len(pairs), n_lines, ignored, out))
    if not pairs and ignored:
      errors.warn("no entity pair of types %s: entities of an untyped NER "
                  "model get a type from run_ner.py --entity_type=TYPE" %
                  " and ".join(self.dataset.entity_types))


def main(_):
  config = run_config.from_flags(FLAGS, ReOptions)
  driver.run(ReTask.of_config(config), config)


if __name__ == "__main__":
  driver.start(main)
