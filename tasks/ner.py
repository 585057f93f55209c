"""Named entity recognition: BioBERT's NER task, in one module.

Reading BioBERT's NER files (`token<TAB>tag`, a blank line between
sentences), windows of long sentences at word boundaries, the token
classifier's features, decoding, the original's output files and scores
(token level and conlleval's entity level), and tagging raw text. run_ner.py
is its command line.
"""

import collections
import copy
import dataclasses
import json
import os
from typing import Optional

import numpy as np
import tensorflow.compat.v1 as tf

from biocodes import chunks
from biocodes import conlleval
from biocodes import metrics
from biocodes import ner_detokenize
from biocodes import ner_io
import tasks
import tokenization
from finetuning import config as run_config
from finetuning import driver
from finetuning import errors
from finetuning import estimator as est
from finetuning import feature_cache
from finetuning import files
from finetuning import records
from finetuning.options import option


PAD, CLS, SEP, X = "[PAD]", "[CLS]", "[SEP]", "X"
ORIGINAL_TAGS = ["B", "I", "O"]

InputExample = collections.namedtuple("InputExample",
                                      ["guid", "words", "tags", "lines"])
Window = collections.namedtuple("Window",
                                ["tokens", "is_first", "example_index"])


@dataclasses.dataclass(frozen=True)
class NerOptions(run_config.RawTextOptions):
  """The flags of run_ner.py beyond the common ones."""
  select_epochs_on_dev: bool = option(
      False, "The BioBERT paper's protocol in one command: train on "
      "train.tsv with a dev evaluation (entity F1 on devel.tsv) after every "
      "epoch up to --num_train_epochs, take the best epoch count, train on "
      "train_dev.tsv for that many epochs (<output_dir>/final) and predict "
      "test.tsv; <output_dir>/protocol_report.json has the dev curve, the "
      "chosen epochs and the test scores.")
  entity_type: Optional[str] = option(
      None, "--raw_text_file: the type written for the entities of a model "
      "trained on untyped B/I/O tags (e.g. DISEASE), so that run_re.py "
      "--raw_text_file can pair them. A typed model's own types are kept.")
  normalizers: Optional[str] = option(
      None, "--raw_text_file: run_norm.py run dirs as type=run_dir, "
      "comma-separated (e.g. disease=out_norm): each entity of that type "
      "gets a \"concept\" (its ID, the name matched and a confidence; null "
      "below the run's threshold), as tag_corpus.py --normalizers writes.")


# The original run_ner.py's defaults.
FLAG_DEFAULTS = dict(task_name="NER", do_train=True, do_predict=True,
                     do_lower_case=False, num_train_epochs=10.0)


class NerProcessor(object):
  """Reads a BioBERT NER data dir. Subclass it for another file layout."""

  train_file = "train_dev.tsv"
  dev_file = "devel.tsv"
  test_file = "test.tsv"

  def get_train_examples(self, data_dir):
    """Examples of the training file."""
    return self._read(data_dir, self.train_file, "train")

  def get_dev_examples(self, data_dir):
    """Examples of the evaluation file."""
    return self._read(data_dir, self.dev_file, "dev")

  def get_test_examples(self, data_dir):
    """Examples of the prediction file."""
    return self._read(data_dir, self.test_file, "test")

  def _read(self, data_dir, name, set_type):
    path = os.path.join(data_dir, name)
    if not os.path.isfile(path):
      raise errors.InputError(
          path, None, "file not found. An NER data dir holds %s (training), "
          "%s (--do_eval) and %s (--do_predict)" %
          (self.train_file, self.dev_file, self.test_file))
    sentences = ner_io.read_sentences(path)
    return driver.Split(
        [InputExample("%s-%d" % (set_type, i), [w for w, _, _ in s],
                      [t for _, t, _ in s], [n for _, _, n in s])
         for i, s in enumerate(sentences)], path)


def label_list_from_tags(tags):
  """[PAD], the word tags, X, [CLS], [SEP]: the label ids of the model.

  Plain B/I/O data gets the original list [PAD] B I O X [CLS] [SEP]. For
  typed tags, every type seen gets both its B- and I- tag.
  """
  tags = set(tags) | {"O"}
  for tag in list(tags):
    if tag != "O":
      tags.add("B" + tag[1:])
      tags.add("I" + tag[1:])
  return [PAD] + sorted(tags) + [X, CLS, SEP]


def word_tags(label_list):
  """The labels that a word can carry (B/I/O and their typed forms)."""
  return [l for l in label_list if l not in (PAD, X, CLS, SEP)]


