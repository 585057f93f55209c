"""Relation extraction: BioBERT's RE task, in one module.

Sentence classification of an entity pair, the two entities masked as
@TYPE$ (BioBERT's data sets) or, with --entity_markers, marked with their
types. Its data sets (labels, masks, metric) are the relation tables of
tasks/datasets.toml. Reading the TSV files, the classifier's features,
test_results.tsv and the re_eval.py scores, and the pairs of raw text.
run_re.py is its command line.
"""

import collections
import dataclasses
import json
import math
import os

import numpy as np
import tensorflow.compat.v1 as tf

from biocodes import re_eval
from biocodes import re_io
import tasks
from finetuning import config as run_config
from finetuning import driver
from finetuning import errors
from finetuning import feature_cache
from finetuning import files
from finetuning import records
from finetuning import run_dir
from finetuning.options import option
from tasks import datasets


RawPair = collections.namedtuple(
    "RawPair", ["line", "text", "masked", "entities"])


@dataclasses.dataclass(frozen=True)
class ReOptions(run_config.RawTextOptions):
  """The flags of run_re.py beyond the common ones."""
  entity_markers: bool = option(
      False, "Typed markers around the two entities instead of @TYPE$ masks "
      "(`@ * chemical * aspirin @ ... # ^ gene ^ COX-2 #`): the data's "
      "sentences hold them (biocodes/convert_official.py --entity_markers), "
      "and raw-text RE and tag_corpus.py mark pairs so. Recorded with the "
      "trained model.")


FLAG_DEFAULTS = {}  # the original run_re.py's defaults are the common ones


def _entity(path, number, text, k, entity, known_types):
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
                           kind.upper() not in known_types):
    raise errors.InputError(path, number, "entities[%d]: type %r is not one "
                            "of %s" % (k, kind, ", ".join(known_types)))
  return {"start": start, "end": end, "text": text[start:end],
          "type": kind.upper() if kind else None}


def pair_text(text, first, second, markers=False):
  """`text` with the two entities ({start, end, type}) masked as @TYPE$,
  or with `markers` marked (`biocodes.re_io.mark_pair`)."""
  spans = [re_io.Span(e["start"], e["end"], e["type"])
           for e in (first, second)]
  return (re_io.mark_pair if markers else re_io.mask_pair)(text, *spans)


