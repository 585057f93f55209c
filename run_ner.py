# coding=utf-8
"""BioBERT named entity recognition: fine-tune, evaluate, predict and score.

    python run_ner.py --do_train=true --do_eval=true \
      --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --num_train_epochs=10.0 --data_dir=$NER_DIR --output_dir=$OUTPUT_DIR

The data dir holds train_dev.tsv (training), devel.tsv (--do_eval) and
test.tsv (--do_predict), `token<TAB>tag` lines with a blank line between
sentences. Sentences longer than --max_seq_length word pieces are split into
windows at word boundaries, so every word is trained on and predicted.

--do_predict writes token_test.txt, label_test.txt (the original formats),
NER_result_conll.txt (what biocodes/ner_detokenize.py writes) and
ner_scores.json, and prints the token-level and entity-level (conlleval)
scores. --raw_text_file tags plain text with the model in --output_dir.
"""

import collections
import json
import os

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

from biocodes import conlleval
from biocodes import ner_detokenize
from biocodes import ner_io
import tokenization
from finetuning import errors
from finetuning import estimator as est
from finetuning import feature_cache
from finetuning import flags as common_flags
from finetuning import heads
from finetuning import run_dir

common_flags.define_common_flags(
    task_name="NER", do_train=True, do_predict=True, do_lower_case=False,
    num_train_epochs=10.0)
flags.DEFINE_string(
    "raw_text_file", None,
    "Plain text to tag with the model in --output_dir: one sentence or "
    "paragraph a line. Writes JSON Lines of the entities found.")
flags.DEFINE_string(
    "raw_output_file", None,
    "Where --raw_text_file results go (default: "
    "<output_dir>/raw_text_predictions.jsonl).")
FLAGS = flags.FLAGS

PAD, CLS, SEP, X = "[PAD]", "[CLS]", "[SEP]", "X"
ORIGINAL_TAGS = ["B", "I", "O"]

InputExample = collections.namedtuple("InputExample",
                                      ["guid", "words", "tags", "lines"])