def word_tag_ids(label_list):
  """Ids of the labels a word can carry (see `word_tags`)."""
  tags = set(word_tags(label_list))
  return [i for i, l in enumerate(label_list) if l in tags]


def check_tags(examples, path, label_list):
  """Raises InputError (file:line) for a tag outside `label_list`."""
  allowed = set(word_tags(label_list))
  for ex in examples:
    for tag, line in zip(ex.tags, ex.lines):
      if tag not in allowed:
        raise errors.InputError(
            path, line, "tag %r is not in the label list of the model (%s); "
            "a tag never seen in training cannot be predicted" %
            (tag, " ".join(sorted(allowed))))


def split_windows(pieces_per_word, budget):
  """Splits a sentence into windows of at most `budget` pieces.

  Windows end at word boundaries; a single word longer than `budget` is
  spread over consecutive windows.

  Returns:
    A list of windows, each a list of (word_index, piece_index).
  """
  windows, current = [], []
  for w, pieces in enumerate(pieces_per_word):
    refs = [(w, k) for k in range(len(pieces))]
    if len(current) + len(refs) <= budget:
      current.extend(refs)
      continue
    if current:
      windows.append(current)
    while len(refs) > budget:
      windows.append(refs[:budget])
      refs = refs[budget:]
    current = refs
  if current or not windows:
    windows.append(current)
  return windows


def convert_examples(examples, label_list, tokenizer, max_seq_length):
  """Builds unpadded model features: one per window of every sentence.

  The first piece of a word carries the word's tag, later pieces "X".
  A word that tokenizes to nothing (e.g. only control characters) becomes
  one [UNK] piece so that it still gets a prediction.

  Returns:
    (features, windows, number of sentences that needed several windows).
  """
  label_map = {label: i for i, label in enumerate(label_list)}
  features, windows = [], []
  n_split = 0
  for ex_index, ex in enumerate(examples):
    pieces = [tokenizer.tokenize(w) or ["[UNK]"] for w in ex.words]
    parts = split_windows(pieces, max_seq_length - 2)
    n_split += len(parts) > 1
    for part in parts:
      tokens, labels, is_first = [CLS], [CLS], [False]
      for (w, k) in part:
        tokens.append(pieces[w][k])
        labels.append(ex.tags[w] if k == 0 else X)
        is_first.append(k == 0)
      tokens.append(SEP)
      labels.append(SEP)
      is_first.append(False)
      features.append({
          "input_ids": tokenizer.convert_tokens_to_ids(tokens),
          "input_mask": [1] * len(tokens),
          "segment_ids": [0] * len(tokens),
          "label_ids": [label_map[l] for l in labels],
      })
      windows.append(Window(tokens, is_first, ex_index))
    if ex_index < 3:
      tf.logging.info("*** Example %s ***", ex.guid)
      tf.logging.info("tokens: %s", " ".join(windows[-1].tokens))
  return features, windows, n_split


def decode_window(window, log_probs, label_list, tag_ids):
  """The label of every piece of a window.

  A word's first piece gets the most probable word tag (never [PAD], X,
  [CLS] or [SEP]; `tag_ids` from `word_tag_ids`); other pieces "X"; the
  borders [CLS] and [SEP].
  """
  labels = []
  last = len(window.tokens) - 1
  for pos in range(len(window.tokens)):
    if pos == 0:
      labels.append(CLS)
    elif pos == last:
      labels.append(SEP)
    elif window.is_first[pos]:
      best = tag_ids[int(np.argmax(log_probs[pos][tag_ids]))]
      labels.append(label_list[best])
    else:
      labels.append(X)
  return labels


def decode(windows, results, label_list):
  """(piece labels per window, word tags per example, mean loss)."""
  tag_ids = word_tag_ids(label_list)
  window_labels = [decode_window(w, r["log_probs"], label_list, tag_ids)
                   for w, r in zip(windows, results)]
  tags = collections.defaultdict(list)
  for window, labels in zip(windows, window_labels):
    for label, first in zip(labels, window.is_first):
      if first:
        tags[window.example_index].append(label)
  losses = [float(r["loss"]) if "loss" in r else
            float(np.sum(r["position_loss"])) for r in results]
  return window_labels, tags, float(np.mean(losses)) if losses else 0.0


def word_probabilities(windows, results, label_list):
  """{example index: the probability of each word's chosen tag}, in the
  order of `decode`'s tags (the probability at the word's first piece)."""
  tag_ids = word_tag_ids(label_list)
  found = collections.defaultdict(list)
  for window, r in zip(windows, results):
    log_probs = r["log_probs"]
    for pos, first in enumerate(window.is_first):
      if first:
        found[window.example_index].append(
            float(np.exp(np.max(log_probs[pos][tag_ids]))))
  return found