def read_raw_pairs(path, types, markers=False):
  """Every pair (an entity of types[0], one of types[1]) of every line.

  Returns:
    (pairs, lines read, entities without a type or of another task).
  """
  lines = files.read_text_lines(path, "JSON Lines: {\"text\", "
                                "\"entities\": [...]}")
  pairs, ignored, n = [], 0, 0
  known_types = datasets.relation_entity_types()
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
    entities = [_entity(path, number, text, k, e, known_types)
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
        pairs.append(RawPair(number, text, pair_text(text, a, b, markers),
                             [a, b]))
  return pairs, n, ignored

InputExample = collections.namedtuple("InputExample",
                                      ["guid", "text", "label"])


class ReProcessor(object):
  """A BioBERT RE data dir of a relation data set of tasks/datasets.toml.
  Subclass it for another file layout."""

  train_file = "train.tsv"
  dev_file = "dev.tsv"
  test_file = "test.tsv"

  def __init__(self, dataset, markers=False):
    self.labels = dataset.labels
    self.markers = markers

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
    for r in rows:
      if re_io.has_markers(r.sentence) != self.markers:
        raise errors.InputError(path, r.line, (
            "expected the two entities marked (@ * type * ... @ and # ^ type "
            "^ ... #), as biocodes/convert_official.py --entity_markers "
            "writes them, for --entity_markers=true" if self.markers else
            "the entities are marked (@ * type * ... @, # ^ type ^ ... #): "
            "give --entity_markers=true for such data"))
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
  """Sentence classification of masked (or marked) entity pairs."""

  kind = "re"

  head = "sequence_classifier"
  fields = {"input_ids": records.SEQUENCE,
            "input_mask": records.SEQUENCE,
            "segment_ids": records.SEQUENCE,
            "label_ids": records.SCALAR}

  def __init__(self, dataset, markers=False):
    self.dataset = dataset
    self.name = dataset.task_name
    self.markers = markers
    self.processor = ReProcessor(dataset, markers)

  @classmethod
  def of_config(cls, config):
    """The task of --task_name; FlagError for an unknown one."""
    if not config.task_name:
      raise errors.UserError("--task_name is required")
    dataset = datasets.relation_set(config.task_name)
    if dataset is None:
      raise errors.FlagError("task_name", config.task_name, "a relation data "
                             "set of tasks/datasets.toml: " + ", ".join(
                                 sorted(datasets.of_kind("re"))))
    return cls(dataset, bool(config.task and config.task.entity_markers))

  def dataset_name(self, config):
    del config
    return self.dataset.task_name

  def check_config(self, config):
    raw = config.task is not None and config.task.raw_text_file
    if not (config.do_train or config.do_eval or config.do_predict or raw):
      raise errors.UserError("At least one of `do_train`, `do_eval`, "
                             "`do_predict' or `raw_text_file` must be set.")
    if (config.do_train or config.do_eval or config.do_predict) and not (
        config.data_dir):
      raise errors.UserError("--data_dir is required")
    recorded = (None if config.do_train else
                run_dir.read_manifest(config.output_dir))
    if recorded and "training" in recorded and bool(
        recorded["training"].get("entity_markers")) != self.markers:
      raise errors.FlagError(
          "entity_markers", str(self.markers).lower(), "%s: the model in %s "
          "was trained %s entity markers" % (
              str(not self.markers).lower(), config.output_dir,
              "without" if self.markers else "with"))

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
                                     self.dataset.entity_types, self.markers)
    return inputs

  def label_list(self, inputs, recorded):
    return self.processor.get_labels()

  def cache_options(self, config):
    options = {"task": self.name}
    if self.markers:  # what a run without the flag recorded stays the same
      options["entity_markers"] = True
    return options

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
    return (datasets.MAIN_SCORE[self.dataset.metric],
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



def classify_pairs(pairs, labels, tokenizer, max_seq_length, predict,
                   markers=False):
  """(label, probability) of each (sentence, first entity, second entity)
  pair of raw text, as --raw_text_file classifies them; entities are
  {start, end, type} dicts.

  predict: features -> the model's results (e.g. a `Predictor`'s).
  """
  examples = [InputExample(str(i), pair_text(text, a, b, markers), labels[0])
              for i, (text, a, b) in enumerate(pairs)]
  if not examples:
    return []
  features, _ = convert_examples(examples, labels, tokenizer, max_seq_length)
  out = []
  for r in predict(features):
    p = r["probabilities"]
    best = max(range(len(p)), key=lambda j: p[j])
    out.append((labels[best], float(p[best])))
  return out


def relation_type(dataset, label):
  """The type a raw-text relation gets: the data set's name for a yes/no
  data set (GAD, EU-ADR), else the label (ChemProt's CPR:3 ...)."""
  if dataset.metric == datasets.BINARY:
    return dataset.task_name.upper()
  return label.upper()

KIND = tasks.Kind(
    "re", "run_re.py", ReOptions, FLAG_DEFAULTS, "re_scores.json",
    tasks.metrics(
        tasks.Metric("f1", ("f1 score",), 100, "F1"),
        tasks.Metric("micro_f1", ("f1 score",), 100, "micro-F1"),
        tasks.Metric("precision", ("precision",), 100, "precision"),
        tasks.Metric("recall", ("recall",), 100, "recall")),
    ("f1",),
    (ReProcessor.train_file, ReProcessor.test_file))


def task_of(config):
  """The task a RunConfig runs (its --task_name's data set)."""
  return ReTask.of_config(config)


def run(config):
  """A run_re.py run."""
  driver.run(ReTask.of_config(config), config)
