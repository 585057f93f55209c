#!/usr/bin/env python
"""Rebuilds words from BioBERT NER word-piece predictions (CoNLL format).

    python biocodes/ner_detokenize.py --token_test_path=OUT/token_test.txt \
      --label_test_path=OUT/label_test.txt --answer_path=NER_DIR/test.tsv \
      --output_dir=OUT

writes OUT/NER_result_conll.txt: one line `word gold pred` per word of the
answer file (B/I/O tags get "-MISC"), a blank line between sentences, ready
for `perl biocodes/conlleval.pl < OUT/NER_result_conll.txt`.

Alignment: BERT's basic tokenizer splits a word into basic tokens at
punctuation; each basic token starts with a piece that has no "##" prefix.
So every answer word owns as many word-starting pieces (at least one) as it
has basic tokens, plus their "##" continuations. How many basic tokens a
word has can depend on the casing the model used (lower-casing strips
accents): the count whose pieces spell the word is taken. "[CLS]" and
"[SEP]" lines mark windows. When there are as many windows as sentences,
window k holds sentence k, and the words a window lacks (sentences cut at
max_seq_length by the original run_ner.py) are written as O; otherwise
windows continue sentences (run_ner.py splits long sentences into several
windows). The word's tag is the label of its first piece; "[CLS]",
"[SEP]", "X" and "[PAD]" there count as O.
"""

import argparse
import os
import sys
import unicodedata

if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

import tokenization  # noqa: E402
from biocodes import ner_io  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402

CLS, SEP = "[CLS]", "[SEP]"
NOT_A_TAG = ("[CLS]", "[SEP]", "X", "[PAD]")
RESULT_NAME = "NER_result_conll.txt"
DEBUG_NAME = "NER_result_debug.txt"

_CASED = tokenization.BasicTokenizer(do_lower_case=False)
_UNCASED = tokenization.BasicTokenizer(do_lower_case=True)


def read_lines(path, what):
  """Non-blank stripped lines of a predictions file."""
  return [line.strip() for line in files.read_text_lines(path, what)
          if line.strip()]


def windows_of(pieces, labels):
  """The (piece, label) lists between [CLS] and [SEP] lines."""
  windows, current = [], None
  for piece, label in zip(pieces, labels):
    if piece == CLS:
      current = []
      windows.append(current)
    elif piece == SEP:
      current = None
    else:
      if current is None:
        current = []
        windows.append(current)
      current.append((piece, label))
  return windows


def _norm(text):
  text = unicodedata.normalize("NFD", text.lower())
  return "".join(c for c in text if unicodedata.category(c) != "Mn")


def _spells(stream, i, tokens):
  """Whether the word-starting groups of `stream` from `i` spell `tokens`."""
  for token in tokens:
    if i >= len(stream) or stream[i][0].startswith("##"):
      return False
    text = stream[i][0]
    i += 1
    while i < len(stream) and stream[i][0].startswith("##"):
      text += stream[i][0][2:]
      i += 1
    if text != "[UNK]" and _norm(text) != _norm(token):
      return False
  return True


def basic_token_count(word, stream, i):
  """How many word-starting pieces `word` owns at `stream[i]`.

  The cased and the lower-cased basic tokenization of a word can differ
  (accents and some symbols are stripped by lower-casing); the one whose
  pieces spell the word is taken, the cased one when neither or both do.
  """
  cased = _CASED.tokenize(word)
  uncased = _UNCASED.tokenize(word)
  if len(cased) != len(uncased) and not _spells(stream, i, cased) and (
      _spells(stream, i, uncased)):
    return max(1, len(uncased))
  return max(1, len(cased))


def _consume(sentence, stream, i, tags):
  """Tags words of `sentence` from `stream[i:]`; returns (i, words left)."""
  for k, (word, _, number) in enumerate(sentence):
    if i >= len(stream):
      return i, len(sentence) - k
    if stream[i][0].startswith("##"):
      raise ValueError(
          "word %r (answer line %d) starts at piece %r, a continuation: "
          "token_test.txt does not belong to this answer file" %
          (word, number, stream[i][0]))
    label = stream[i][1]
    tags.append("O" if label in NOT_A_TAG else label)
    for _ in range(basic_token_count(word, stream, i)):
      if i >= len(stream):
        break
      i += 1
      while i < len(stream) and stream[i][0].startswith("##"):
        i += 1
  return i, 0


