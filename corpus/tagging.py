"""The fine-tuned models a corpus is tagged with, loaded once per process.

A model is a run dir of run_ner.py (or run_re.py) with its
run_manifest.json and checkpoint: best/ when the run kept one, else the
newest (export_model.py's rule). Each keeps one `predictor.Predictor`
(the graph built and the weights restored once) for every batch of
sentences it is given. NER models tag words exactly as run_ner.py does
(its windows and decoding); relation models classify the masked pairs
exactly as run_re.py's raw-text RE does.
"""

import collections
import math
import os

from finetuning import errors
from finetuning import files
from finetuning import run_dir

ModelSpec = collections.namedtuple("ModelSpec", ["name", "run_dir",
                                                 "entity_type"])
ModelSpec.__doc__ = """A model as --models names it: its name (the type
given, or the run dir's base name), its run dir, and the type its entities
get when its labels are untyped (B/I/O), or None for typed labels."""

RE_TASKS = ("gad", "euadr", "chemprot")


def read_run(path, vocab_file, tasks, flag):
  """(manifest, checkpoint) of a trained run, checked; UserError if not."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  from finetuning import model_files  # pylint: disable=g-import-not-at-top
  from finetuning import selection  # pylint: disable=g-import-not-at-top
  manifest = run_dir.read_manifest(path)
  if manifest is None:
    raise errors.UserError("--%s: %s is not a run dir of this project (no "
                           "%s)" % (flag, path, run_dir.MANIFEST_NAME))
  if manifest["task"] not in tasks:
    raise errors.UserError("--%s: %s is a %r run; expected one of %s" %
                           (flag, path, manifest["task"], ", ".join(tasks)))
  recorded = manifest.get("vocab_sha256")
  if recorded and vocab_file and files.file_digest(vocab_file) != recorded:
    raise errors.UserError("--vocab_file=%s is not the vocabulary %s was "
                           "trained with" % (vocab_file, path))
  checkpoint = (selection.best_checkpoint(path) or
                tf.train.latest_checkpoint(path))
  if not checkpoint:
    raise errors.UserError("--%s: %s holds no trained model (no checkpoint)"
                           % (flag, path))
  model_files.check_run_checkpoint(path, checkpoint)
  return manifest, checkpoint


def entity_types(labels, entity_type):
  """The entity types a NER model's labels give (its typed labels' types,
  else [entity_type])."""
  typed = sorted({l[2:] for l in labels if l[:2] in ("B-", "I-")})
  return typed or [entity_type]


def _predictor(manifest, checkpoint, head_name, fields, use_fp16):
  import modeling  # pylint: disable=g-import-not-at-top
  from finetuning import devices  # pylint: disable=g-import-not-at-top
  from finetuning import estimator  # pylint: disable=g-import-not-at-top
  from finetuning import heads  # pylint: disable=g-import-not-at-top
  from finetuning import predictor  # pylint: disable=g-import-not-at-top
  from finetuning import records  # pylint: disable=g-import-not-at-top
  bert_config = modeling.BertConfig.from_dict(manifest["bert_config"])
  head_fn = heads.HEADS[head_name].build(len(manifest["labels"]))
  precision = devices.mixed_precision(use_fp16)
  model_fn = estimator.model_fn_builder(bert_config, head_fn, None, 0.0, 0, 0,
                                        precision=precision)
  fmt = records.RecordFormat(fields, manifest["max_seq_length"],
                             bucketed=True)
  return predictor.Predictor(model_fn, checkpoint, fmt,
                             devices.session_config(use_fp16,
                                                    for_prediction=True))


def _tokenizer(manifest, vocab_file):
  import tokenization  # pylint: disable=g-import-not-at-top
  return tokenization.FullTokenizer(vocab_file, manifest["do_lower_case"])


class NerModel(object):
  """A NER run: `tag(sentences)` -> entities of each sentence."""

  def __init__(self, spec, vocab_file, use_fp16=False, batch_size=32):
    import run_ner  # pylint: disable=g-import-not-at-top
    self.spec = spec
    self.batch_size = batch_size
    manifest, checkpoint = read_run(spec.run_dir, vocab_file, ("ner",),
                                    "models")
    self.labels = manifest["labels"]
    self.max_seq_length = manifest["max_seq_length"]
    self.tokenizer = _tokenizer(manifest, vocab_file)
    self.predictor = _predictor(manifest, checkpoint, run_ner.NerTask.head,
                                run_ner.NerTask.fields, use_fp16)

  def tag(self, sentences):
    """[[{start, end, type, score}] per sentence], offsets into each.

    The score of an entity is the mean, over its words, of the probability
    of the tag the model chose for the word.
    """
    import run_ner  # pylint: disable=g-import-not-at-top
    split = [run_ner.split_words_with_offsets(s) for s in sentences]
    examples = [run_ner.InputExample(str(i), [w for w, _, _ in words],
                                     ["O"] * len(words), [])
                for i, words in enumerate(split) if words]
    found = [[] for _ in sentences]
    if not examples:
      return found
    features, windows, _ = run_ner.convert_examples(
        examples, self.labels, self.tokenizer, self.max_seq_length)
    results = self.predictor.predict(features, self.batch_size)
    _, tags, _ = run_ner.decode(windows, results, self.labels)
    scores = run_ner.word_probabilities(windows, results, self.labels)
    k = 0
    for i, words in enumerate(split):
      if not words:
        continue
      found[i] = run_ner.entities(sentences[i], words, tags[k],
                                  self.spec.entity_type, scores[k])
      k += 1
    return found


class ReModel(object):
  """A relation extraction run: `classify(pairs)` -> (label, probability)
  of each (sentence, first entity, second entity)."""

  def __init__(self, run_path, vocab_file, use_fp16=False, batch_size=32):
    import run_re  # pylint: disable=g-import-not-at-top
    from biocodes import re_datasets  # pylint: disable=g-import-not-at-top
    manifest, checkpoint = read_run(run_path, vocab_file, RE_TASKS,
                                    "re_model")
    self.name = os.path.basename(os.path.normpath(run_path))
    self.dataset = re_datasets.get(manifest["task"])
    self.labels = manifest["labels"]
    self.max_seq_length = manifest["max_seq_length"]
    self.batch_size = batch_size
    self.tokenizer = _tokenizer(manifest, vocab_file)
    self.predictor = _predictor(manifest, checkpoint, run_re.ReTask.head,
                                run_re.ReTask.fields, use_fp16)

  @property
  def entity_types(self):
    """The (first, second) entity types it relates (upper case)."""
    return self.dataset.entity_types

  @property
  def negative(self):
    """The label that means "no relation" ("0", or ChemProt's "false")."""
    return self.labels[0] if self.labels[0] == "0" else self.labels[-1]

  def relation_type(self, label):
    """The type a relation gets: the data set's name for a yes/no data set
    (GAD, EU-ADR), else the label (ChemProt's CPR:3 ...)."""
    from biocodes import re_datasets  # pylint: disable=g-import-not-at-top
    if self.dataset.metric == re_datasets.BINARY:
      return self.dataset.name.upper()
    return label.upper()

  def classify(self, pairs):
    import run_re  # pylint: disable=g-import-not-at-top
    examples = [run_re.InputExample(str(i), run_re.mask_pair(text, a, b),
                                    self.labels[0])
                for i, (text, a, b) in enumerate(pairs)]
    if not examples:
      return []
    features, _ = run_re.convert_examples(examples, self.labels,
                                          self.tokenizer, self.max_seq_length)
    results = self.predictor.predict(features, self.batch_size)
    out = []
    for r in results:
      p = r["probabilities"]
      best = max(range(len(p)), key=lambda j: p[j])
      out.append((self.labels[best], float(p[best])))
    return out


def rounded(score):
  """Scores are written with 4 decimals (NaN never: probabilities)."""
  return round(float(score), 4) if not math.isnan(score) else None
