"""Concept normalization: a mention's concept IDs from a lexicon, in one module.

The BERT encoder is trained as BioSyn trains it (Sung et al., ACL 2020):
a mention and a lexicon name are compared by the dot product of their
[CLS] embeddings plus a learned weight times the cosine of their character
1-2-gram TF-IDF vectors. For each training mention the candidates are its
top names by the sparse score and its top names by the dense score (the
lexicon's embeddings recomputed every epoch's worth of steps, or every
--refresh_every_n_steps, and kept so that a resumed run is exact);
the loss is the negative log of the candidates' softmax mass on the names
of the gold concept (the synonym marginalization). Prediction ranks every
name of the lexicon by that score. run_norm.py is its command line.

Mentions come from gold PubTator files (NCBI-disease, BC5CDR); the text a
mention is compared by is `biocodes.norm_text`'s (abbreviations expanded
within its document, composites split, BioSyn's preprocessing).
"""

import collections
import dataclasses
import hashlib
import json
import math
import os
from typing import Optional, Tuple

import numpy as np
import tensorflow.compat.v1 as tf

import modeling
import tasks
import tokenization
from biocodes import lexicon as lexicon_lib
from biocodes import norm_text
from biocodes.official import pubtator
from finetuning import driver
from finetuning import errors
from finetuning import estimator as est
from finetuning import files
from finetuning import records
from finetuning import run_dir
from finetuning import selection
from finetuning.options import option
from tasks import datasets


@dataclasses.dataclass(frozen=True)
class NormOptions:
  """The flags of run_norm.py beyond the common ones."""
  lexicon: Optional[str] = option(
      None, "The lexicon of concept names: MEDIC (ids||name|synonym|...), "
      "CTD's TSV (CTD_diseases.tsv.gz) or id<TAB>name lines. Recorded with "
      "the trained model (its sha256): prediction refuses another one.")
  spelling_file: Optional[str] = option(
      None, "A spelling list (wrong||right lines), as BioSyn uses "
      "ncbi-spell-check.txt for NCBI-disease.")
  mention_types: str = option(
      "", "Comma-separated PubTator mention types to normalize (BC5CDR: "
      "Disease or Chemical); empty: every type.")
  topk: int = option(
      20, "Candidates per training mention (BioSyn's 20), and the names "
      "kept per predicted mention.")
  dense_ratio: float = option(
      0.5, "The share of the training candidates taken by the dense score "
      "(the rest by the sparse one), as BioSyn's --dense_ratio.")
  initial_sparse_weight: float = option(
      0.0, "The sparse score's weight at the start (learned; BioSyn's 0).")
  refresh_every_n_steps: int = option(
      0, "Recompute the lexicon's embeddings every N training steps (0: "
      "every epoch's worth of steps, as BioSyn).")


FLAG_DEFAULTS = {"max_seq_length": 25, "train_batch_size": 16,
                 "learning_rate": 1e-5, "num_train_epochs": 10.0,
                 "do_lower_case": True}

# The file names of the PubTator corpora a --data_dir may hold.
LAYOUTS = (
    ("NCBItrainset_corpus.txt", "NCBIdevelopset_corpus.txt",
     "NCBItestset_corpus.txt"),
    ("CDR_TrainingSet.PubTator.txt", "CDR_DevelopmentSet.PubTator.txt",
     "CDR_TestSet.PubTator.txt"),
    ("train.pubtator", "dev.pubtator", "test.pubtator"),
)

SCORES_FILE = "norm_scores.json"
PREDICTIONS_FILE = "norm_predictions.jsonl"
PUBTATOR_FILE = "test_predictions.pubtator"
EMBEDDINGS_DIR = "lexicon_embeddings"


def split_files(data_dir):
  """{"train", "dev", "test": path} of the first layout of LAYOUTS that
  `data_dir` holds; InputError naming them all when it holds none."""
  for layout in LAYOUTS:
    paths = [os.path.join(data_dir, name) for name in layout]
    if any(os.path.isfile(p) for p in paths):
      return dict(zip(("train", "dev", "test"), paths))
  raise errors.InputError(data_dir, None, "holds no PubTator corpus: "
                          "expected %s" % "; or ".join(
                              ", ".join(l) for l in LAYOUTS))


@dataclasses.dataclass(frozen=True)
class Query:
  """A gold mention to normalize.

  gold: its gold concepts, one tuple per part (`lexicon.gold_parts`).
  forms: the preprocessed text compared with the lexicon, one per part
  when a composite splits, else one for the whole mention.
  """
  pmid: str
  start: int
  end: int
  text: str
  type: str
  gold: Tuple[Tuple[str, ...], ...]
  forms: Tuple[str, ...]
  where: str


@dataclasses.dataclass(frozen=True)
class Counts:
  """What reading a corpus's mentions counted."""
  mentions: int = 0
  other_types: int = 0
  without_id: int = 0
  composites_split: int = 0
  composites_whole: int = 0
  abbreviations_expanded: int = 0


