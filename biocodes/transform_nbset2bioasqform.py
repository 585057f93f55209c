#!/usr/bin/env python
"""Turns run_qa.py's nbest_predictions.json into a BioASQ answer file.

    python biocodes/transform_nbset2bioasqform.py \
      --nbest_path=$OUTPUT_DIR/nbest_predictions.json --output_path=$OUTPUT_DIR

For every BioASQ question (qas ids `<24-character question id>_<3 digits>`,
one per snippet), the n-best lists of all its snippets are pooled and sorted
by probability; empty texts and texts over 100 characters are dropped; texts
equal ignoring case are merged (probabilities summed, first spelling kept);
the result is sorted again (ties keep their order). Writes
BioASQform_BioASQ-answer.json (top 5 as `exact_answer`) and
WithProb_BioASQform_BioASQ-answer.json (top 20 with probabilities) into
--output_path when it is a directory; otherwise to that file name and
`<name>_WithProb`.

List questions (--question_type=list) use the same pooled ranking and keep
the candidates whose share (summed probability / number of snippets) is at
least --list_threshold (default 0.1), at most --list_max (default 10), the
best one always.
"""

import argparse
import json
import os
import sys

if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from biocodes.bioasq_ids import question_id  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402
ANSWER_NAME = "BioASQform_BioASQ-answer.json"
WITH_PROB_NAME = "WithProb_BioASQform_BioASQ-answer.json"
MAX_TEXT_LENGTH = 100


def is_placeholder(candidates):
  """Whether an n-best list is run_qa.py's (and the original's) stand-in
  for a snippet with no possible span: one "empty" text at probability 1
  with zero logits. It is no answer, and would outrank every real one."""
  return (len(candidates) == 1 and candidates[0]["text"] == "empty" and
          candidates[0].get("start_logit", 0.0) == 0.0 and
          candidates[0].get("end_logit", 0.0) == 0.0)


def rank_answers(nbest_lists):
  """Pools, filters, merges and sorts the candidates of one question.

  Args:
    nbest_lists: the n-best lists (dicts with "text" and "probability") of
      the question's snippets, in file order.

  Returns:
    A list of [text, summed probability], best first.
  """
  pooled = [c for nbest in nbest_lists for c in nbest]
  pooled.sort(key=lambda c: -c["probability"])
  merged = {}
  spelling = {}
  for c in pooled:
    text = c["text"]
    if not text or len(text) > MAX_TEXT_LENGTH:
      continue
    key = text.lower()
    if key in spelling:
      merged[spelling[key]] += c["probability"]
    else:
      spelling[key] = text
      merged[text] = c["probability"]
  return sorted(([t, p] for t, p in merged.items()), key=lambda tp: -tp[1])


LIST_THRESHOLD = 0.1
LIST_MAX = 10


def select_list_items(ranked, num_snippets, threshold=LIST_THRESHOLD,
                      max_items=LIST_MAX):
  """The items of a list answer: candidates whose share is >= `threshold`.

  A candidate's share is its probability summed over the question's
  snippets divided by the number of snippets (each snippet's n-best
  probabilities sum to 1). At most `max_items`, best first; the best one is
  kept even below the threshold, so that no list answer is empty.
  """
  kept = [t for t, p in ranked if p / max(num_snippets, 1) >= threshold]
  if not kept and ranked:
    kept = [ranked[0][0]]
  return kept[:max_items]


def transform(nbest, question_type="factoid", list_threshold=LIST_THRESHOLD,
              list_max=LIST_MAX):
  """(answer file dict, answer file with probabilities dict).

  factoid: the top 5 candidates, best first (the original). list: the
  candidates chosen by `select_list_items`.
  """
  by_question = {}
  for qas_id, candidates in nbest.items():
    lists = by_question.setdefault(question_id(qas_id), [])
    if not is_placeholder(candidates):
      lists.append(candidates)
  entries, with_prob = [], []
  for qid, lists in by_question.items():
    ranked = rank_answers(lists)
    if question_type == "list":
      answer = [[t] for t in select_list_items(ranked, len(lists),
                                               list_threshold, list_max)]
    else:
      answer = [[t] for t, _ in ranked[:5]]
    entries.append({"type": question_type, "id": qid,
                    "ideal_answer": "Dummy", "exact_answer": answer})
    with_prob.append({"type": question_type, "id": qid,
                      "ideal_answer": "Dummy", "exact_answer": ranked[:20]})
  return {"questions": entries}, {"questions": with_prob}


def output_paths(output_path):
  """Where the two files go, as the original decided."""
  if os.path.isdir(output_path):
    return (os.path.join(output_path, ANSWER_NAME),
            os.path.join(output_path, WITH_PROB_NAME))
  return output_path, output_path + "_WithProb"


def load_nbest(path):
  """Reads and checks nbest_predictions.json."""
  nbest = files.read_json(path, "nbest_predictions.json written by "
                           "run_qa.py")
  if not isinstance(nbest, dict):
    raise errors.InputError(path, None, "expected an object {qas id: n-best "
                            "list}")
  for qas_id, candidates in nbest.items():
    if not isinstance(candidates, list) or not all(
        isinstance(c, dict) and isinstance(c.get("text"), str) and
        isinstance(c.get("probability"), (int, float)) and
        not isinstance(c.get("probability"), bool) for c in candidates):
      raise errors.InputError(path, None, "%s: expected a list of "
                              "{\"text\": string, \"probability\": number, "
                              "...}" % qas_id)
  return nbest


def write_answer_files(answers, with_prob, output_path):
  """Writes the two answer files of `transform`; returns their paths."""
  path, prob_path = output_paths(output_path)
  files.atomic_write(path, json.dumps(answers, indent=2) + "\n")
  files.atomic_write(prob_path, json.dumps(with_prob, indent=2) + "\n")
  return path, prob_path


def convert_file(nbest_path, output_path, question_type="factoid",
                 list_threshold=LIST_THRESHOLD, list_max=LIST_MAX):
  """Reads the n-best file and writes both answer files; returns their paths."""
  nbest = load_nbest(nbest_path)
  try:
    answers, with_prob = transform(nbest, question_type, list_threshold,
                                   list_max)
  except ValueError as e:
    raise errors.InputError(nbest_path, None, str(e))
  return write_answer_files(answers, with_prob, output_path)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--nbest_path", required=True,
                      help="nbest_predictions.json written by run_qa.py")
  parser.add_argument("--output_path", required=True,
                      help="a directory, or the answer file to write")
  parser.add_argument("--question_type", default="factoid",
                      choices=["factoid", "list"],
                      help="factoid: the top 5 candidates (the original); "
                      "list: the candidates above --list_threshold")
  parser.add_argument("--list_threshold", type=float, default=LIST_THRESHOLD,
                      help="list questions: keep a candidate whose "
                      "probability summed over the snippets, divided by the "
                      "number of snippets, is at least this")
  parser.add_argument("--list_max", type=int, default=LIST_MAX,
                      help="list questions: at most this many items")
  args = parser.parse_args(argv)
  if not 0 <= args.list_threshold <= 1 or args.list_max < 1:
    sys.stderr.write("error: --list_threshold is a number from 0 to 1 and "
                     "--list_max a whole number >= 1\n")
    return 2
  try:
    path, prob_path = convert_file(args.nbest_path, args.output_path,
                                   args.question_type, args.list_threshold,
                                   args.list_max)
  except errors.UserError as e:
    sys.stderr.write("error: %s\n" % e)
    return 2
  print("Wrote %s and %s" % (path, prob_path))
  return 0


if __name__ == "__main__":
  sys.exit(main())
