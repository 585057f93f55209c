#!/usr/bin/env python
"""From the official BioASQ JSON to the inputs of run_qa.py.

    python biocodes/bioasq_convert.py --input=training11b.json --output_dir=DIR

The official file is `{"questions": [{"id", "type", "body", "snippets":
[{"text", ...}], "exact_answer", ...}]}`. Every (question, snippet) pair
becomes one SQuAD-format question whose id is `<question id>_<nnn>` (nnn:
the pair's number, from 001), as in the BioBERT release. Writes, for each
question type present:

- `train_factoid.json`, `train_list.json`: the pairs whose snippet contains
  an answer (any golden synonym, found ignoring case; for a list question
  one pair per answer item found), with `answers: [{"text",
  "answer_start"}]`. Questions with an exact answer found in no snippet are
  counted, listed in the report and left out.
- `train_yesno.json`: every pair of a yes/no question, with `answers:
  [{"text": "yes"}]` or `"no"` (the format run_qa.py --question_type=yesno
  reads).
- `test_factoid.json`, `test_list.json`, `test_yesno.json`: every pair,
  without answers, for prediction. The official file itself is the golden
  file for --golden_file.
- `conversion_report.json`: counts per type, and the ids of questions left
  out.

Summary questions are skipped (they have no exact answer to extract).
"""

import argparse
import collections
import json
import os
import sys

if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from biocodes import bioasq_eval  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402

TYPES = ("factoid", "list", "yesno")


def load_official(path):
  """The questions of an official BioASQ JSON file, checked.

  Raises:
    InputError naming the file and the question id for a question without
    a type, an exact_answer of the wrong shape or a snippet without text.
  """
  questions = bioasq_eval.load_questions(path, "golden")
  for q in questions:
    if len(q["id"]) != 24:
      raise errors.InputError(path, None, "question %s: a BioASQ id has 24 "
                              "characters" % q["id"])
    snippets = q.get("snippets", [])
    if not isinstance(snippets, list) or not all(
        isinstance(s, dict) and isinstance(s.get("text"), str)
        for s in snippets):
      raise errors.InputError(path, None, "question %s: every snippet needs "
                              "a \"text\"" % q["id"])
    if q["type"] != "summary" and not isinstance(q.get("body"), str):
      raise errors.InputError(path, None, "question %s: \"body\" (the "
                              "question text) is missing" % q["id"])
  return questions


def _synonyms(exact_answer):
  """The golden entries of a factoid/list answer as lists of strings."""
  if isinstance(exact_answer, str):
    return [[exact_answer]]
  return [item if isinstance(item, list) else [item]
          for item in exact_answer or []]


def find_answer(text, synonyms):
  """(start, answer text as written) of the first synonym in `text`, or None.

  Synonyms are tried in order; the earliest occurrence of the first one
  found, ignoring case, is taken.
  """
  lowered = text.lower()
  for synonym in synonyms:
    synonym = synonym.strip()
    if not synonym:
      continue
    start = lowered.find(synonym.lower())
    if start >= 0:
      return start, text[start:start + len(synonym)]
  return None


def _qas_id(qid, n):
  if n > 999:
    raise ValueError("question %s has more than 999 snippet pairs" % qid)
  return "%s_%03d" % (qid, n)


def _squad(paragraphs):
  return {"version": "BioASQ", "data": [{"title": "BioASQ",
                                         "paragraphs": paragraphs}]}


def convert(questions):
  """{file name: JSON-able content} and the report, for `questions`."""
  train = collections.defaultdict(list)
  test = collections.defaultdict(list)
  report = {t: {"questions": 0, "train_pairs": 0, "test_pairs": 0,
                "not_found": [], "no_snippets": []} for t in TYPES}
  report["summary_skipped"] = 0
  for q in questions:
    kind = q["type"]
    if kind not in TYPES:
      report["summary_skipped"] += 1
      continue
    counts = report[kind]
    counts["questions"] += 1
    snippets = [s["text"] for s in q.get("snippets", [])]
    for k, text in enumerate(snippets, 1):
      test[kind].append({"context": text, "qas": [
          {"id": _qas_id(q["id"], k), "question": q["body"]}]})
    counts["test_pairs"] += len(snippets)
    if not snippets:  # no pair to train or predict on, of any type
      counts["no_snippets"].append(q["id"])
      continue
    answer = q.get("exact_answer")
    if answer is None:
      continue
    n = 0
    if kind == "yesno":
      label = bioasq_eval.yes_no(answer)
      for text in snippets:
        n += 1
        train[kind].append({"context": text, "qas": [
            {"id": _qas_id(q["id"], n), "question": q["body"],
             "answers": [{"text": label}]}]})
    else:
      entries = _synonyms(answer)
      if kind == "factoid":
        entries = [[s for entry in entries for s in entry]]  # pooled
      for text in snippets:
        for entry in entries:
          found = find_answer(text, entry)
          if found is None:
            continue
          n += 1
          train[kind].append({"context": text, "qas": [
              {"id": _qas_id(q["id"], n), "question": q["body"],
               "answers": [{"text": found[1], "answer_start": found[0]}]}]})
      if n == 0:
        counts["not_found"].append(q["id"])
    counts["train_pairs"] += n
  out = {}
  for kind in TYPES:
    if train[kind]:
      out["train_%s.json" % kind] = _squad(train[kind])
    if test[kind]:
      out["test_%s.json" % kind] = _squad(test[kind])
  return out, report


def convert_file(input_path, output_dir):
  """Converts `input_path` into `output_dir`; returns the report."""
  questions = load_official(input_path)
  try:
    outputs, report = convert(questions)
  except ValueError as e:
    raise errors.InputError(input_path, None, str(e))
  for name, content in sorted(outputs.items()):
    files.atomic_write(os.path.join(output_dir, name),
                       json.dumps(content, indent=1, ensure_ascii=False) +
                       "\n")
  report["files"] = sorted(outputs)
  files.atomic_write(os.path.join(output_dir, "conversion_report.json"),
                     json.dumps(report, indent=2) + "\n")
  return report


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input", required=True,
                      help="official BioASQ JSON (training or test set)")
  parser.add_argument("--output_dir", required=True,
                      help="where the SQuAD-format files are written")
  args = parser.parse_args(argv)
  try:
    report = convert_file(args.input, args.output_dir)
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  for kind in TYPES:
    counts = report[kind]
    if not counts["questions"]:
      continue
    print("%s: %d questions, %d training pairs, %d test pairs" %
          (kind, counts["questions"], counts["train_pairs"],
           counts["test_pairs"]))
    for key, what in (
        ("not_found", "have an answer found in no snippet and were left out "
         "of training"),
        ("no_snippets", "have no snippet, so no pair for training or "
         "prediction, and were left out")):
      if counts[key]:
        print("  %d %s questions %s: %s" % (
            len(counts[key]), kind, what, ", ".join(counts[key][:10]) +
            (" ..." if len(counts[key]) > 10 else "")))
  print("Wrote %s to %s" % (", ".join(report["files"] +
                                       ["conversion_report.json"]),
                            args.output_dir))
  return 0


if __name__ == "__main__":
  sys.exit(main())
