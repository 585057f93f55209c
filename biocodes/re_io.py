"""The relation extraction file formats of BioBERT.

train.tsv / dev.tsv: `sentence<TAB>label`, no header.
test.tsv: header `index<TAB>sentence<TAB>label`, then `index<TAB>sentence<TAB>label`.
test_results.tsv: one line per test example, class probabilities in label
order, tab-separated, no header.
"""

import collections
import math
import re

from finetuning import errors
from finetuning import files

Row = collections.namedtuple("Row", ["index", "sentence", "label", "line"])

Span = collections.namedtuple("Span", ["start", "end", "type"])
Span.__doc__ = """An entity of a pair: offsets into its sentence (end
exclusive) and its type (CHEMICAL, GENE, DRUG, ...)."""


def mask_pair(text, first, second):
  """`text` with both entities replaced by @TYPE$ (BioBERT's masks)."""
  for e in sorted((first, second), key=lambda e: -e.start):
    text = text[:e.start] + "@%s$" % e.type + text[e.end:]
  return text


def mark_pair(text, first, second):
  """`text` with typed markers around the two entities, kept:
  `@ * chemical * aspirin @ ... # ^ gene ^ COX-2 #` (the typed entity
  markers of punctuation of Zhou and Chen 2021, which the vocabulary
  already holds; the first entity in @ *, the second in # ^)."""
  marks = {id(first): ("@ * %s * " % first.type.lower(), " @"),
           id(second): ("# ^ %s ^ " % second.type.lower(), " #")}
  for e in sorted((first, second), key=lambda e: -e.start):
    before, after = marks[id(e)]
    text = text[:e.start] + before + text[e.start:e.end] + after + text[e.end:]
  return text


def has_markers(sentence):
  """Whether a sentence holds both entity markers of `mark_pair`."""
  return bool(re.search(r"@ \* [^*]+ \* .*? @", sentence) and
              re.search(r"# \^ [^^]+ \^ .*? #", sentence))

_HEADERS = (["index", "sentence", "label"], ["sentence", "label"])


def _is_header(fields):
  return [f.strip().lower() for f in fields] in _HEADERS


def read_rows(path, labels=None, allow_empty=False):
  """Reads a 2-column (sentence, label) or 3-column (index, sentence, label) file.

  A header line (`index<TAB>sentence<TAB>label` or `sentence<TAB>label`) is
  recognised as such and skipped; no data row is ever dropped.

  Args:
    path: the .tsv file.
    labels: if given, every label must be one of these.
    allow_empty: return [] for an empty file instead of raising.

  Raises:
    InputError with file:line for a wrong column count or an unknown label.
  """
  what = "sentence<TAB>label lines (or index<TAB>sentence<TAB>label)"
  lines = files.read_text_lines(path, what, allow_empty=allow_empty)
  rows = []
  width = None
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    fields = line.split("\t")
    if width is None and _is_header(fields):
      width = len(fields)
      continue
    if width is None:
      width = len(fields)
      if width not in (2, 3):
        raise errors.InputError(
            path, number, "expected 2 tab-separated fields (sentence, label) "
            "or 3 (index, sentence, label), found %d" % width)
    if len(fields) != width:
      raise errors.InputError(
          path, number, "expected %d tab-separated fields like the lines "
          "before, found %d" % (width, len(fields)))
    index = fields[0] if width == 3 else str(len(rows))
    sentence, label = fields[-2], fields[-1].strip()
    if labels is not None and label not in labels:
      raise errors.InputError(
          path, number, "label %r is not one of the task's labels (%s)" %
          (label, ", ".join(labels)))
    rows.append(Row(index, sentence, label, number))
  if not rows and not allow_empty:
    raise errors.InputError(path, None, "holds a header but no example "
                            "(expected %s)" % what)
  return rows


def read_probabilities(path):
  """Reads test_results.tsv into a list of lists of floats."""
  lines = files.read_text_lines(path, "test_results.tsv: tab-separated "
                                 "class probabilities, one line per example")
  probs = []
  width = None
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    try:
      row = [float(x) for x in line.split("\t")]
    except ValueError:
      raise errors.InputError(path, number,
                              "expected tab-separated probabilities, found "
                              "%r" % line[:80])
    bad = [x for x in row if not math.isfinite(x)]
    if bad:
      raise errors.InputError(path, number, "probability %r is not a finite "
                              "number" % bad[0])
    if width is not None and len(row) != width:
      raise errors.InputError(path, number, "expected %d probabilities like "
                              "the lines before, found %d" % (width, len(row)))
    width = len(row)
    probs.append(row)
  return probs