def token_level_scores(examples, predicted, label_list):
  """Token-level precision/recall/F1, macro-averaged over B and I labels.

  Per class (every B and I label): precision, recall and F1 over words;
  the three numbers are the means over classes, as the original's
  tf_metrics macro average.
  """
  classes = [l for l in word_tags(label_list) if l != "O"]
  scores = []
  for c in classes:
    tp = n_pred = n_gold = 0
    for ex_index, ex in enumerate(examples):
      for gold, pred in zip(ex.tags, predicted[ex_index]):
        tp += gold == c and pred == c
        n_pred += pred == c
        n_gold += gold == c
    scores.append(metrics.prf(tp, n_pred, n_gold))
  p, r, f = (np.mean([s[k] for s in scores]) for k in range(3))
  return {"eval_precision": float(p), "eval_recall": float(r),
          "eval_f": float(f)}


def conll_lines(examples, tags):
  """The CoNLL lines (`word gold pred`) of examples and their word tags."""
  sentences = [list(zip(ex.words, ex.tags, ex.lines)) for ex in examples]
  text = ner_io.format_conll(sentences,
                             [tags[i] for i in range(len(examples))])
  return text.splitlines(True)


def format_piece_files(windows, window_labels):
  """The text of token_test.txt and label_test.txt, one piece a line."""
  tokens = "".join(t + "\n" for w in windows for t in w.tokens)
  labels = "".join(l + "\n" for ls in window_labels for l in ls)
  return tokens, labels


def split_words_with_offsets(text):
  """Splits raw text into words at whitespace and punctuation.

  Returns:
    A list of (word, start, end) character offsets into `text`.
  """
  words = []
  start = None
  for i, ch in enumerate(text):
    if ch.isspace() or tokenization._is_punctuation(ch):
      if start is not None:
        words.append((text[start:i], start, i))
        start = None
      if not ch.isspace():
        words.append((ch, i, i + 1))
    elif start is None:
      start = i
  if start is not None:
    words.append((text[start:], start, len(text)))
  return words


def entities(line, words, tags, untyped=None, word_scores=None):
  """Entities of one tagged line (conlleval's chunks), as JSON-able dicts.

  `untyped`: the type given to entities of plain B/I/O tags (else None).
  `word_scores`: a number per word (`word_probabilities`); each entity's
  "score" is then the mean over its words.
  """
  found = []
  for typ, first, end in chunks.chunks(tags):
    start, stop = words[first][1], words[end - 1][2]
    entity = {"start": start, "end": stop, "text": line[start:stop],
              "type": typ or untyped or None}
    if word_scores is not None:
      entity["score"] = float(np.mean(word_scores[first:end]))
    found.append(entity)
  return found