Window = collections.namedtuple("Window",
                                ["tokens", "is_first", "example_index"])


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
    return [InputExample("%s-%d" % (set_type, i), [w for w, _, _ in s],
                         [t for _, t, _ in s], [n for _, _, n in s])
            for i, s in enumerate(sentences)], path


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
  """Builds model features: one per window of every sentence.

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
    chunks = split_windows(pieces, max_seq_length - 2)
    n_split += len(chunks) > 1
    for chunk in chunks:
      tokens, labels, is_first = [CLS], [CLS], [False]
      for (w, k) in chunk:
        tokens.append(pieces[w][k])
        labels.append(ex.tags[w] if k == 0 else X)
        is_first.append(k == 0)
      tokens.append(SEP)
      labels.append(SEP)
      is_first.append(False)
      n = len(tokens)
      pad = max_seq_length - n
      features.append({
          "input_ids": tokenizer.convert_tokens_to_ids(tokens) + [0] * pad,
          "input_mask": [1] * n + [0] * pad,
          "segment_ids": [0] * max_seq_length,
          "label_ids": [label_map[l] for l in labels] + [0] * pad,
      })
      windows.append(Window(tokens, is_first, ex_index))
    if ex_index < 3:
      tf.logging.info("*** Example %s ***", ex.guid)
      tf.logging.info("tokens: %s", " ".join(windows[-1].tokens))
  return features, windows, n_split


def head_fn_builder(num_labels):
  """The NER head: per-token softmax, loss summed over all positions."""

  def head_fn(model, features, is_training):
    logits = heads.output_logits(model.get_sequence_output(), num_labels,
                                 is_training)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    one_hot_labels = tf.one_hot(features["label_ids"], depth=num_labels,
                                dtype=tf.float32)
    per_position_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
    loss = tf.reduce_sum(per_position_loss)
    predictions = {"log_probs": log_probs,
                   "loss": tf.reduce_sum(per_position_loss, axis=-1)}
    return est.HeadOutput(loss, predictions, None)

  return head_fn


def word_tag_ids(label_list):
  """Ids of the labels a word can carry (see `word_tags`)."""
  tags = set(word_tags(label_list))
  return [i for i, l in enumerate(label_list) if l in tags]


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


def predict_windows(estimator, features, windows, label_list, record_file,
                    max_seq_length, batch_size, bucketed=False):
  """Runs the model over `features`.

  Returns:
    (piece labels per window, predicted tags per example, mean loss).
  """
  results = list(est.predict_features(estimator, features,
                                      feature_lengths(max_seq_length),
                                      record_file, batch_size,
                                      bucketed=bucketed))
  tag_ids = word_tag_ids(label_list)
  window_labels, losses = [], []
  for window, result in zip(windows, results):
    window_labels.append(decode_window(window, result["log_probs"],
                                       label_list, tag_ids))
    losses.append(float(result["loss"]))
  if len(window_labels) != len(windows):
    raise RuntimeError("the model returned %d predictions for %d windows" %
                       (len(window_labels), len(windows)))
  tags = collections.defaultdict(list)
  for window, labels in zip(windows, window_labels):
    for label, first in zip(labels, window.is_first):
      if first:
        tags[window.example_index].append(label)
  return window_labels, tags, float(np.mean(losses)) if losses else 0.0


def feature_lengths(max_seq_length):
  """Feature names and lengths of the NER TFRecords."""
  return {"input_ids": max_seq_length, "input_mask": max_seq_length,
          "segment_ids": max_seq_length, "label_ids": max_seq_length}


def token_level_scores(examples, predicted, label_list):
  """Token-level precision/recall/F1, macro-averaged over B and I labels.

  Per class (every B and I label): precision, recall and F1 over words;
  the three numbers are the means over classes, as the original's
  tf_metrics macro average.
  """
  classes = [l for l in word_tags(label_list) if l != "O"]
  precisions, recalls, fs = [], [], []
  for c in classes:
    tp = n_pred = n_gold = 0
    for ex_index, ex in enumerate(examples):
      for gold, pred in zip(ex.tags, predicted[ex_index]):
        tp += gold == c and pred == c
        n_pred += pred == c
        n_gold += gold == c
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    precisions.append(p)
    recalls.append(r)
    fs.append(2 * p * r / (p + r) if p + r else 0.0)
  return {"eval_precision": float(np.mean(precisions)),
          "eval_recall": float(np.mean(recalls)),
          "eval_f": float(np.mean(fs))}


def checkpoint_step(output_dir):
  """The global step of the latest checkpoint in `output_dir` (0 if none)."""
  latest = tf.train.latest_checkpoint(output_dir)
  if latest is None:
    return 0
  return int(tf.train.load_variable(latest, "global_step"))


def write_piece_files(output_dir, windows, window_labels):
  """token_test.txt and label_test.txt, one piece / label a line."""
  tokens = "".join(t + "\n" for w in windows for t in w.tokens)
  labels = "".join(l + "\n" for ls in window_labels for l in ls)
  token_path = os.path.join(output_dir, "token_test.txt")
  label_path = os.path.join(output_dir, "label_test.txt")
  errors.atomic_write(token_path, tokens)
  errors.atomic_write(label_path, labels)
  return token_path, label_path


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


def bio_entities(words, tags):
  """Entity spans of BIO-tagged words, by conlleval's chunk rules.

  Returns:
    A list of dicts {start, end, type} (type None for untyped tags).
  """
  entities = []
  current = None
  for (_, start, end), tag in zip(words, tags):
    prefix, _, typ = tag.partition("-")
    if prefix == "I" and current is not None and current["type"] == (
        typ or None):
      current["end"] = end
      continue
    if current is not None:
      entities.append(current)
      current = None
    if prefix in ("B", "I"):
      current = {"start": start, "end": end, "type": typ or None}
  if current is not None:
    entities.append(current)
  return entities


def tag_raw_text(estimator, lines, label_list, tokenizer, output_dir,
                 max_seq_length, batch_size, bucketed=False):
  """Entities of every raw text line, as JSON-able dicts."""
  split = [split_words_with_offsets(line) for line in lines]
  examples = [InputExample("raw-%d" % i, [w for w, _, _ in words],
                           ["O"] * len(words), [])
              for i, words in enumerate(split) if words]
  features, windows, _ = convert_examples(examples, label_list, tokenizer,
                                          max_seq_length)
  tags = {}
  if features:
    _, tags, _ = predict_windows(
        estimator, features, windows, label_list,
        os.path.join(output_dir, "raw.tf_record"), max_seq_length,
        batch_size, bucketed)
  results = []
  k = 0
  for i, (line, words) in enumerate(zip(lines, split)):
    entities = []
    if words:
      for ent in bio_entities(words, tags[k]):
        ent["text"] = line[ent["start"]:ent["end"]]
        entities.append(
            {key: ent[key] for key in ("start", "end", "text", "type")})
      k += 1
    results.append({"line": i + 1, "text": line, "entities": entities})
  return results


def _labels_for_prediction(output_dir):
  recorded = run_dir.read_manifest(output_dir)
  if recorded and recorded.get("labels"):
    return recorded["labels"]
  return label_list_from_tags(ORIGINAL_TAGS)


def main(_):
  est.setup_logging()
  if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict or
          FLAGS.raw_text_file):
    raise errors.UserError("At least one of `do_train`, `do_eval`, "
                           "`do_predict` or `raw_text_file` must be set.")
  if not FLAGS.output_dir:
    raise errors.UserError("--output_dir is required")
  if (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict) and not (
      FLAGS.data_dir):
    raise errors.UserError("--data_dir is required")
  options = common_flags.run_options(FLAGS)
  bert_config, tokenizer = est.load_model_files(
      FLAGS.bert_config_file, FLAGS.vocab_file, FLAGS.do_lower_case,
      FLAGS.init_checkpoint, FLAGS.max_seq_length)

  # Read and check every input before anything is written.
  processor = NerProcessor()
  if FLAGS.do_train:
    train_examples, train_path = processor.get_train_examples(FLAGS.data_dir)
    label_list = label_list_from_tags(t for ex in train_examples
                                      for t in ex.tags)
  else:
    label_list = _labels_for_prediction(FLAGS.output_dir)
  if FLAGS.do_eval:
    dev_examples, dev_path = processor.get_dev_examples(FLAGS.data_dir)
    check_tags(dev_examples, dev_path, label_list)
  if FLAGS.do_predict:
    test_examples, test_path = processor.get_test_examples(FLAGS.data_dir)
    check_tags(test_examples, test_path, label_list)
  if FLAGS.raw_text_file:
    raw_lines = errors.read_text_lines(FLAGS.raw_text_file,
                                       "plain text, one sentence a line")

  run = run_dir.describe_run("ner", label_list, bert_config,
                             FLAGS.max_seq_length, FLAGS.do_lower_case)
  run_dir.prepare_output_dir(FLAGS.output_dir, run, training=FLAGS.do_train)
  tf.logging.info("Labels: %s", " ".join(label_list))

  num_train_steps = num_warmup_steps = 0
  seq = FLAGS.max_seq_length
  if FLAGS.do_train:

    def build():
      parts = feature_cache.parallel_chunks(
          lambda chunk: convert_examples(chunk, label_list, tokenizer,
                                         seq)[::2], train_examples)
      return ([f for feats, _ in parts for f in feats],
              {"sentences_split": sum(n for _, n in parts)})

    training = est.prepare_training(options, [train_path], label_list,
                                    feature_lengths(seq), build, task="ner")
    num_train_steps = training.num_train_steps
    num_warmup_steps = training.num_warmup_steps
    tf.logging.info("%d of %d training sentences are longer than %d pieces "
                    "and were split into windows",
                    training.info["sentences_split"], len(train_examples),
                    seq)

  estimator = est.create_estimator(bert_config,
                                   head_fn_builder(len(label_list)), options,
                                   num_train_steps, num_warmup_steps)
  if FLAGS.do_train and not est.run_training(estimator, training,
                                             feature_lengths(seq), options):
    return  # a non-chief worker: the chief evaluates and predicts

  if FLAGS.do_eval:
    features, windows, _ = convert_examples(dev_examples, label_list,
                                            tokenizer, FLAGS.max_seq_length)
    _, tags, loss = predict_windows(
        estimator, features, windows, label_list,
        os.path.join(FLAGS.output_dir, "eval.tf_record"),
        FLAGS.max_seq_length, FLAGS.eval_batch_size, FLAGS.bucket_by_length)
    result = token_level_scores(dev_examples, tags, label_list)
    result.update(loss=loss, global_step=checkpoint_step(FLAGS.output_dir))
    est.write_eval_results(FLAGS.output_dir, result)

  if FLAGS.do_predict:
    features, windows, n_split = convert_examples(
        test_examples, label_list, tokenizer, FLAGS.max_seq_length)
    tf.logging.info("%d of %d test sentences were split into windows",
                    n_split, len(test_examples))
    window_labels, tags, loss = predict_windows(
        estimator, features, windows, label_list,
        os.path.join(FLAGS.output_dir, "predict.tf_record"),
        FLAGS.max_seq_length, FLAGS.predict_batch_size,
        FLAGS.bucket_by_length)
    token_path, label_path = write_piece_files(FLAGS.output_dir, windows,
                                               window_labels)
    token_scores = token_level_scores(test_examples, tags, label_list)
    token_scores.update(loss=loss,
                        global_step=checkpoint_step(FLAGS.output_dir))
    print("***** token-level evaluation results *****")
    for key in sorted(token_scores):
      print("  %s = %s" % (key, token_scores[key]))

    conll_path, missing = ner_detokenize.detokenize(
        token_path, label_path, test_path, FLAGS.output_dir)
    assert missing == 0, "every test word must have a prediction"
    counts, report = conlleval.score_file(conll_path)
    prec, rec, f1 = conlleval.prf(counts.right, counts.pred, counts.gold)
    print("***** entity-level evaluation results (conlleval) *****")
    print(report, end="")
    scores = {"token_level": token_scores,
              "entity_level": {"precision": prec, "recall": rec, "f1": f1,
                               "gold": counts.gold, "found": counts.pred,
                               "correct": counts.right},
              "words": sum(len(ex.words) for ex in test_examples),
              "windows": len(windows), "sentences_split": n_split}
    errors.atomic_write(os.path.join(FLAGS.output_dir, "ner_scores.json"),
                        json.dumps(scores, indent=2, sort_keys=True) + "\n")
    print("Outputs in %s: token_test.txt, label_test.txt, %s, "
          "ner_scores.json" % (FLAGS.output_dir, ner_detokenize.RESULT_NAME))

  if FLAGS.raw_text_file:
    results = tag_raw_text(estimator, raw_lines, label_list, tokenizer,
                           FLAGS.output_dir, FLAGS.max_seq_length,
                           FLAGS.predict_batch_size, FLAGS.bucket_by_length)
    out = FLAGS.raw_output_file or os.path.join(
        FLAGS.output_dir, "raw_text_predictions.jsonl")
    errors.atomic_write(out, "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    print("Tagged %d lines: %d entities written to %s" %
          (len(results), sum(len(r["entities"]) for r in results), out))


if __name__ == "__main__":
  tf.disable_v2_behavior()
  app.run(errors.run_main(main))
