r"""Document-level concept scores of a PubTator file against a gold one.

    python biocodes/concept_eval.py GOLD.pubtator PRED.pubtator [--any_type]

The BioCreative V CDR task's disease/chemical normalization measure
("DNER"): each file is the set of (PMID, entity type, concept ID) triples
its mention lines give, and precision, recall and F1 count the triples the
two share, per entity type and over all types (micro). Mentions and their
offsets do not matter; `MESH:D003924` and `D003924` are one concept; `-1`
(no ID) counts for nothing; a composite `D1|D2` and several IDs `D1+D2`
give each of their IDs. Only the gold file's documents are scored: a
prediction for another PMID is reported, not counted. --any_type pools the
types (NCBI-disease's SpecificDisease, DiseaseClass... against a tagger's
Disease).
"""

import argparse
import collections
import json
import sys

if __package__ in (None, ""):
  import os  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))

from biocodes import lexicon  # pylint: disable=g-import-not-at-top
from biocodes.official import pubtator  # pylint: disable=g-import-not-at-top
from finetuning import errors  # pylint: disable=g-import-not-at-top

ALL = "all"


def concepts(path, any_type=False):
  """({(pmid, type, concept)}, {pmid}, [Skip]) of a PubTator file."""
  documents, skips = pubtator.read(path)
  found = set()
  for doc in documents:
    for m in doc.mentions:
      for part in lexicon.gold_parts(m.concepts):
        for concept in part:
          found.add((doc.pmid, ALL if any_type else m.type, concept))
  return found, {d.pmid for d in documents}, skips


def prf(tp, n_pred, n_gold):
  """{precision, recall, f1, tp, predicted, gold}; 0 where undefined."""
  p = tp / n_pred if n_pred else 0.0
  r = tp / n_gold if n_gold else 0.0
  f = 2 * p * r / (p + r) if p + r else 0.0
  return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
          "tp": tp, "predicted": n_pred, "gold": n_gold}


def score(gold, predicted, gold_documents):
  """{type: prf dict} and "micro" over all types, of predicted triples
  (kept to the gold documents) against gold triples."""
  predicted = {t for t in predicted if t[0] in gold_documents}
  types = sorted({t[1] for t in gold | predicted})
  out = collections.OrderedDict()
  for kind in types:
    g = {t for t in gold if t[1] == kind}
    p = {t for t in predicted if t[1] == kind}
    out[kind] = prf(len(g & p), len(p), len(g))
  out["micro"] = prf(len(gold & predicted), len(predicted), len(gold))
  return out


def format_scores(scores):
  """A table: type, precision, recall, F1, and the counts."""
  lines = ["%-24s %9s %9s %9s %7s %7s %7s" % (
      "type", "precision", "recall", "F1", "tp", "pred", "gold")]
  for kind, s in scores.items():
    lines.append("%-24s %9.2f %9.2f %9.2f %7d %7d %7d" % (
        kind, 100 * s["precision"], 100 * s["recall"], 100 * s["f1"],
        s["tp"], s["predicted"], s["gold"]))
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Document-level concept precision, recall and F1 "
      "(BioCreative V CDR's DNER measure) of PubTator files.")
  parser.add_argument("gold", help="gold PubTator file")
  parser.add_argument("predicted", help="predicted PubTator file")
  parser.add_argument("--any_type", action="store_true",
                      help="pool entity types")
  parser.add_argument("--output_json", help="also write the scores here")
  args = parser.parse_args(argv)
  try:
    gold, documents, gold_skips = concepts(args.gold, args.any_type)
    predicted, predicted_documents, skips = concepts(args.predicted,
                                                     args.any_type)
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  scores = score(gold, predicted, documents)
  print(format_scores(scores))
  for s in gold_skips + skips:
    print("note: %s: %s (left out)" % (s.where, s.reason))
  extra = len(predicted_documents - documents)
  if extra:
    print("note: %d predicted documents are not in %s: not scored" %
          (extra, args.gold))
  if args.output_json:
    from finetuning import files  # pylint: disable=g-import-not-at-top
    files.atomic_write(args.output_json, json.dumps(scores, indent=2) + "\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