class NerTask(driver.Task):
  """Named entity recognition on BioBERT's NER files."""

  name = "ner"
  kind = "ner"
  head = "token_classifier"
  fields = {"input_ids": records.SEQUENCE,
            "input_mask": records.SEQUENCE,
            "segment_ids": records.SEQUENCE,
            "label_ids": records.SEQUENCE}

  packable = True

  def __init__(self, processor=None):
    self.processor = processor or NerProcessor()
    self.options = None  # the run's NerOptions (check_config)
    self.normalized = []  # (type, run dir) of --normalizers

  def for_stage(self, stage):
    processor = copy.copy(self.processor)
    processor.train_file = ("train.tsv" if stage == "select" else
                            "train_dev.tsv")
    return NerTask(processor)

  def test_scores(self, output_dir):
    with open(os.path.join(output_dir, "ner_scores.json")) as f:
      return json.load(f)

  def check_config(self, config):
    self.options = config.task
    if not (config.do_train or config.do_eval or config.do_predict or
            config.task.raw_text_file):
      raise errors.UserError("At least one of `do_train`, `do_eval`, "
                             "`do_predict` or `raw_text_file` must be set.")
    if (config.do_train or config.do_eval or config.do_predict) and not (
        config.data_dir):
      raise errors.UserError("--data_dir is required")
    if config.task.normalizers:
      from corpus import tagging  # pylint: disable=g-import-not-at-top
      if not config.task.raw_text_file:
        raise errors.FlagError("normalizers", config.task.normalizers,
                               "--raw_text_file too: it normalizes the "
                               "entities of raw text")
      for _, path in tagging.parse_normalizers(config.task.normalizers):
        tagging.check_normalizer(path, config.vocab_file)

  def read_inputs(self, config):
    inputs = {}
    data_dir = config.data_dir
    if config.do_train:
      inputs["train"] = self.processor.get_train_examples(data_dir)
    if config.do_eval or config.evaluates_during_training:
      inputs["dev"] = self.processor.get_dev_examples(data_dir)
    if config.do_predict:
      inputs["test"] = self.processor.get_test_examples(data_dir)
    if config.task.raw_text_file:
      inputs["raw"] = files.read_text_lines(config.task.raw_text_file,
                                            "plain text, one sentence a line")
    return inputs

  def label_list(self, inputs, recorded):
    if "train" in inputs:
      return label_list_from_tags(t for ex in inputs["train"].examples
                                  for t in ex.tags)
    return recorded or label_list_from_tags(ORIGINAL_TAGS)

  def check_inputs(self, inputs, labels):
    for split in ("dev", "test"):
      if split in inputs:
        check_tags(inputs[split].examples, inputs[split].path, labels)
    self.normalized = self.normalizers_of(labels)

  def normalizers_of(self, labels):
    """[(type, run dir)] of --normalizers, each of a type the model gives;
    FlagError if not."""
    options = self.options
    if not (options and options.normalizers and options.raw_text_file):
      return []
    from corpus import tagging  # pylint: disable=g-import-not-at-top
    have = {t.lower() for t in tagging.entity_types(
        labels or [], options.entity_type) if t}
    specs = tagging.parse_normalizers(options.normalizers)
    for kind, _ in specs:
      if kind not in have:
        raise errors.FlagError("normalizers", options.normalizers,
                               "types of the model's entities (%s)" %
                               ", ".join(sorted(have)))
    return specs

  def cache_options(self, config):
    return {"task": "ner"}

  def training_features(self, examples, tokenizer, config, labels):
    parts = feature_cache.parallel_chunks(
        lambda chunk: convert_examples(chunk, labels, tokenizer,
                                       config.max_seq_length)[::2],
        examples)
    return ([f for feats, _ in parts for f in feats],
            {"sentences_split": sum(n for _, n in parts)})

  def report_training(self, examples, info, config):
    tf.logging.info("%d of %d training sentences are longer than %d pieces "
                    "and were split into windows", info["sentences_split"],
                    len(examples), config.max_seq_length)

  def _tag(self, context, examples, batch_size, record_name):
    features, windows, n_split = convert_examples(
        examples, context.labels, context.tokenizer,
        context.config.max_seq_length)
    results = context.predict(features, batch_size, record_name)
    return (windows, n_split) + decode(windows, results, context.labels)

  def evaluate(self, context, split):
    _, _, _, tags, loss = self._tag(context, split.examples,
                                    context.config.eval_batch_size,
                                    "eval.tf_record")
    result = token_level_scores(split.examples, tags, context.labels)
    result["loss"] = loss
    return result

  def dev_score(self, context, split):
    _, _, _, tags, _ = self._tag(context, split.examples,
                                 context.config.eval_batch_size,
                                 "eval.tf_record")
    counts = conlleval.evaluate(conll_lines(split.examples, tags))
    prec, rec, f1 = conlleval.prf(counts.right, counts.pred, counts.gold)
    return "entity_f1", f1, {"precision": prec, "recall": rec,
                             "gold": counts.gold, "found": counts.pred,
                             "correct": counts.right}

  def predict(self, context, split):
    config = context.config
    examples = split.examples
    windows, n_split, window_labels, tags, loss = self._tag(
        context, examples, config.predict_batch_size, "predict.tf_record")
    tf.logging.info("%d of %d test sentences were split into windows",
                    n_split, len(examples))
    token_text, label_text = format_piece_files(windows, window_labels)
    files.atomic_write(config.path("token_test.txt"), token_text)
    files.atomic_write(config.path("label_test.txt"), label_text)
    token_scores = token_level_scores(examples, tags, context.labels)
    token_scores.update(loss=loss,
                        global_step=est.checkpoint_step(config.output_dir))
    print("***** token-level evaluation results *****")
    for key in sorted(token_scores):
      print("  %s = %s" % (key, token_scores[key]))

    conll = "".join(conll_lines(examples, tags))
    files.atomic_write(config.path(ner_detokenize.RESULT_NAME), conll)
    counts = conlleval.evaluate(conll.splitlines(True))
    prec, rec, f1 = conlleval.prf(counts.right, counts.pred, counts.gold)
    print("***** entity-level evaluation results (conlleval) *****")
    print(conlleval.report(counts), end="")
    if counts.gold and not counts.pred:
      errors.warn("the model found no entity in %s (%d in the answers): it "
                  "tags every word O. Train longer, or raise "
                  "--learning_rate" % (split.path, counts.gold))
    scores = {"token_level": token_scores,
              "entity_level": {"precision": prec, "recall": rec, "f1": f1,
                               "gold": counts.gold, "found": counts.pred,
                               "correct": counts.right},
              "words": sum(len(ex.words) for ex in examples),
              "windows": len(windows), "sentences_split": n_split}
    files.atomic_write(config.path("ner_scores.json"),
                       json.dumps(scores, indent=2, sort_keys=True) + "\n")
    print("Outputs in %s: token_test.txt, label_test.txt, %s, "
          "ner_scores.json" % (config.output_dir, ner_detokenize.RESULT_NAME))

  def raw_text(self, context, lines):
    config = context.config
    split = [split_words_with_offsets(line) for line in lines]
    examples = [InputExample("raw-%d" % i, [w for w, _, _ in words],
                             ["O"] * len(words), [])
                for i, words in enumerate(split) if words]
    tags = {}
    if examples:
      _, _, _, tags, _ = self._tag(context, examples,
                                   config.predict_batch_size, "raw.tf_record")
    results = []
    k = 0
    for i, (line, words) in enumerate(zip(lines, split)):
      found = []
      if words:
        found = entities(line, words, tags[k], config.task.entity_type)
        k += 1
      results.append({"line": i + 1, "text": line, "entities": found})
    if self.normalized:
      normalize_entities(results, self.normalized, config.vocab_file)
    out = config.task.raw_output_file or config.path(
        "raw_text_predictions.jsonl")
    files.atomic_write(out, "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    print("Tagged %d lines: %d entities written to %s" %
          (len(results), sum(len(r["entities"]) for r in results), out))



