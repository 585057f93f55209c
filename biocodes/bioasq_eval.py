#!/usr/bin/env python
"""BioASQ phase B scoring without Java: all ten numbers of the official jar.

    python biocodes/bioasq_eval.py GOLDEN.json SYSTEM.json

The first output line is what the official evaluator prints for
`java -cp BioASQEvaluation.jar evaluation.EvaluatorTask1b -phaseB -e 5
GOLDEN SYSTEM` (the 2020 version-8 jar): yes/no accuracy, factoid strict
accuracy, lenient accuracy and MRR, list mean precision, recall and
F-measure, yes/no macro F1, F1 of "yes" and F1 of "no". A readable summary
follows.

The rules, as the jar applies them (and as its reference outputs confirm):
- Answers are compared lower-cased, otherwise exactly (no trimming). A
  golden entry is a list of synonyms; of a system entry only its first
  string counts.
- A golden question that the system file lacks is left out of every mean;
  summary questions are not scored.
- yes/no: an answer containing "yes" is yes, else one containing "no" is
  no; accuracy over the yes/no questions; F1 of a label is
  2TP / (2TP + errors), macro F1 their mean.
- factoid: strict accuracy counts a match at rank 1, lenient accuracy a
  match at any rank (the cut to five is the converter's job), MRR 1/rank of
  the first match.
- list: each system entry that matches a golden entry is right and uses
  that golden entry up (a duplicate is then wrong); precision is right /
  system entries, recall right / (right + golden entries no system entry
  matches), F1 their harmonic mean; a question answered with an empty list
  scores 0.
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


TYPES = ["yesno", "factoid", "list", "summary"]


def _is_answer_list(value):
  """[a, b] or [[a, syn], [b]]: strings, or lists of strings."""
  return isinstance(value, list) and all(
      isinstance(item, str) or (isinstance(item, list) and all(
          isinstance(x, str) for x in item)) for item in value)


def check_question(path, q, golden):
  """Raises InputError (naming the question id) for a malformed question."""
  kind = q.get("type")
  answer = q.get("exact_answer")
  where = "question %s" % q["id"]
  if golden and kind not in TYPES:
    raise errors.InputError(path, None, "%s: \"type\" is %r, expected one "
                            "of %s" % (where, kind, ", ".join(TYPES)))
  if kind == "summary" or answer is None:
    if golden and kind != "summary":
      raise errors.InputError(path, None, "%s: a %s question without "
                              "\"exact_answer\"" % (where, kind))
    return
  if kind == "yesno" or (not golden and isinstance(answer, str)):
    if not isinstance(answer, str):
      raise errors.InputError(path, None, "%s: a yes/no \"exact_answer\" is "
                              "a string (\"yes\" or \"no\"), found %s" %
                              (where, json.dumps(answer)[:60]))
  elif not (_is_answer_list(answer) or (golden and isinstance(answer, str))):
    raise errors.InputError(path, None, "%s: \"exact_answer\" should be a "
                            "list of answers, each a string or a list of "
                            "synonyms, found %s" %
                            (where, json.dumps(answer)[:60]))


def load_questions(path, role):
  """Reads a BioASQ JSON file; returns its list of questions."""
  data = files.read_json(path, "the %s BioASQ JSON file" % role)
  if not isinstance(data, dict) or not isinstance(data.get("questions"),
                                                  list):
    raise errors.InputError(path, None,
                            'expected {"questions": [...]} (%s file)' % role)
  seen = {}
  for k, q in enumerate(data["questions"]):
    if not isinstance(q, dict) or not isinstance(q.get("id"), str):
      raise errors.InputError(
          path, None, "questions[%d]: expected an object with a string "
          "\"id\", found %s" % (k, json.dumps(q)[:80]))
    check_question(path, q, golden=(role == "golden"))
    if q["id"] in seen:
      raise errors.InputError(
          path, files.line_of_value(path, "id", q["id"], 2),
          "questions[%d]: id %s is already questions[%d]; every question "
          "once" % (k, q["id"], seen[q["id"]]))
    seen[q["id"]] = k
  return data["questions"]


def _entries(exact_answer, first_only):
  """Lower-cased entries (lists of synonyms) of an exact_answer.

  Accepts [[a, syn], [b]], [a, b] and a plain string. `first_only` keeps
  the first string of each entry (how the jar reads a system file).
  """
  if exact_answer is None:
    return []
  if isinstance(exact_answer, str):
    exact_answer = [exact_answer]
  entries = []
  for item in exact_answer:
    strings = item if isinstance(item, list) else [item]
    strings = [str(x).lower() for x in strings]
    entries.append(strings[:1] if first_only else strings)
  return entries


def _matches(entries, strings, use_up=False):
  """Whether any of `strings` is a synonym in `entries`; with `use_up`, the
  matched entry is removed (list questions)."""
  for i, entry in enumerate(entries):
    if any(s in strings for s in entry):
      if use_up:
        del entries[i]
      return True
  return False


def yes_no(answer):
  """"yes", "no" or "none", as the jar reads a yes/no answer."""
  if not isinstance(answer, str):
    return None
  answer = answer.lower()
  if "yes" in answer:
    return "yes"
  return "no" if "no" in answer else "none"


def _factoid(golden, system):
  """(strict, lenient, reciprocal rank) of one factoid question."""
  for rank, entry in enumerate(system, 1):
    if _matches(golden, entry):
      return (1.0 if rank == 1 else 0.0), 1.0, 1.0 / rank
  return 0.0, 0.0, 0.0


def _list(golden, system):
  """(precision, recall, F1) of one list question."""
  if not system:
    return 0.0, 0.0, 0.0
  golden = [list(e) for e in golden]
  system = [list(e) for e in system]
  right = sum(1 for entry in system if _matches(golden, entry, use_up=True))
  missed = sum(1 for entry in list(golden)
               if not _matches(system, entry, use_up=True))
  precision = right / len(system)
  recall = right / (right + missed) if right + missed else 0.0
  f1 = (2 * precision * recall / (precision + recall)
        if precision and recall else 0.0)
  return precision, recall, f1


def _f1_of_label(judged, label):
  right = sum(1 for gold, ok in judged if gold == label and ok)
  wrong = sum(1 for _, ok in judged if not ok)
  denominator = 2 * right + wrong
  return 2 * right / denominator if judged and denominator else 0.0


def _mean(values):
  return sum(values) / len(values) if values else 0.0


def score(golden, system):
  """Phase B scores of every question type, as the official jar gives them.

  Args:
    golden, system: lists of question dicts (load_questions).

  Returns:
    dict: the ten numbers (yesno_accuracy, strict_accuracy,
    lenient_accuracy, mrr, list_precision, list_recall, list_f1,
    yesno_macro_f1, yesno_f1_yes, yesno_f1_no), `scored` (questions scored
    per type), `missing` (ids of golden questions the system lacks) and
    `summary` (golden summary questions, not scored).
  """
  answers = {}
  for q in system:
    answers.setdefault(q["id"], q.get("exact_answer"))
  judged, factoid, listed = [], [], []
  missing, summaries = [], 0
  for q in golden:
    kind = q.get("type")
    if kind == "summary":
      summaries += 1
      continue
    if q["id"] not in answers:
      missing.append(q["id"])
      continue
    system_answer = answers[q["id"]]
    if kind == "yesno":
      gold = yes_no(q.get("exact_answer"))
      given = yes_no(system_answer)
      judged.append((gold, given is not None and given == gold))
    elif kind == "factoid":
      factoid.append(_factoid(_entries(q.get("exact_answer"), False),
                              _entries(system_answer, True)))
    elif kind == "list":
      listed.append(_list(_entries(q.get("exact_answer"), False),
                          _entries(system_answer, True)))
  f1_yes = _f1_of_label(judged, "yes")
  f1_no = _f1_of_label(judged, "no")
  return {
      "yesno_accuracy": _mean([1.0 if ok else 0.0 for _, ok in judged]),
      "strict_accuracy": _mean([x[0] for x in factoid]),
      "lenient_accuracy": _mean([x[1] for x in factoid]),
      "mrr": _mean([x[2] for x in factoid]),
      "list_precision": _mean([x[0] for x in listed]),
      "list_recall": _mean([x[1] for x in listed]),
      "list_f1": _mean([x[2] for x in listed]),
      "yesno_macro_f1": (f1_yes + f1_no) / 2,
      "yesno_f1_yes": f1_yes,
      "yesno_f1_no": f1_no,
      "scored": {"yesno": len(judged), "factoid": len(factoid),
                 "list": len(listed)},
      "missing": missing,
      "summary": summaries,
  }


OFFICIAL_ORDER = ["yesno_accuracy", "strict_accuracy", "lenient_accuracy",
                  "mrr", "list_precision", "list_recall", "list_f1",
                  "yesno_macro_f1", "yesno_f1_yes", "yesno_f1_no"]


def official_line(result):
  """The ten numbers of the jar's `-phaseB -e 5` output line."""
  return " ".join(java_double(result[k]) for k in OFFICIAL_ORDER)


