"""The fine-tuned models a corpus is tagged with, loaded once per process.

A model is a run dir of run_ner.py (or run_re.py) with its
run_manifest.json and checkpoint: best/ when the run kept one, else the
newest (export_model.py's rule). Each keeps one `predictor.Predictor`
(the graph built and the weights restored once) for every batch of
sentences it is given. NER models tag words exactly as run_ner.py does
(`tasks.ner.tag_sentences`); relation models classify the masked or
marked pairs exactly as run_re.py's raw-text RE does
(`tasks.relations.classify_pairs`).
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

def read_run(path, vocab_file, kinds, flag):
  """(manifest, checkpoint) of a trained run of one of `kinds` ("ner",
  "re"), checked; UserError if not."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  import tasks  # pylint: disable=g-import-not-at-top
  from finetuning import model_files  # pylint: disable=g-import-not-at-top
  from finetuning import selection  # pylint: disable=g-import-not-at-top
  manifest = run_dir.read_manifest(path)
  if manifest is None:
    raise errors.UserError("--%s: %s is not a run dir of this project (no "
                           "%s)" % (flag, path, run_dir.MANIFEST_NAME))
  kind = tasks.kind_of(manifest)
  if kind not in kinds:
    raise errors.UserError("--%s: %s is a %s run (%s); expected %s" % (
        flag, path, kind, manifest["task"], " or ".join(kinds)))
  if kind == "re" and relation_dataset(manifest) is None:
    from tasks import datasets  # pylint: disable=g-import-not-at-top
    raise errors.UserError(
        "--%s: %s was trained on relation data set %r, which "
        "tasks/datasets.toml does not have (it has %s)" % (
            flag, path, manifest["task"],
            ", ".join(datasets.relation_schemas())))
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


def relation_dataset(manifest):
  """The relation data set (labels, pair types, metric) a trained RE run
  recorded, or None if the table does not have it."""
  from tasks import datasets  # pylint: disable=g-import-not-at-top
  return datasets.relation_schemas().get(manifest["task"])


def entity_markers(manifest):
  """Whether a trained RE run was trained on marked (not masked) pairs."""
  return bool(manifest.get("training", {}).get("entity_markers"))


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
  head_fn = heads.HEADS[head_name].build(len(manifest["labels"] or []))
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
    from tasks import ner  # pylint: disable=g-import-not-at-top
    self.spec = spec
    self.batch_size = batch_size
    manifest, checkpoint = read_run(spec.run_dir, vocab_file, ("ner",),
                                    "models")
    self.labels = manifest["labels"]
    self.max_seq_length = manifest["max_seq_length"]
    self.tokenizer = _tokenizer(manifest, vocab_file)
    self.predictor = _predictor(manifest, checkpoint, ner.NerTask.head,
                                ner.NerTask.fields, use_fp16)

  def tag(self, sentences):
    """[[{start, end, type, score}] per sentence], offsets into each
    (`tasks.ner.tag_sentences`)."""
    from tasks import ner  # pylint: disable=g-import-not-at-top
    return ner.tag_sentences(
        sentences, self.labels, self.tokenizer, self.max_seq_length,
        lambda features: self.predictor.predict(features, self.batch_size),
        self.spec.entity_type)


class ReModel(object):
  """A relation extraction run: `classify(pairs)` -> (label, probability)
  of each (sentence, first entity, second entity)."""

  def __init__(self, run_path, vocab_file, use_fp16=False, batch_size=32):
    from tasks import relations  # pylint: disable=g-import-not-at-top
    manifest, checkpoint = read_run(run_path, vocab_file, ("re",),
                                    "re_model")
    self.name = os.path.basename(os.path.normpath(run_path))
    self.dataset = relation_dataset(manifest)
    self.markers = entity_markers(manifest)
    self.labels = manifest["labels"]
    self.max_seq_length = manifest["max_seq_length"]
    self.batch_size = batch_size
    self.tokenizer = _tokenizer(manifest, vocab_file)
    self.predictor = _predictor(manifest, checkpoint,
                                relations.ReTask.head,
                                relations.ReTask.fields, use_fp16)

  @property
  def entity_types(self):
    """The (first, second) entity types it relates (upper case)."""
    return self.dataset.entity_types

  @property
  def negative(self):
    """The label that means "no relation" ("0", or "false")."""
    return self.dataset.negative

  def relation_type(self, label):
    """The type a relation gets (`tasks.relations.relation_type`)."""
    from tasks import relations  # pylint: disable=g-import-not-at-top
    return relations.relation_type(self.dataset, label)

  def classify(self, pairs):
    from tasks import relations  # pylint: disable=g-import-not-at-top
    return relations.classify_pairs(
        pairs, self.labels, self.tokenizer, self.max_seq_length,
        lambda features: self.predictor.predict(features, self.batch_size),
        self.markers)