def normalize_entities(results, normalizers, vocab_file):
  """Gives each entity of the raw-text results ({text, entities}) of a
  normalized type its "concept" (`corpus.tagging.NormModel`)."""
  from corpus import tagging  # pylint: disable=g-import-not-at-top
  for kind, path in normalizers:
    model = tagging.NormModel(path, vocab_file)
    where = [(r, e) for r in results for e in r["entities"]
             if (e["type"] or "").lower() == kind]
    found = model.normalize([(e["text"], r["text"]) for r, e in where])
    for (_, e), concept in zip(where, found):
      e["concept"] = tagging.concept_record(concept, model.name)


def tag_sentences(sentences, labels, tokenizer, max_seq_length, predict,
                  untyped=None):
  """Entities of raw sentences, as --raw_text_file tags them.

  Args:
    sentences: strings.
    labels: the trained run's labels.
    predict: features -> the model's results (e.g. a `Predictor`'s).
    untyped: the type of the entities of a model with B/I/O tags.

  Returns:
    [[{start, end, text, type, score}] per sentence], offsets into each;
    the score of an entity is the mean, over its words, of the probability
    of the tag the model chose for the word.
  """
  split = [split_words_with_offsets(s) for s in sentences]
  examples = [InputExample(str(i), [w for w, _, _ in words],
                           ["O"] * len(words), [])
              for i, words in enumerate(split) if words]
  found = [[] for _ in sentences]
  if not examples:
    return found
  features, windows, _ = convert_examples(examples, labels, tokenizer,
                                          max_seq_length)
  results = predict(features)
  _, tags, _ = decode(windows, results, labels)
  scores = word_probabilities(windows, results, labels)
  k = 0
  for i, words in enumerate(split):
    if not words:
      continue
    found[i] = entities(sentences[i], words, tags[k], untyped, scores[k])
    k += 1
  return found


KIND = tasks.Kind(
    "ner", "run_ner.py", NerOptions, FLAG_DEFAULTS, "ner_scores.json",
    tasks.metrics(
        tasks.Metric("entity_f1", ("entity_level", "f1"), 1, "entity F1"),
        tasks.Metric("entity_precision", ("entity_level", "precision"), 1,
                     "entity precision"),
        tasks.Metric("entity_recall", ("entity_level", "recall"), 1,
                     "entity recall")),
    ("entity_f1",),
    (NerProcessor.train_file, NerProcessor.test_file))


def task_of(config):
  """The task a RunConfig runs."""
  del config
  return NerTask()


def run(config):
  """A run_ner.py run: the paper's protocol or one ordinary run."""
  if config.task.select_epochs_on_dev:
    driver.run_paper_protocol(NerTask(), config)
  else:
    driver.run(NerTask(), config)
