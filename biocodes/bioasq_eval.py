#!/usr/bin/env python
"""BioASQ factoid scoring without Java.

    python biocodes/bioasq_eval.py GOLDEN.json SYSTEM.json

The first output line is what the official evaluator prints for
`java -cp BioASQEvaluation.jar evaluation.EvaluatorTask1b -phaseB -e 5
GOLDEN SYSTEM` (the 2020 version-8 jar): ten numbers, of which the 2nd to
4th are factoid strict accuracy, lenient accuracy and MRR. Only factoid
questions are scored here; the yes/no and list columns print 0.0 (a note
says so when the golden file has such questions). A readable summary
follows.

The rules, as the official jar applies them: an answer matches a golden
answer when equal ignoring case (no trimming); the golden synonym lists of
a question are pooled; strict accuracy counts a match at rank 1, lenient
accuracy a match at any rank of the system's list (the cut to five
candidates is the converter's job), and MRR averages 1/rank of the first
match. A golden question that the system file lacks is left out.
"""

import decimal
import json
import os
import sys

if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402


def java_double(x):
  """Formats a float as Java's Double.toString does.

  Shortest round-trip digits; plain decimal for 1e-3 <= |x| < 1e7, else
  computerized scientific notation such as 1.0E-4.
  """
  x = float(x)
  if x == 0:
    return "0.0"
  if 1e-3 <= abs(x) < 1e7:
    text = repr(x)
    return text if "." in text else text + ".0"
  sign, digits, exp = decimal.Decimal(repr(x)).normalize().as_tuple()
  digits = "".join(str(d) for d in digits)
  exponent = len(digits) - 1 + exp
  return "%s%s.%sE%d" % ("-" if sign else "", digits[0], digits[1:] or "0",
                         exponent)


def load_questions(path, role):
  """Reads a BioASQ JSON file; returns its list of questions."""
  data = files.read_json(path, "the %s BioASQ JSON file" % role)
  if not isinstance(data, dict) or not isinstance(data.get("questions"),
                                                  list):
    raise errors.InputError(path, None,
                            'expected {"questions": [...]} (%s file)' % role)
  for k, q in enumerate(data["questions"]):
    if not isinstance(q, dict) or not isinstance(q.get("id"), str):
      raise errors.InputError(
          path, None, "questions[%d]: expected an object with a string "
          "\"id\", found %s" % (k, json.dumps(q)[:80]))
  return data["questions"]


def _flatten(answers):
  """A list of strings from exact_answer: [[a, syn], [b]] or [a, b]."""
  if isinstance(answers, str):  # a single answer given as a plain string
    return [answers]
  out = []
  for item in answers or []:
    if isinstance(item, list):
      out.extend(str(a) for a in item)
    else:
      out.append(str(item))
  return out


def score_factoid(golden, system):
  """Factoid strict/lenient accuracy and MRR.

  Args:
    golden, system: lists of question dicts.

  Returns:
    dict with strict_accuracy, lenient_accuracy, mrr, scored, missing (ids of
    golden factoid questions absent from the system file), ignored (count of
    golden questions of other types).
  """
  answers = {}
  for q in system:
    answers.setdefault(q["id"], q.get("exact_answer"))
  strict = lenient = 0
  rr = 0.0
  scored = 0
  missing = []
  ignored = 0
  for q in golden:
    if q.get("type") != "factoid":
      ignored += 1
      continue
    if q["id"] not in answers:
      missing.append(q["id"])
      continue
    scored += 1
    gold = {a.lower() for a in _flatten(q.get("exact_answer"))}
    ranked = _flatten(answers[q["id"]])
    for rank, candidate in enumerate(ranked, 1):
      if candidate.lower() in gold:
        strict += rank == 1
        lenient += 1
        rr += 1.0 / rank
        break
  n = float(scored)
  return {"strict_accuracy": strict / n if scored else 0.0,
          "lenient_accuracy": lenient / n if scored else 0.0,
          "mrr": rr / n if scored else 0.0, "scored": scored,
          "missing": missing, "ignored": ignored}


def official_line(result):
  """The ten numbers of the jar's `-phaseB -e 5` output line."""
  values = [0.0, result["strict_accuracy"], result["lenient_accuracy"],
            result["mrr"], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
  return " ".join(java_double(v) for v in values)


def summary(result):
  """A readable summary of the factoid scores."""
  text = ("SAcc %.4f  LAcc %.4f  MRR %.4f  (%d factoid questions scored)\n" %
          (result["strict_accuracy"], result["lenient_accuracy"],
           result["mrr"], result["scored"]))
  if result["missing"]:
    text += ("%d golden factoid questions are not in the system file and "
             "were left out, as the official evaluator does: %s\n" %
             (len(result["missing"]), ", ".join(result["missing"])))
  if result["ignored"]:
    text += ("%d golden questions of other types were not scored (their "
             "columns print 0.0)\n" % result["ignored"])
  return text


def evaluate_files(golden_path, system_path):
  """Scores two files; returns the result dict."""
  return score_factoid(load_questions(golden_path, "golden"),
                       load_questions(system_path, "system"))


def main(argv=None):
  args = list(sys.argv[1:] if argv is None else argv)
  # Accept the jar's options so that a copied command line works.
  while args and args[0] in ("-phaseB", "-e"):
    args = args[2:] if args[0] == "-e" else args[1:]
  if len(args) != 2 or any(a.startswith("-") for a in args):
    sys.stderr.write("usage: python biocodes/bioasq_eval.py GOLDEN.json "
                     "SYSTEM.json\n")
    return 2
  try:
    result = evaluate_files(args[0], args[1])
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  print(official_line(result))
  sys.stdout.write(summary(result))
  return 0


if __name__ == "__main__":
  sys.exit(main())