def summary(result):
  """A readable summary of the scores, per question type scored."""
  scored = result["scored"]
  lines = []
  if scored["yesno"]:
    lines.append("yes/no: accuracy %.4f  macro F1 %.4f  F1 yes %.4f  F1 no "
                 "%.4f  (%d questions)" % (
                     result["yesno_accuracy"], result["yesno_macro_f1"],
                     result["yesno_f1_yes"], result["yesno_f1_no"],
                     scored["yesno"]))
  if scored["factoid"] or not (scored["yesno"] or scored["list"]):
    lines.append("factoid: SAcc %.4f  LAcc %.4f  MRR %.4f  (%d questions)" %
                 (result["strict_accuracy"], result["lenient_accuracy"],
                  result["mrr"], scored["factoid"]))
  if scored["list"]:
    lines.append("list: precision %.4f  recall %.4f  F1 %.4f  (%d questions)"
                 % (result["list_precision"], result["list_recall"],
                    result["list_f1"], scored["list"]))
  if result["missing"]:
    lines.append("%d golden questions are not in the system file and were "
                 "left out, as the official evaluator does: %s" %
                 (len(result["missing"]), ", ".join(result["missing"])))
  if result["summary"]:
    lines.append("%d summary questions are not scored (ideal answers need "
                 "manual or ROUGE evaluation)" % result["summary"])
  return "".join(line + "\n" for line in lines)


def evaluate_files(golden_path, system_path):
  """Scores two files; returns the result dict."""
  return score(load_questions(golden_path, "golden"),
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