def read_queries(path, types, spelling):
  """([Query], Counts) of a gold PubTator file.

  Mentions of other types (when `types` is given) and without an ID (`-1`)
  are counted and left out. A mention whose text is not at its offsets is
  an InputError (file:line): the offsets would not match the document.
  """
  documents, skips = pubtator.read(path)
  if skips:
    where, _, _ = skips[0].where.rpartition(":")
    raise errors.InputError(where, int(skips[0].where.rsplit(":", 1)[1]),
                            skips[0].reason)
  queries, counts = [], collections.Counter()
  for doc in documents:
    definitions = None
    for m in doc.mentions:
      if types and m.type not in types:
        counts["other_types"] += 1
        continue
      gold = lexicon_lib.gold_parts(m.concepts)
      if not gold:
        counts["without_id"] += 1
        continue
      if definitions is None:
        definitions = norm_text.abbreviations(doc.text)
      text = norm_text.expand(m.text, definitions)
      counts["abbreviations_expanded"] += int(text != m.text)
      parts = [text]
      if len(gold) > 1:
        split = norm_text.split_composite(text, len(gold))
        counts["composites_split" if split else "composites_whole"] += 1
        parts = split or parts
      queries.append(Query(
          doc.pmid, m.start, m.end, m.text, m.type, gold,
          tuple(norm_text.preprocess(p, spelling) for p in parts),
          "%s:%d" % (path, m.line)))
  return queries, Counts(mentions=len(queries), **counts)


@dataclasses.dataclass
class Index:
  """A lexicon as the normalizer searches it: its names preprocessed, each
  (form, concepts) once, their TF-IDF vectors, and exact forms."""
  lexicon: lexicon_lib.Lexicon
  forms: list
  concepts: list
  vectorizer: object
  matrix: object
  exact: dict
  known: frozenset


def build_index(lexicon, spelling):
  """The Index of a Lexicon (BioSyn's sparse encoder: TF-IDF of character
  1- and 2-grams, fitted on the lexicon's names)."""
  from sklearn.feature_extraction import text as sk_text  # pylint: disable=g-import-not-at-top
  seen, forms, concepts = set(), [], []
  for name, ids in zip(lexicon.names, lexicon.concepts):
    form = norm_text.preprocess(name, spelling)
    if form and (form, ids) not in seen:
      seen.add((form, ids))
      forms.append(form)
      concepts.append(ids)
  vectorizer = sk_text.TfidfVectorizer(analyzer="char", ngram_range=(1, 2),
                                       dtype=np.float32)
  matrix = vectorizer.fit_transform(forms)
  exact = {}
  for i, form in enumerate(forms):
    exact.setdefault(form, []).append(i)
  return Index(lexicon, forms, concepts, vectorizer, matrix, exact,
               frozenset(c for ids in concepts for c in ids))


def sparse_scores(index, forms):
  """[len(forms), names] float32 TF-IDF cosines (dense array)."""
  return (index.vectorizer.transform(forms) @ index.matrix.T).toarray()


def top_names(scores, k):
  """Indices of the k best columns of each row, best first (ties: lower
  index first)."""
  k = min(k, scores.shape[1])
  part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
  order = np.lexsort((part, -np.take_along_axis(scores, part, 1)), axis=1)
  return np.take_along_axis(part, order, 1)


def correct(entry_concepts, part):
  """Whether a name's concepts meet a gold part's (any shared ID)."""
  return bool(set(entry_concepts) & set(part))


# ---------------------------------------------------------------- scoring

def part_rankings(query, rankings):
  """(gold part, ranking) pairs of a query whose forms have `rankings`."""
  if len(query.forms) == len(query.gold):
    return list(zip(query.gold, rankings))
  # An unsplit composite: its one ranking is right where it meets any part.
  merged = tuple(c for part in query.gold for c in part)
  return [(merged, rankings[0])]


def accuracy(queries, rankings, index, ks=(1, 5)):
  """{acc@k: fraction of queries right at k} and counts.

  A query is right at k when each of its parts has a name of its gold
  concepts among its first k names (BioSyn's rule: names, not concepts,
  are ranked; a name is right when its IDs meet the gold ones). Queries
  are scored twice: every mention, and each distinct (forms, gold) once
  (BioSyn's protocol, the published numbers').
  """
  def right(q, r, k):
    return all(any(correct(index.concepts[i], part) for i in ranking[:k])
               for part, ranking in part_rankings(q, r))
  result = {"mentions": len(queries)}
  unique = {}
  for q, r in zip(queries, rankings):
    unique.setdefault((q.forms, q.gold), (q, r))
  for k in ks:
    result["acc@%d" % k] = _fraction(sum(right(q, r, k) for q, r in
                                         unique.values()), len(unique))
    result["mention_acc@%d" % k] = _fraction(
        sum(right(q, r, k) for q, r in zip(queries, rankings)), len(queries))
  result["unique_queries"] = len(unique)
  result["gold_not_in_lexicon"] = sum(
      1 for q in queries if any(not set(p) & index.known for p in q.gold))
  return result


def _fraction(n, d):
  return round(n / d, 4) if d else 0.0


def dictionary_rankings(queries, index, k=5):
  """The dictionary baseline: the names whose form is the query's exactly
  (after the same preprocessing and abbreviation expansion), up to k."""
  return [[index.exact.get(f, [])[:k] for f in q.forms] for q in queries]


