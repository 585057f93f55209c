"""The NER file formats: `token<TAB>tag` data files and CoNLL result files."""

import re

from finetuning import errors
from finetuning import files

_BIO_TAG = re.compile(r"^(O|[BI])(-.+)?$")


def read_sentences(path, what="token<TAB>tag lines, a blank line between "
                   "sentences"):
  """Reads a BioBERT NER file into sentences.

  Returns:
    A list of sentences, each a list of (word, tag, line_number).

  Raises:
    InputError with file:line for a line that is not `token<whitespace>tag`
    or whose tag is not a BIO tag (O, B, I, B-Type, I-Type).
  """
  lines = files.read_text_lines(path, what)
  sentences, current = [], []
  for number, line in enumerate(lines, 1):
    fields = line.split()
    if not fields:
      if current:
        sentences.append(current)
        current = []
      continue
    if len(fields) != 2:
      raise errors.InputError(
          path, number, "expected 'token<TAB>tag' (2 fields), found %d: %r" %
          (len(fields), line))
    word, tag = fields
    if not _BIO_TAG.match(tag):
      raise errors.InputError(
          path, number, "expected a BIO tag (O, B, I, B-Type or I-Type), "
          "found %r" % tag)
    current.append((word, tag, number))
  if current:
    sentences.append(current)
  return sentences


def conll_tag(tag):
  """The tag as written to NER_result_conll.txt: B/I/O get "-MISC"."""
  return tag + "-MISC" if tag in ("B", "I", "O") else tag


def format_conll(sentences, predicted):
  """CoNLL evaluation lines `word gold pred`, a blank line after a sentence.

  Args:
    sentences: as from `read_sentences`.
    predicted: for each sentence, the list of predicted word tags.
  """
  out = []
  for sentence, tags in zip(sentences, predicted):
    for (word, gold, _), pred in zip(sentence, tags):
      out.append("%s %s %s\n" % (word, conll_tag(gold), conll_tag(pred)))
    out.append("\n")
  return "".join(out)
