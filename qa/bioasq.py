"""BioASQ on top of SQuAD-format runs: answer files, scores, yes/no pairs.

The golden JSON and the official measures are biocodes/bioasq_eval.py's;
the answer files biocodes/transform_nbset2bioasqform.py's. Here: writing and
scoring them in a run, the dev metric of each question type, and the
(question, snippet) pairs of yes/no questions.
"""

import collections
import json
import math
import os

from biocodes import bioasq_eval
from biocodes import bioasq_ids
from biocodes import transform_nbset2bioasqform as bioasq_form
from finetuning import errors
from finetuning import files
from qa import squad

def score_bioasq(answers, with_prob, golden, output_dir, question_type):
  """Writes the BioASQ answer files and prints their scores."""
  answer_path, _ = bioasq_form.write_answer_files(answers, with_prob,
                                                  output_dir)
  if golden is None:
    print("Wrote %s" % answer_path)
    return
  result = bioasq_eval.score(golden, answers["questions"])
  print("***** BioASQ %s evaluation (%s) *****" % (question_type,
                                                   answer_path))
  print(bioasq_eval.official_line(result))
  print(bioasq_eval.summary(result), end="")
  files.atomic_write(os.path.join(output_dir, "bioasq_scores.json"),
                     json.dumps({k: result[k] for k in (
                         bioasq_eval.OFFICIAL_ORDER + ["scored", "missing"])},
                     indent=2) + "\n")


# The dev metric that chooses the model, per question type.
DEV_METRICS = {"factoid": "mrr", "list": "list_f1",
               "yesno": "yesno_macro_f1"}


YesNoExample = collections.namedtuple(
    "YesNoExample", ["qas_id", "question", "context", "label"])
YESNO_LABELS = ["no", "yes"]


def read_yesno_examples(input_file, is_training, check_bioasq_ids=True):
  """(question, snippet) pairs of a yes/no SQuAD-like file.

  In training each qas carries `answers: [{"text": "yes"}]` (or "no");
  anything else is an InputError naming the qas id.
  """
  examples = []
  for where, context, qa, qas_id, question in squad.squad_questions(
      input_file, check_bioasq_ids):
    label = None
    if is_training:
      answers = qa.get("answers")
      text = (answers[0].get("text") if isinstance(answers, list) and answers
              and isinstance(answers[0], dict) else None)
      if not isinstance(text, str) or text.strip().lower() not in (
          YESNO_LABELS):
        raise errors.InputError(input_file, None, "%s (%s): a yes/no "
                                "question needs \"answers\": [{\"text\": "
                                "\"yes\"}] or \"no\"" % (qas_id, where))
      label = text.strip().lower()
    examples.append(YesNoExample(qas_id, question, context, label))
  return examples


def yesno_features(examples, tokenizer, max_seq_length, max_query_length):
  """Unpadded `[CLS] question [SEP] snippet [SEP]` features (cut to fit)."""
  features = []
  for ex in examples:
    query = tokenizer.tokenize(ex.question)[:max_query_length]
    budget = max_seq_length - len(query) - 3
    context = tokenizer.tokenize(ex.context)[:budget]
    tokens = ["[CLS]"] + query + ["[SEP]"] + context + ["[SEP]"]
    segment_ids = [0] * (len(query) + 2) + [1] * (len(context) + 1)
    features.append({
        "input_ids": tokenizer.convert_tokens_to_ids(tokens),
        "input_mask": [1] * len(tokens), "segment_ids": segment_ids,
        "label_ids": YESNO_LABELS.index(ex.label or "no")})
  return features


def aggregate_yesno(qas_ids, yes_probabilities, threshold=0.5):
  """Per BioASQ question: (mean probability of yes, "yes" or "no").

  Returns:
    An ordered dict {question id: (mean, answer)}, questions in file order.
  """
  by_question = collections.OrderedDict()
  for qas_id, p in zip(qas_ids, yes_probabilities):
    by_question.setdefault(bioasq_ids.question_id(qas_id), []).append(p)
  out = collections.OrderedDict()
  for qid, probs in by_question.items():
    mean = math.fsum(probs) / len(probs)
    out[qid] = (mean, "yes" if mean >= threshold else "no")
  return out


def yesno_answer_files(decisions):
  """The BioASQ answer file (and one with probabilities) of yes/no answers."""
  answers = [{"type": "yesno", "id": qid, "ideal_answer": "Dummy",
              "exact_answer": answer}
             for qid, (_, answer) in decisions.items()]
  with_prob = [{"type": "yesno", "id": qid, "ideal_answer": "Dummy",
                "exact_answer": answer, "probability_yes": mean}
               for qid, (mean, answer) in decisions.items()]
  return {"questions": answers}, {"questions": with_prob}