# ------------------------------------------------------------ the model

def mention_features(forms, tokenizer, max_seq_length):
  """`[CLS] form [SEP]` features, cut to max_seq_length."""
  out = []
  for form in forms:
    tokens = ["[CLS]"] + tokenizer.tokenize(form)[:max_seq_length - 2] + [
        "[SEP]"]
    out.append({"input_ids": tokenizer.convert_tokens_to_ids(tokens),
                "input_mask": [1] * len(tokens),
                "segment_ids": [0] * len(tokens)})
  return out


def padded(features, length):
  """(ids, mask) int32 arrays [len(features), length] of features."""
  ids = np.zeros((len(features), length), np.int32)
  mask = np.zeros((len(features), length), np.int32)
  for i, f in enumerate(features):
    n = len(f["input_ids"])
    ids[i, :n] = f["input_ids"]
    mask[i, :n] = 1
  return ids, mask


def cls_embedding(model):
  """The [CLS] vector of the last layer (BioSyn's mention embedding)."""
  return tf.cast(model.get_sequence_output()[:, 0, :], tf.float32)


def embed_in_batches(embed, ids, mask, batch_size=256):
  """[len(ids), hidden] float32 of `embed(ids, mask)` called on batches of
  rows of similar length, each cut to its longest row (names are mostly
  far shorter than max_seq_length)."""
  lengths = mask.sum(-1)
  order = np.argsort(lengths, kind="stable")
  out = None
  for i in range(0, len(order), batch_size):
    rows = order[i:i + batch_size]
    longest = max(int(lengths[rows].max()), 1)
    vectors = np.asarray(embed(ids[rows, :longest], mask[rows, :longest]),
                         np.float32)
    if out is None:
      out = np.zeros((len(ids), vectors.shape[-1]), np.float32)
    out[rows] = vectors
  return out


class Retriever(object):
  """The training candidates of each training mention, as BioSyn draws them.

  Holds the lexicon's token ids and its latest embeddings (`refresh`); a
  training step asks `candidates` for the batch's mentions.
  """

  def __init__(self, index, instances, tokenizer, max_seq_length, topk,
               dense_ratio):
    self.index = index
    self.instances = instances  # [(form, gold part)]
    self.ids, self.mask = padded(mention_features(
        index.forms, tokenizer, max_seq_length), max_seq_length)
    self.k_dense = int(round(topk * dense_ratio))
    self.k_sparse = topk - self.k_dense
    forms = [f for f, _ in instances]
    self.mention_tfidf = index.vectorizer.transform(forms)
    self.sparse_top = np.concatenate([
        top_names(sparse_scores(index, forms[i:i + 512]), self.k_sparse)
        for i in range(0, len(forms), 512)]) if self.k_sparse else (
            np.zeros((len(forms), 0), np.int64))
    self.embeddings = None

  def refresh(self, embed):
    """Recomputes the lexicon's embeddings with `embed(ids, mask)`, in
    batches of names of similar length (each cut to its longest)."""
    self.embeddings = embed_in_batches(embed, self.ids, self.mask)

  def candidates(self, mention_embeddings, mention_index):
    """(ids [B, k, L], mask, sparse scores [B, k], labels [B, k]) of a
    batch: the sparse top names, then the dense top names not among them."""
    rows = []
    dense = mention_embeddings @ self.embeddings.T
    for b, i in enumerate(mention_index):
      chosen = list(self.sparse_top[i])
      taken = set(chosen)
      for j in top_names(dense[b:b + 1], self.k_dense + self.k_sparse)[0]:
        if len(chosen) == self.k_sparse + self.k_dense:
          break
        if j not in taken:
          chosen.append(j)
          taken.add(j)
      rows.append(chosen)
    cand = np.array(rows, np.int64)
    sparse = np.stack([
        (self.mention_tfidf[i] @ self.index.matrix[cand[b]].T).toarray()[0]
        for b, i in enumerate(mention_index)]).astype(np.float32)
    labels = np.array([[float(correct(self.index.concepts[j],
                                      self.instances[i][1])) for j in row]
                       for row, i in zip(cand, mention_index)], np.float32)
    ids, mask = self.ids[cand], self.mask[cand]
    longest = max(int(mask.sum(-1).max()), 1)
    return ids[..., :longest], mask[..., :longest], sparse, labels


