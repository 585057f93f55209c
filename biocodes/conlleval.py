#!/usr/bin/env python
"""CoNLL chunk scoring with the counts and report of the 2004 conlleval.

    python biocodes/conlleval.py [-l] [-r] [-d DELIM] [-o OTAG] < file

prints what `perl biocodes/conlleval.pl` prints, byte for byte. As a library
`evaluate` counts chunks over lines and `report` formats them; `run_ner.py`
scores its predictions with them in memory.
"""

import collections
import os
import re
import sys

if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from biocodes import chunks  # noqa: E402
from biocodes import metrics  # noqa: E402

Counts = collections.namedtuple(
    "Counts", ["tokens", "right_tags", "gold", "pred", "right", "gold_by",
               "pred_by", "right_by"])


class FormatError(ValueError):
  """Input lines with differing numbers of fields (conlleval exits 1)."""


def _perl_split(line, delimiter):
  fields = re.split(delimiter, line)
  while fields and fields[-1] == "":
    fields.pop()
  return fields


def _add(counter, key):
  counter[key] = counter.get(key, 0) + 1


def evaluate(lines, raw=False, delimiter=" ", otag="O"):
  """Counts chunks over an iterable of lines (conlleval's algorithm).

  A line holds fields separated by `delimiter`, the last two the gold and
  the predicted tag; a blank line or "-X-" ends a sentence. With `raw`,
  every tag other than `otag` is a one-token chunk of its own type.
  """
  tokens = right_tags = n_gold = n_pred = n_right = 0
  gold_by, pred_by, right_by = ({}, {}, {})
  pg, pp, pgt, ppt = "O", "O", "", ""
  matching = False
  nfields = -1
  for line in lines:
    line = line[:-1] if line.endswith("\n") else line
    f = _perl_split(line, delimiter)
    if nfields < 0:
      nfields = len(f) - 1
    elif nfields != len(f) - 1 and f:
      raise FormatError("unexpected number of features: %d (%d)" %
                        (len(f), nfields + 1))
    boundary = not f or f[0] == "-X-"
    if boundary:
      f = ["-X-", "O", "O"]
    if len(f) < 2:
      raise FormatError("unexpected number of features in line %s" % line)
    if raw:
      for k in (len(f) - 2, len(f) - 1):
        if f[k] == otag:
          f[k] = "O"
        if f[k] != "O":
          f[k] = "B-" + f[k]
    p, pt = chunks.split_tag(f[-1])
    g, gt = chunks.split_tag(f[-2])
    if boundary:
      p = "O"
    gold_end = chunks.chunk_ends(pg, g, pgt, gt)
    pred_end = chunks.chunk_ends(pp, p, ppt, pt)
    gold_start = chunks.chunk_starts(pg, g, pgt, gt)
    pred_start = chunks.chunk_starts(pp, p, ppt, pt)
    if matching:
      if gold_end and pred_end and ppt == pgt:
        matching = False
        n_right += 1
        _add(right_by, pgt)
      elif gold_end != pred_end or pt != gt:
        matching = False
    if gold_start and pred_start and pt == gt:
      matching = True
    if gold_start:
      n_gold += 1
      _add(gold_by, gt)
    if pred_start:
      n_pred += 1
      _add(pred_by, pt)
    if not boundary:
      if g == p and gt == pt:
        right_tags += 1
      tokens += 1
    pg, pp, pgt, ppt = g, p, gt, pt
  if matching:
    n_right += 1
    _add(right_by, pgt)
  return Counts(tokens, right_tags, n_gold, n_pred, n_right, gold_by, pred_by,
                right_by)


def prf(right, pred, gold):
  """(precision, recall, F1) in percent, as conlleval computes them."""
  return metrics.prf(right, pred, gold, scale=100.0)


def _types(counts):
  # The 2004 script's de-duplication skips nothing after the empty type,
  # which then can be listed twice.
  types, last = [], None
  for t in sorted(list(counts.gold_by) + list(counts.pred_by),
                  key=lambda t: t.encode("utf-8", "surrogateescape")):
    if not last or last != t:
      types.append(t)
    last = t
  return types


def _pad_left(text, width):
  """`text` right-aligned in `width` bytes, as Perl's %Ns pads bytes."""
  n = len(text.encode("utf-8", "surrogateescape"))
  return " " * max(0, width - n) + text


def _pad_right(text, width):
  n = len(text.encode("utf-8", "surrogateescape"))
  return text + " " * max(0, width - n)


def report(counts, latex=False):
  """The text (or LaTeX) report that conlleval prints, as a string."""
  out = []
  types = _types(counts)
  if not latex:
    prec, rec, f = prf(counts.right, counts.pred, counts.gold)
    out.append("processed %d tokens with %d phrases; found: %d phrases; "
               "correct: %d.\n" % (counts.tokens, counts.gold, counts.pred,
                                   counts.right))
    if counts.tokens > 0:
      out.append("accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; "
                 "FB1: %6.2f\n" % (100.0 * counts.right_tags / counts.tokens,
                                   prec, rec, f))
    for t in types:
      tp, tr, tf = prf(counts.right_by.get(t, 0), counts.pred_by.get(t, 0),
                       counts.gold_by.get(t, 0))
      out.append("%s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d\n"
                 % (_pad_left(t, 17), tp, tr, tf, counts.pred_by.get(t, 0)))
  else:
    out.append("        & Precision &  Recall  & F$_{\\beta=1} \\\\\\hline")
    for t in types:
      tp, tr, tf = prf(counts.right_by.get(t, 0), counts.pred_by.get(t, 0),
                       counts.gold_by.get(t, 0))
      out.append("\n%s &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\" %
                 (_pad_right(t, 7), tp, tr, tf))
    out.append("\\hline\n")
    prec, rec, f = prf(counts.right, counts.pred, counts.gold)
    out.append("Overall &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\\\hline\n" %
               (prec, rec, f))
  return "".join(out)


def main(argv, stdin=None, stdout=None):
  """The command line of conlleval.pl; reads bytes, writes bytes."""
  stdin = stdin or sys.stdin.buffer
  stdout = stdout or sys.stdout.buffer
  opts = {"raw": False, "delimiter": " ", "otag": "O"}
  latex = False
  args = list(argv)
  while args and args[0].startswith("-"):
    a = args.pop(0)
    if a == "-l":
      latex = True
    elif a == "-r":
      opts["raw"] = True
    elif a in ("-d", "-o"):
      if not args:
        sys.stderr.write("conlleval: %s requires delimiter character\n" % a)
        return 2
      opts["delimiter" if a == "-d" else "otag"] = args.pop(0)
    else:
      sys.stderr.write("conlleval: unknown argument %s\n" % a)
      return 2
  if args:
    sys.stderr.write("conlleval: unexpected command line argument\n")
    return 2
  lines = (line.decode("utf-8", "surrogateescape") for line in stdin)
  try:
    counts = evaluate(lines, **opts)
  except FormatError as e:
    sys.stderr.write("%s\n" % e)
    return 1
  stdout.write(report(counts, latex=latex).encode("utf-8", "surrogateescape"))
  stdout.flush()
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