class NormModel(object):
  """A normalization run (run_norm.py): `normalize(mentions)` -> the
  Concept (or None below the threshold) of each (text, document text).

  The lexicon is the one the run recorded, checked against its sha256;
  its embeddings are read from (or computed once into) the run dir's
  lexicon_embeddings/, keyed by checkpoint, lexicon and preprocessing.
  threshold: the run's own (norm_threshold.json, chosen on dev) unless
  given; 0 without either.
  """

  def __init__(self, run_path, vocab_file, use_fp16=False, batch_size=32,
               threshold=None):
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
    from biocodes import lexicon as lexicon_lib  # pylint: disable=g-import-not-at-top
    from biocodes import norm_text  # pylint: disable=g-import-not-at-top
    from tasks import norm  # pylint: disable=g-import-not-at-top
    manifest, checkpoint = read_run(run_path, vocab_file, ("norm",),
                                    "normalizers")
    self.name = os.path.basename(os.path.normpath(run_path))
    trained = manifest.get("training") or {}
    self.lexicon = lexicon_of(manifest, run_path)
    spelling = trained.get("spelling_file")
    self.spelling = norm_text.read_spelling(spelling) if spelling else None
    self.index = norm.build_index(lexicon_lib.read(self.lexicon),
                                  self.spelling)
    self.max_seq_length = manifest["max_seq_length"]
    self.batch_size = batch_size
    self.topk = int(trained.get("topk", 20))
    self.tokenizer = _tokenizer(manifest, vocab_file)
    self.predictor = _predictor(manifest, checkpoint, "concept_encoder",
                                norm.NormTask.fields, use_fp16)
    self.weight = float(tf.train.load_variable(checkpoint, "sparse_weight"))
    key = norm.embeddings_key(checkpoint, self.index.lexicon.digest,
                              self.spelling, self.max_seq_length,
                              manifest["do_lower_case"])
    self.search = norm.DenseSearch(norm.lexicon_embeddings(
        os.path.join(run_path, norm.EMBEDDINGS_DIR, key + ".npy"),
        self._predict, self.index, self.tokenizer, self.max_seq_length))
    recorded = norm.recorded_threshold(run_path)
    self.threshold = (threshold if threshold is not None else
                      recorded if recorded is not None else 0.0)
    self._np = np

  def _predict(self, features):
    # Mentions and names are short: larger batches than sentences.
    return self.predictor.predict(features, max(self.batch_size, 256))

  def normalize(self, mentions):
    """[Concept or None] of (mention text, its document's text) pairs:
    abbreviations expanded with the document's own definitions."""
    from biocodes import norm_text  # pylint: disable=g-import-not-at-top
    from tasks import norm  # pylint: disable=g-import-not-at-top
    definitions, texts = {}, []
    for text, document in mentions:
      if document not in definitions:
        definitions[document] = norm_text.abbreviations(document)
      texts.append(norm_text.expand(text, definitions[document]))

    def embed(forms):
      features = norm.mention_features(forms, self.tokenizer,
                                       self.max_seq_length)
      return self._np.stack([r["embedding"] for r in self._predict(features)])

    return norm.normalize(texts, self.index, self.spelling, embed,
                          self.search, self.weight, self.topk, self.threshold)


def parse_normalizers(value, flag="normalizers"):
  """[(entity type in lower case, run dir)] of a `type=run_dir,...` flag
  value (its syntax; the runs are checked by `check_normalizer`)."""
  specs = []
  for item in (value or "").split(","):
    item = item.strip()
    if not item:
      continue
    kind, sep, path = item.partition("=")
    if not sep or not kind.strip() or not path.strip():
      raise errors.UserError("--%s: %r: expected type=run_dir, "
                             "comma-separated" % (flag, item))
    kind = kind.strip().lower()
    if kind in {k for k, _ in specs}:
      raise errors.UserError("--%s: %s is named twice" % (flag, kind))
    specs.append((kind, os.path.abspath(os.path.expanduser(path.strip()))))
  return specs


def check_normalizer(path, vocab_file, flag="normalizers"):
  """Raises UserError unless `path` is a trained run_norm.py run whose
  lexicon is where and what it was."""
  manifest, _ = read_run(path, vocab_file, ("norm",), flag)
  lexicon_of(manifest, path)


def concept_record(concept, model_name):
  """The "concept" of an entity in JSON: {id, ids, name, score, model}
  (IDs prefixed as BioC writes them), or None (below the threshold)."""
  from biocodes import lexicon  # pylint: disable=g-import-not-at-top
  if concept is None:
    return None
  return {"id": lexicon.prefixed(concept.ids[0]),
          "ids": [lexicon.prefixed(c) for c in concept.ids],
          "name": concept.name, "score": concept.score, "model": model_name}


def lexicon_of(manifest, run_path):
  """The lexicon file a normalization run was trained with, checked
  against the sha256 it recorded; UserError if moved or changed."""
  trained = manifest.get("training") or {}
  path, digest = trained.get("lexicon"), trained.get("lexicon_sha256")
  if not path or not os.path.isfile(path):
    raise errors.UserError(
        "--normalizers: the lexicon %s was trained with (%s) is not there" %
        (run_path, path))
  if files.file_digest(path) != digest:
    raise errors.UserError(
        "--normalizers: %s has changed since %s was trained with it (sha256 "
        "%s..., recorded %s...)" % (path, run_path,
                                    files.file_digest(path)[:12],
                                    (digest or "")[:12]))
  return path


def rounded(score):
  """Scores are written with 4 decimals (NaN never: probabilities)."""
  return round(float(score), 4) if not math.isnan(score) else None