class _RefreshHook(tf.train.SessionRunHook):
  """Recomputes the retriever's lexicon embeddings every `every` steps.

  The embeddings used from step r to r + every - 1 are those of the
  weights at step r (r a multiple of `every`), kept in `save_dir` as
  training-step<r>.npy: a run resumed in between reads them back, so that
  it draws the same candidates as one never stopped.
  """

  def __init__(self, retriever, ids, mask, embedding, every, save_dir):
    self.retriever, self.every, self.save_dir = retriever, every, save_dir
    self.ids, self.mask, self.embedding = ids, mask, embedding

  def _path(self, step):
    return os.path.join(self.save_dir, "training-step%d.npy" % step)

  def _refresh(self, session, step):
    self.retriever.refresh(lambda i, m: session.run(
        self.embedding, {self.ids: i, self.mask: m}))
    os.makedirs(self.save_dir, exist_ok=True)
    with files.atomic_file(self._path(step), "wb") as f:
      np.save(f, self.retriever.embeddings, allow_pickle=False)
    for name in os.listdir(self.save_dir):
      if name.startswith("training-step") and name != os.path.basename(
          self._path(step)):
        os.remove(os.path.join(self.save_dir, name))

  def after_create_session(self, session, coord):
    del coord
    step = int(session.run(tf.train.get_global_step()))
    start = step - step % self.every
    if step != start and os.path.exists(self._path(start)):
      self.retriever.embeddings = np.load(self._path(start),
                                          allow_pickle=False)
    else:
      self._refresh(session, step)

  def after_run(self, run_context, run_values):
    del run_values  # a fetched step may be read before or after the update
    step = int(run_context.session.run(tf.train.get_global_step()))
    if step % self.every == 0:
      self._refresh(run_context.session, step)


def head_fn(bert_config, retriever, options, refresh_every=1, save_dir=None):
  """The normalizer's head: BioSyn's loss in training, the [CLS] embedding
  and the sparse weight in prediction. The lexicon's embeddings are
  recomputed every `refresh_every` steps (kept in `save_dir`)."""

  def build(model, features, is_training):
    mention = cls_embedding(model)
    sparse_weight = tf.get_variable(
        "sparse_weight", [], initializer=tf.constant_initializer(
            options.initial_sparse_weight))
    predictions = {"embedding": mention,
                   "sparse_weight": tf.fill(tf.shape(mention)[:1],
                                            sparse_weight)}
    if not is_training:
      return est.HeadOutput(None, predictions)

    def tower(ids, mask, training):
      # The encoder's own variables, and in training its numerics (dropout
      # keyed to the seed and step: a resumed run is exact).
      with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        return cls_embedding(modeling.BertModel(
            config=bert_config, is_training=training, input_ids=ids,
            input_mask=mask, token_type_ids=tf.zeros_like(ids),
            numerics=model.numerics if training else None,
            scope="bert"))

    names_ids = tf.placeholder(tf.int32, [None, None], "lexicon_ids")
    names_mask = tf.placeholder(tf.int32, [None, None], "lexicon_mask")
    names_embedding = tower(names_ids, names_mask, False)
    ids, mask, sparse, labels = tf.py_func(
        retriever.candidates,
        [tf.stop_gradient(mention), features["mention_index"]],
        [tf.int32, tf.int32, tf.float32, tf.float32], stateful=True)
    k = retriever.k_dense + retriever.k_sparse
    ids.set_shape([None, k, None])
    mask.set_shape([None, k, None])
    sparse.set_shape([None, k])
    labels.set_shape([None, k])
    length = tf.shape(ids)[-1]
    names = tower(tf.reshape(ids, [-1, length]), tf.reshape(mask, [-1, length]),
                  True)
    names = tf.reshape(names, [-1, k, names.shape[-1]])
    score = tf.einsum("bh,bkh->bk", mention, names) + sparse_weight * sparse
    mass = tf.reduce_sum(tf.nn.softmax(score, axis=-1) * labels, axis=-1)
    # BioSyn's rule: a mention without a right candidate adds nothing.
    loss = tf.reduce_mean(-tf.math.log(tf.where(mass > 0, mass,
                                                tf.ones_like(mass))))
    hook = _RefreshHook(retriever, names_ids, names_mask, names_embedding,
                        refresh_every, save_dir)
    return est.HeadOutput(loss, predictions, training_hooks=(hook,))

  return build


# ------------------------------------------------------- ranking names

THRESHOLD_FILE = "norm_threshold.json"


@dataclasses.dataclass(frozen=True)
class Concept:
  """What a mention is normalized to: its concept IDs (canonical), the
  lexicon's name matched (preprocessed) and the confidence (`confidence`)."""
  ids: Tuple[str, ...]
  name: str
  score: float


class DenseSearch(object):
  """The lexicon's embeddings in a small TensorFlow graph of their own:
  each mention's best names by dot product (TensorFlow's matmul and top_k,
  multi-threaded, without the [mentions, names] arrays numpy would make)."""

  def __init__(self, names):
    self.size = names.shape[0]
    self.graph = tf.Graph()
    with self.graph.as_default():
      initial = tf.placeholder(tf.float32, names.shape)
      table = tf.Variable(initial, trainable=False, collections=[])
      self.mentions = tf.placeholder(tf.float32, [None, names.shape[1]])
      self.k = tf.placeholder(tf.int32, [])
      self.scores = tf.matmul(self.mentions, table, transpose_b=True)
      self.best = tf.math.top_k(self.scores, self.k)  # ties: lower index
      self.session = tf.Session(graph=self.graph)
      self.session.run(table.initializer, {initial: names})

  def top(self, mentions, k):
    """(scores [n, k], names [n, k]) of the k best names of each mention."""
    return self.session.run(self.best, {self.mentions: mentions, self.k: k})

  def all(self, mentions):
    """[n, names] scores of every name."""
    return self.session.run(self.scores, {self.mentions: mentions})