def word_tags_from_pieces(sentences, pieces, labels):
  """Predicted tag of every answer word.

  Args:
    sentences: answer sentences as from `ner_io.read_sentences`.
    pieces: the lines of token_test.txt.
    labels: the lines of label_test.txt, aligned with `pieces`.

  Returns:
    (tags, missing): tags per sentence; `missing` counts words that had no
    piece (sentences cut at max_seq_length by the original): they get O.

  Raises:
    ValueError: the pieces do not belong to these sentences.
  """
  windows = windows_of(pieces, labels)
  all_tags = [[] for _ in sentences]
  missing = 0
  if len(windows) == len(sentences):
    for k, (sentence, window) in enumerate(zip(sentences, windows)):
      i, left = _consume(sentence, window, 0, all_tags[k])
      if i < len(window):
        raise ValueError(
            "window %d (answer line %d) has %d word pieces left over after "
            "the sentence's last word: token_test.txt does not belong to "
            "this answer file" % (k + 1, sentence[0][2], len(window) - i))
      all_tags[k].extend(["O"] * left)
      missing += left
    return all_tags, missing
  stream = [p for window in windows for p in window]
  i = 0
  for k, sentence in enumerate(sentences):
    i, left = _consume(sentence, stream, i, all_tags[k])
    if left:
      # Windows that continue sentences cut nothing: a word without its
      # pieces means the file stops early or is another file's.
      raise ValueError(
          "has no word piece for %d words from answer line %d on (%d "
          "windows for %d sentences): the file is truncated or belongs to "
          "another answer file" % (left, sentence[len(sentence) - left][2],
                                   len(windows), len(sentences)))
  if i < len(stream):
    raise ValueError(
        "%d word pieces are left over after the last answer word: "
        "token_test.txt does not belong to this answer file" %
        (len(stream) - i))
  return all_tags, missing


def debug_report(sentences, tags):
  """A per-sentence comparison: words, gold and predicted tags, mismatches."""
  out = []
  for k, (sentence, pred) in enumerate(zip(sentences, tags)):
    wrong = sum(1 for (_, g, _), p in zip(sentence, pred) if g != p)
    out.append("# sentence %d (answer line %d): %d words, %d wrong\n" %
               (k + 1, sentence[0][2], len(sentence), wrong))
    for (word, gold, _), p in zip(sentence, pred):
      out.append("%s\t%s\t%s%s\n" % (word, gold, p,
                                     "" if gold == p else "\t<<<"))
    out.append("\n")
  return "".join(out)


def detokenize(token_test_path, label_test_path, answer_path, output_dir,
               debug=False):
  """Writes NER_result_conll.txt (and the debug file) into `output_dir`.

  Returns:
    (path of NER_result_conll.txt, number of words with no prediction).
  """
  sentences = ner_io.read_sentences(answer_path)
  pieces = read_lines(token_test_path, "token_test.txt: one word piece a line")
  labels = read_lines(label_test_path, "label_test.txt: one label a line")
  if pieces and pieces[-1] != SEP:
    last_sep = max((k for k, p in enumerate(pieces) if p == SEP), default=-1)
    after = pieces[last_sep + 1:]
    if after and after[0] != CLS and last_sep >= 0:
      raise errors.InputError(
          token_test_path, last_sep + 2, "%d line%s after the last window's "
          "closing %s, not a window (every window of run_ner.py starts with "
          "%s): remove %s" % (len(after), "" if len(after) == 1 else "s",
                              SEP, CLS, "it" if len(after) == 1 else "them"))
    raise errors.InputError(
        token_test_path, len(pieces), "the last window has no closing %s: "
        "the file is truncated (every window of run_ner.py ends with %s)" %
        (SEP, SEP))
  if len(pieces) != len(labels):
    raise errors.UserError(
        "%s has %d lines but %s has %d: they must be aligned line by line" %
        (token_test_path, len(pieces), label_test_path, len(labels)))
  try:
    tags, missing = word_tags_from_pieces(sentences, pieces, labels)
  except ValueError as e:
    raise errors.UserError("%s: %s" % (token_test_path, e))
  path = os.path.join(output_dir, RESULT_NAME)
  files.atomic_write(path, ner_io.format_conll(sentences, tags))
  if debug:
    files.atomic_write(os.path.join(output_dir, DEBUG_NAME),
                       debug_report(sentences, tags))
  if missing:
    sys.stderr.write(
        "warning: %d of %d words had no prediction (sentences cut at "
        "max_seq_length by the run that wrote %s) and were scored as O\n" %
        (missing, sum(len(s) for s in sentences), token_test_path))
  return path, missing


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--token_test_path", required=True,
                      help="token_test.txt written by run_ner.py")
  parser.add_argument("--label_test_path", required=True,
                      help="label_test.txt written by run_ner.py")
  parser.add_argument("--answer_path", required=True,
                      help="the gold test.tsv")
  parser.add_argument("--output_dir", required=True,
                      help="where NER_result_conll.txt is written")
  parser.add_argument("--debug", action="store_true",
                      help="also write NER_result_debug.txt, a per-sentence "
                      "comparison")
  args = parser.parse_args(argv)
  try:
    path, _ = detokenize(args.token_test_path, args.label_test_path,
                         args.answer_path, args.output_dir, args.debug)
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  print("Wrote %s" % path)
  return 0


if __name__ == "__main__":
  sys.exit(main())
