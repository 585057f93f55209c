#!/usr/bin/env python
"""CoNLL chunk scoring in Python, with the same counts and report as conlleval.pl.

`run_ner.py` uses it to print the entity-level score of NER_result_conll.txt
in the same run. As a script it takes the options of conlleval.pl:

    python biocodes/conlleval.py [-l] [-r] [-d DELIM] [-o OTAG] < file
"""

import collections
import re
import sys

Counts = collections.namedtuple(
    "Counts", ["tokens", "right_tags", "gold", "pred", "right", "gold_by",
               "pred_by", "right_by"])

_ENDS = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"),
         ("E", "I"), ("E", "O")}
_STARTS = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"),
           ("E", "I"), ("O", "E")}


class FormatError(ValueError):
  """Input lines with differing numbers of fields (conlleval exits 1)."""


def _split_tag(tag):
  m = re.match(r"^([^-]*)-(.*)$", tag)
  return (m.group(1), m.group(2)) if m else (tag, "")


def _chunk_ends(ptag, tag, ptype, typ):
  return ((ptag, tag) in _ENDS or
          (ptag not in ("O", ".") and ptype != typ) or ptag in ("[", "]"))


def _chunk_starts(ptag, tag, ptype, typ):
  return ((ptag, tag) in _STARTS or
          (tag not in ("O", ".") and ptype != typ) or tag in ("[", "]"))


def _perl_split(line, delimiter):
  fields = re.split(delimiter, line)
  while fields and fields[-1] == "":
    fields.pop()
  return fields


def evaluate(lines, raw=False, delimiter=" ", otag="O"):
  """Counts chunks over an iterable of lines (conlleval's algorithm)."""
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
    p, pt = _split_tag(f[-1])
    g, gt = _split_tag(f[-2])
    if boundary:
      p = "O"
    gold_end = _chunk_ends(pg, g, pgt, gt)
    pred_end = _chunk_ends(pp, p, ppt, pt)
    gold_start = _chunk_starts(pg, g, pgt, gt)
    pred_start = _chunk_starts(pp, p, ppt, pt)
    if matching:
      if gold_end and pred_end and ppt == pgt:
        matching = False
        n_right += 1
        right_by[pgt] = right_by.get(pgt, 0) + 1
      elif gold_end != pred_end or pt != gt:
        matching = False
    if gold_start and pred_start and pt == gt:
      matching = True
    if gold_start:
      n_gold += 1
      gold_by[gt] = gold_by.get(gt, 0) + 1
    if pred_start:
      n_pred += 1
      pred_by[pt] = pred_by.get(pt, 0) + 1
    if not boundary:
      if g == p and gt == pt:
        right_tags += 1
      tokens += 1
    pg, pp, pgt, ppt = g, p, gt, pt
  if matching:
    n_right += 1
    right_by[pgt] = right_by.get(pgt, 0) + 1
  return Counts(tokens, right_tags, n_gold, n_pred, n_right, gold_by, pred_by,
                right_by)


def prf(right, pred, gold):
  """(precision, recall, F1) in percent; 0 where undefined."""
  prec = 100.0 * right / pred if pred else 0.0
  rec = 100.0 * right / gold if gold else 0.0
  f = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
  return prec, rec, f


def _types(counts):
  # Perl's quirk kept: a false-ish type ("" or "0") is not de-duplicated.
  types, last = [], None
  for t in sorted(list(counts.gold_by) + list(counts.pred_by)):
    if last in (None, "", "0") or last != t:
      types.append(t)
    last = t
  return types


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
      out.append("%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d\n"
                 % (t, tp, tr, tf, counts.pred_by.get(t, 0)))
  else:
    out.append("        & Precision &  Recall  & F$_{\\beta=1} \\\\\\hline")
    for t in types:
      tp, tr, tf = prf(counts.right_by.get(t, 0), counts.pred_by.get(t, 0),
                       counts.gold_by.get(t, 0))
      out.append("\n%-7s &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\" %
                 (t, tp, tr, tf))
    out.append("\\hline\n")
    prec, rec, f = prf(counts.right, counts.pred, counts.gold)
    out.append("Overall &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\\\hline\n" %
               (prec, rec, f))
  return "".join(out)


def score_file(path, **kwargs):
  """(Counts, report text) of a CoNLL-format file."""
  with open(path, "r", encoding="utf-8") as f:
    counts = evaluate(f, **kwargs)
  return counts, report(counts)


def main(argv):
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
        sys.exit("conlleval: %s requires delimiter character" % a)
      opts["delimiter" if a == "-d" else "otag"] = args.pop(0)
    else:
      sys.exit("conlleval: unknown argument %s" % a)
  if args:
    sys.exit("conlleval: unexpected command line argument")
  try:
    counts = evaluate(sys.stdin, **opts)
  except FormatError as e:
    sys.stderr.write("%s\n" % e)
    return 1
  sys.stdout.write(report(counts, latex=latex))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