def rank(index, mentions, forms, search, weight, k, shortlist=128):
  """(names [n, k], scores [n, k]) of the k best names of each form, by
  dense score (`search`, a DenseSearch) plus `weight` times sparse score.

  Exact, and fast: the sparse score (a cosine, between 0 and 1) is
  computed for each form's `shortlist` best names by the dense score only;
  a name outside them scores at most the shortlist's lowest dense score
  plus max(weight, 0), so a row whose k-th score beats that bound is
  done, and any other is scored against every name.
  """
  ranked, scores = [], []
  tfidf = index.vectorizer.transform(forms) if len(forms) else None
  size = min(max(shortlist, k), search.size)
  for i in range(0, len(forms), 256):
    dense, short = search.top(mentions[i:i + 256], size)
    for r in range(len(dense)):
      row = short[r]
      sparse = (tfidf[i + r] @ index.matrix[row].T).toarray()[0]
      score = dense[r] + weight * sparse
      order = np.lexsort((row, -score))[:k]
      best, best_scores = row[order], score[order]
      if size < search.size:
        bound = dense[r].min() + max(weight, 0.0)
        if not best_scores[-1] > bound:  # the shortlist may miss one
          full = search.all(mentions[i + r:i + r + 1])[0] + weight * (
              tfidf[i + r] @ index.matrix.T).toarray()[0]
          best = top_names(full[None, :], k)[0]
          best_scores = full[best]
      ranked.append(best.tolist())
      scores.append(best_scores.tolist())
  return ranked, scores


def confidence(ranked, scores, index):
  """The softmax mass, over a form's ranked names, of the names that share
  the best name's concepts: 1.0 when they alone are near the top."""
  if not ranked:
    return 0.0
  p = np.exp(np.asarray(scores, np.float64) - max(scores))
  p /= p.sum()
  best = index.concepts[ranked[0]]
  return float(sum(q for i, q in zip(ranked, p) if index.concepts[i] == best))


def choose_threshold(confidences, right):
  """(threshold, F1) of the confidence cut that maximizes the F1 of the
  IDs given: precision over the mentions given one, recall over all."""
  order = sorted(zip(confidences, right), key=lambda x: -x[0])
  best, threshold, tp = 0.0, 0.0, 0
  for n, (c, r) in enumerate(order, 1):
    tp += int(r)
    f1 = 2 * tp / (n + len(order))
    if f1 > best:
      best, threshold = f1, c
  # Cut down to 4 decimals, never up: the mention at the cut keeps its ID.
  return math.floor(threshold * 1e4) / 1e4, round(best, 4)


def recorded_threshold(output_dir):
  """The threshold a run chose on dev (norm_threshold.json), or None."""
  path = os.path.join(output_dir, THRESHOLD_FILE)
  if not os.path.exists(path):
    return None
  value = files.read_json(path, "run_norm.py's threshold").get("threshold")
  return float(value) if isinstance(value, (int, float)) else None


def weights_digest(checkpoint):
  """sha256 of a checkpoint's weights: every tensor but the optimizer's
  slots and the step, so that a run slimmed for keeping (run_suite.py)
  is the same model."""
  reader = tf.train.load_checkpoint(checkpoint)
  digest = hashlib.sha256()
  for name in sorted(reader.get_variable_to_shape_map()):
    if name.endswith(("/adam_m", "/adam_v")) or name == "global_step":
      continue
    digest.update(name.encode() + b"\0")
    digest.update(np.ascontiguousarray(reader.get_tensor(name)).tobytes())
  return digest.hexdigest()


def embeddings_key(checkpoint, lexicon_digest, spelling, max_seq_length,
                   do_lower_case):
  """What a lexicon's embeddings depend on: the checkpoint's weights, the
  lexicon, the preprocessing and the word pieces."""
  key = json.dumps([weights_digest(checkpoint), lexicon_digest,
                    sorted((spelling or {}).items()), max_seq_length,
                    do_lower_case])
  return hashlib.sha256(key.encode()).hexdigest()[:24]


def lexicon_embeddings(path, predict, index, tokenizer, max_seq_length):
  """[names, hidden] embeddings of the lexicon's forms by `predict`
  (features -> results with "embedding"); read from `path` when it
  exists, else computed and written there (atomically; None: not kept)."""
  if path and os.path.exists(path):
    return np.load(path, allow_pickle=False)
  results = predict(mention_features(index.forms, tokenizer, max_seq_length))
  names = np.stack([r["embedding"] for r in results]).astype(np.float32)
  if path:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with files.atomic_file(path, "wb") as f:
      np.save(f, names, allow_pickle=False)
  return names


def normalize(texts, index, spelling, embed, search, weight, k, threshold):
  """[Concept or None] of mention texts (abbreviations already expanded):
  None below `threshold`. embed(forms) -> [n, hidden]; search: the
  lexicon's DenseSearch. Each distinct form is ranked once."""
  forms = [norm_text.preprocess(t, spelling) for t in texts]
  distinct = list(dict.fromkeys(forms))
  if not distinct:
    return []
  ranked, scores = rank(index, embed(distinct), distinct, search, weight, k)
  found = {}
  for form, r, s in zip(distinct, ranked, scores):
    c = confidence(r, s, index)
    found[form] = (Concept(index.concepts[r[0]], index.forms[r[0]],
                           round(c, 4)) if c >= threshold and r else None)
  return [found[f] for f in forms]


# ------------------------------------------------------------ the task

class NormTask(driver.Task):
  """Concept normalization of gold mentions against a lexicon."""

  name = "norm"
  kind = "norm"
  head = "concept_encoder"
  fields = {"input_ids": records.SEQUENCE,
            "input_mask": records.SEQUENCE,
            "segment_ids": records.SEQUENCE}

  def __init__(self):
    self.index = None
    self.spelling = None
    self.bert_config = None
    self.instances = None
    self.options = None
    self.tokenizer = None
    self.max_seq_length = None
    self.output_dir = None
    self.refresh_every = 1
    self.counts = {}

  def record_fields(self, training):
    fields = dict(self.fields)
    if training:
      fields["mention_index"] = records.SCALAR
    return fields

  def dataset_name(self, config):
    base = os.path.basename(os.path.normpath(config.data_dir))
    types = config.task.mention_types
    return base + ("-" + types.replace(",", "-") if types else "")

  def check_config(self, config):
    options = config.task
    if not (config.do_train or config.do_eval or config.do_predict):
      raise errors.UserError("At least one of `do_train`, `do_eval` or "
                             "`do_predict` must be set.")
    if not config.data_dir:
      raise errors.UserError("--data_dir is required: a folder of PubTator "
                             "files (%s)" % ", ".join(LAYOUTS[0]))
    if not options.lexicon:
      raise errors.UserError("--lexicon is required: MEDIC, CTD's TSV or "
                             "id<TAB>name lines")
    if options.topk < 2:
      raise errors.FlagError("topk", options.topk, "at least 2")
    if not 0.0 <= options.dense_ratio <= 1.0:
      raise errors.FlagError("dense_ratio", options.dense_ratio,
                             "a share between 0 and 1")
    if config.distribution_strategy not in ("none", "", None):
      raise errors.FlagError("distribution_strategy",
                             config.distribution_strategy,
                             "none: the normalizer trains on one device")
    if config.gradient_accumulation_steps != 1:
      raise errors.FlagError("gradient_accumulation_steps",
                             config.gradient_accumulation_steps,
                             "1: the normalizer's candidates are drawn per "
                             "step")

  def read_inputs(self, config):
    options = config.task
    self.options = options
    self.tokenizer = tokenization.FullTokenizer(config.vocab_file,
                                                config.do_lower_case)
    self.max_seq_length = config.max_seq_length
    self.output_dir = config.output_dir
    self.bert_config = modeling.BertConfig.from_json_file(
        config.bert_config_file)
    self.spelling = (norm_text.read_spelling(options.spelling_file)
                     if options.spelling_file else None)
    lexicon = lexicon_lib.read(options.lexicon)
    recorded = (None if config.do_train else
                run_dir.read_manifest(config.output_dir))
    trained_with = ((recorded or {}).get("training") or {}).get(
        "lexicon_sha256")
    if trained_with and trained_with != lexicon.digest:
      raise errors.FlagError(
          "lexicon", options.lexicon, "the lexicon the model in %s was "
          "trained with (sha256 %s...; this one is %s...)" % (
              config.output_dir, trained_with[:12], lexicon.digest[:12]))
    self.index = build_index(lexicon, self.spelling)
    print("Lexicon %s: %d names of %d concepts, %d distinct after "
          "preprocessing%s" % (
              lexicon.label, len(lexicon.names), lexicon.num_concepts,
              len(self.index.forms),
              "; %d names under several concepts, kept under each" %
              lexicon.ambiguous if lexicon.ambiguous else ""))
    paths = split_files(config.data_dir)
    types = {t.strip() for t in options.mention_types.split(",")
             if t.strip()}
    inputs = {}
    wanted = (["train"] if config.do_train else []) + (
        ["dev"] if config.do_eval or config.evaluates_during_training else
        []) + (["test"] if config.do_predict else [])
    self.counts = {}
    for part in wanted:
      queries, counts = read_queries(paths[part], types, self.spelling)
      if not queries:
        raise errors.InputError(paths[part], None, "no mention with a "
                                "concept ID%s" % (
                                    " of type %s" % ", ".join(sorted(types))
                                    if types else ""))
      self.counts[part] = counts
      inputs[part] = driver.Split(queries, paths[part])
    if config.do_train:
      self.instances = training_instances(inputs["train"].examples,
                                          self.index)
      # Every epoch's worth of steps unless told.
      self.refresh_every = options.refresh_every_n_steps or max(
          1, len(self.instances) // config.train_batch_size)
    return inputs

  def cache_options(self, config):
    options = config.task
    return {"task": "norm", "lexicon_sha256": self.index.lexicon.digest
            if self.index else None,
            # Where the tagger finds them (their digests are checked).
            "lexicon": os.path.abspath(options.lexicon),
            "spelling_file": (os.path.abspath(options.spelling_file)
                              if options.spelling_file else None),
            "spelling_sha256": (files.file_digest(options.spelling_file)
                                if options.spelling_file else None),
            "mention_types": options.mention_types,
            "topk": options.topk, "dense_ratio": options.dense_ratio,
            "initial_sparse_weight": options.initial_sparse_weight,
            "refresh_every_n_steps": options.refresh_every_n_steps,
            # The features index the training pairs: the pairs themselves
            # (how the corpus and the lexicon were read) key the cache.
            "pairs_sha256": hashlib.sha256(json.dumps(
                self.instances).encode()).hexdigest()
            if self.instances is not None else None}

  def training_features(self, examples, tokenizer, config, labels):
    del examples, labels
    features = mention_features([f for f, _ in self.instances], tokenizer,
                                config.max_seq_length)
    for i, f in enumerate(features):
      f["mention_index"] = i
    return features, {"num_features": len(features),
                      "instances": len(self.instances)}

  def report_training(self, examples, info, config):
    skipped = sum(1 for q in examples for p in q.gold
                  if not set(p) & self.index.known)
    print("Training on %d (mention, concept) pairs of %d mentions%s" % (
        len(self.instances), len(examples),
        "; %d parts whose gold concept is not in the lexicon left out" %
        skipped if skipped else ""))

  def head_fn(self, labels):
    del labels
    retriever = None
    if self.instances is not None:
      retriever = Retriever(self.index, self.instances, self.tokenizer,
                            self.max_seq_length, self.options.topk,
                            self.options.dense_ratio)
    return head_fn(self.bert_config, retriever, self.options,
                   self.refresh_every, os.path.join(self.output_dir,
                                                    EMBEDDINGS_DIR))

  # -- prediction

  def rankings(self, context, queries, cache_key=None):
    """(names ranked, their scores) of each form of each query, and the
    model's sparse weight."""
    config = context.config
    forms = [f for q in queries for f in q.forms]
    results = context.predict(mention_features(
        forms, context.tokenizer, config.max_seq_length),
                              config.predict_batch_size, "mentions")
    weight = float(results[0]["sparse_weight"]) if results else 0.0
    path = (config.path(os.path.join(EMBEDDINGS_DIR, cache_key + ".npy"))
            if cache_key else None)
    names = lexicon_embeddings(
        path, lambda f: context.predict(f, config.predict_batch_size,
                                        "lexicon"),
        self.index, context.tokenizer, config.max_seq_length)
    ranked, scores = rank(self.index, np.stack([r["embedding"]
                                                for r in results]),
                          forms, DenseSearch(names), weight, config.task.topk)
    out, n = [], 0
    for q in queries:
      out.append((ranked[n:n + len(q.forms)], scores[n:n + len(q.forms)]))
      n += len(q.forms)
    return [r for r, _ in out], [s for _, s in out], weight

  def model_key(self, config):
    """The key of the lexicon's embeddings by the model that predicts."""
    checkpoint = selection.best_checkpoint(config.output_dir) or (
        tf.train.latest_checkpoint(config.output_dir))
    return embeddings_key(checkpoint, self.index.lexicon.digest,
                          self.spelling, config.max_seq_length,
                          config.do_lower_case) if checkpoint else None

  def dev_score(self, context, split):
    ranked, _, _ = self.rankings(context, split.examples)
    scores = accuracy(split.examples, ranked, self.index)
    return "acc@1", scores["acc@1"], scores

  def evaluate(self, context, split):
    config = context.config
    ranked, scores_of, _ = self.rankings(context, split.examples,
                                         self.model_key(config))
    scores = accuracy(split.examples, ranked, self.index)
    decided = [(part, r, sc) for q, rs, ss in zip(split.examples, ranked,
                                                  scores_of)
               for part, (r, sc) in part_rankings(q, list(zip(rs, ss)))]
    threshold, f1 = choose_threshold(
        [confidence(r, sc, self.index) for _, r, sc in decided],
        [bool(r) and correct(self.index.concepts[r[0]], part)
         for part, r, _ in decided])
    files.atomic_write(config.path(THRESHOLD_FILE), json.dumps({
        "threshold": threshold, "dev_f1": f1, "dev_file": split.path},
                                                               indent=2) +
                       "\n")
    print("Concept threshold %.4f (best F1 %.4f of the IDs given on %s): "
          "%s" % (threshold, f1, split.path, config.path(THRESHOLD_FILE)))
    return {"eval_acc@1": scores["acc@1"], "eval_acc@5": scores["acc@5"],
            "eval_mention_acc@1": scores["mention_acc@1"]}

  def predict(self, context, split):
    config = context.config
    ranked, scores_of, weight = self.rankings(context, split.examples,
                                              self.model_key(config))
    model = accuracy(split.examples, ranked, self.index)
    baseline = accuracy(split.examples,
                        dictionary_rankings(split.examples, self.index),
                        self.index)
    write_predictions(config.path(PREDICTIONS_FILE), split.examples, ranked,
                      self.index)
    threshold = recorded_threshold(config.output_dir) or 0.0
    write_pubtator(config.path(PUBTATOR_FILE), split.path, split.examples,
                   ranked, scores_of, self.index, threshold)
    dataset = published_set(config)
    report = {"model": model, "dictionary_baseline": baseline,
              "sparse_weight": weight,
              "lexicon": {"path": self.index.lexicon.path,
                          "sha256": self.index.lexicon.digest,
                          "format": self.index.lexicon.format,
                          "names": len(self.index.lexicon.names),
                          "distinct_forms": len(self.index.forms),
                          "concepts": self.index.lexicon.num_concepts,
                          "names_under_several_concepts":
                              self.index.lexicon.ambiguous},
              "test_file": split.path,
              "test_counts": dataclasses.asdict(self.counts["test"])}
    files.atomic_write(config.path(SCORES_FILE),
                       json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(format_scores(model, baseline, dataset))
    print("Wrote %s, %s and %s" % (config.path(SCORES_FILE),
                                   config.path(PREDICTIONS_FILE),
                                   config.path(PUBTATOR_FILE)))

  def test_scores(self, output_dir):
    return files.read_json(os.path.join(output_dir, SCORES_FILE),
                           "run_norm.py's scores")["model"]


def published_set(config):
  """The normalization data set of tasks/datasets.toml that a run's data
  dir and mention types are, or None."""
  base = os.path.basename(os.path.normpath(config.data_dir))
  for dataset in datasets.of_kind("norm").values():
    if (os.path.basename(os.path.normpath(dataset.paths["data_dir"])) == base
        and (dataset.mention_types or "") == config.task.mention_types):
      return dataset
  return None


def training_instances(queries, index):
  """[(form, gold part)]: each distinct pair of a training mention's parts
  whose concept the lexicon has (BioSyn trains on distinct pairs)."""
  seen, out = set(), []
  for q in queries:
    for part, form in zip(*(
        (q.gold, q.forms) if len(q.forms) == len(q.gold) else ((), ()))):
      if set(part) & index.known and (form, part) not in seen:
        seen.add((form, part))
        out.append((form, part))
  return out


def format_scores(model, baseline, dataset):
  """The console table: this model, the dictionary baseline, and the
  published numbers of the data set (when tasks/datasets.toml has it)."""
  rows = [("this model", model["acc@1"], model["acc@5"]),
          ("dictionary baseline (exact match)", baseline["acc@1"],
           baseline["acc@5"])]
  lines = ["***** test scores: %d mentions, %d distinct (BioSyn's "
           "protocol) *****" % (model["mentions"], model["unique_queries"]),
           "%-40s %7s %7s" % ("", "acc@1", "acc@5")]
  for name, a1, a5 in rows:
    lines.append("%-40s %7.2f %7.2f" % (name, 100 * a1, 100 * a5))
  for p in (dataset.published if dataset else ()):
    lines.append("%-40s %7.2f %7s   %s" % (p.system + " (published)",
                                           p.value, "-", p.source))
  if model["gold_not_in_lexicon"]:
    lines.append("%d mentions have a gold concept the lexicon lacks: they "
                 "count as wrong" % model["gold_not_in_lexicon"])
  return "\n".join(lines)


def write_predictions(path, queries, rankings, index):
  """JSON Lines: each mention, its gold IDs and its top names."""
  with files.atomic_file(path) as f:
    for q, r in zip(queries, rankings):
      f.write(json.dumps({
          "pmid": q.pmid, "start": q.start, "end": q.end, "text": q.text,
          "type": q.type, "gold": "|".join("+".join(p) for p in q.gold),
          "forms": list(q.forms),
          "candidates": [[{"concept": "|".join(index.concepts[i]),
                           "name": index.forms[i]} for i in ranking]
                         for ranking in r]}, ensure_ascii=False) + "\n")


def write_pubtator(path, test_path, queries, rankings, scores, index,
                   threshold):
  """The test file's documents with each scored mention's predicted IDs
  (parts joined by `|`, as the corpora write composites; -1 below the
  threshold)."""
  documents, _ = pubtator.read(test_path)
  best = {}
  for q, ranks, scored in zip(queries, rankings, scores):
    best[(q.pmid, q.start, q.end)] = "|".join(
        index.concepts[r[0]][0]
        if r and confidence(r, s, index) >= threshold else "-1"
        for r, s in zip(ranks, scored))
  with files.atomic_file(path) as f:
    for doc in documents:
      f.write("%s|t|%s\n%s|a|%s\n" % (doc.pmid, doc.title, doc.pmid,
                                      doc.abstract))
      for m in doc.mentions:
        key = (doc.pmid, m.start, m.end)
        if key in best:
          f.write("%s\t%d\t%d\t%s\t%s\t%s\n" % (doc.pmid, m.start, m.end,
                                                m.text, m.type, best[key]))
      f.write("\n")


KIND = tasks.Kind(
    "norm", "run_norm.py", NormOptions, FLAG_DEFAULTS, SCORES_FILE,
    tasks.metrics(
        tasks.Metric("acc1", ("model", "acc@1"), 100, "acc@1"),
        tasks.Metric("acc5", ("model", "acc@5"), 100, "acc@5")),
    ("acc1", "acc5"))


def run(config):
  """A run_norm.py run."""
  driver.run(NormTask(), config)
