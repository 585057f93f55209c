"""SQuAD-format question answering: reading, features, answers.

BERT's run_squad.py processing, as the original BioBERT run_qa.py used it:
SQuAD JSON into examples (checked, with located errors and BioASQ qas ids),
examples into windows of --max_seq_length with --doc_stride, and start/end
logits back into n-best answer texts (predictions.json,
nbest_predictions.json).
"""

import collections
import json
import math
import os

import tensorflow.compat.v1 as tf

from biocodes import bioasq_ids
import tokenization
from finetuning import errors
from finetuning import files

SquadExample = collections.namedtuple(
    "SquadExample", ["qas_id", "question_text", "doc_tokens",
                     "orig_answer_text", "start_position", "end_position",
                     "is_impossible"])
InputFeatures = collections.namedtuple(
    "InputFeatures", ["unique_id", "example_index", "doc_span_index",
                      "tokens", "token_to_orig_map", "token_is_max_context",
                      "input_ids", "input_mask", "segment_ids",
                      "start_position", "end_position", "is_impossible"])
RawResult = collections.namedtuple("RawResult",
                                   ["unique_id", "start_logits", "end_logits"])


def is_whitespace(c):
  """Whitespace as SQuAD's word splitting sees it."""
  return c in (" ", "\t", "\r", "\n") or ord(c) == 0x202F


def split_context(context):
  """Whitespace words of `context` and the word index of every character."""
  doc_tokens = []
  char_to_word_offset = []
  prev_is_whitespace = True
  for c in context:
    if is_whitespace(c):
      prev_is_whitespace = True
    else:
      if prev_is_whitespace:
        doc_tokens.append(c)
      else:
        doc_tokens[-1] += c
      prev_is_whitespace = False
    char_to_word_offset.append(len(doc_tokens) - 1)
  return doc_tokens, char_to_word_offset


def load_squad_json(path):
  """Reads a SQuAD-format file; errors name the file and the JSON position."""
  data = files.read_json(path, "SQuAD-format JSON")
  if not isinstance(data, dict) or not isinstance(data.get("data"), list):
    raise errors.InputError(path, None, 'expected {"data": [{"paragraphs": '
                            '[...]}], "version": ...}')
  return data["data"]


def _expect(path, value, kind, where, what):
  """`value` if it is a `kind`; else InputError naming the JSON place."""
  if not isinstance(value, kind):
    raise errors.InputError(path, None, "%s: expected %s, found %s" %
                            (where, what, type(value).__name__))
  return value


def squad_questions(input_file, check_bioasq_ids=True):
  """Yields (where, context, qa dict, qas id, question) of a SQuAD file.

  Checks the structure and the ids on the way (InputError naming the file
  and the JSON place or qas id).
  """
  data = load_squad_json(input_file)
  seen = {}
  for e, entry in enumerate(data):
    _expect(input_file, entry, dict, "data[%d]" % e, "an object with "
            "\"paragraphs\"")
    paragraphs = _expect(input_file, entry.get("paragraphs", []), list,
                         "data[%d].paragraphs" % e, "a list")
    for p, paragraph in enumerate(paragraphs):
      where = "data[%d].paragraphs[%d]" % (e, p)
      _expect(input_file, paragraph, dict, where, "an object with "
              "\"context\" and \"qas\"")
      context = paragraph.get("context")
      if not isinstance(context, str):
        raise errors.InputError(input_file, None,
                                "%s: missing \"context\"" % where)
      qas = _expect(input_file, paragraph.get("qas", []), list,
                    where + ".qas", "a list")
      for q, qa in enumerate(qas):
        here = "%s.qas[%d]" % (where, q)
        _expect(input_file, qa, dict, here,
                "an object with \"id\" and \"question\"")
        qas_id = qa.get("id")
        if not isinstance(qas_id, str) or not qas_id:
          raise errors.InputError(input_file, None,
                                  "%s: a question without an \"id\"" % where)
        if check_bioasq_ids:
          try:
            bioasq_ids.question_id(qas_id)
          except ValueError as ex:
            raise errors.InputError(input_file, None, "%s (or pass "
                                    "--check_bioasq_ids=false for plain "
                                    "SQuAD data)" % ex)
        if qas_id in seen:
          raise errors.InputError(
              input_file, files.line_of_value(input_file, "id", qas_id, 2),
              "%s: qas id %r is already %s" % (here, qas_id, seen[qas_id]))
        seen[qas_id] = here
        question = qa.get("question")
        if not isinstance(question, str) or not question.strip():
          raise errors.InputError(input_file, None, "%s: missing "
                                  "\"question\"" % qas_id)
        yield here, context, qa, qas_id, question


def read_squad_examples(input_file, is_training, version_2_with_negative=False,
                        check_bioasq_ids=True):
  """Reads SQuAD-format questions.

  In training, a question whose answer cannot be found at `answer_start` in
  the context is skipped, counted and reported.

  Returns:
    (examples, skipped): `skipped` lists (qas id, reason).
  """
  examples = []
  skipped = []
  split = {}
  for where, context, qa, qas_id, question in squad_questions(
      input_file, check_bioasq_ids):
    if context not in split:
      split = {context: split_context(context)}
    doc_tokens, char_to_word_offset = split[context]
    start_position = end_position = None
    orig_answer_text = None
    is_impossible = False
    if is_training:
      if version_2_with_negative:
        is_impossible = bool(qa.get("is_impossible", False))
      answers = _expect(input_file, qa.get("answers") or [], list,
                        where + ".answers", "a list")
      if not is_impossible:
        if len(answers) < 1 or not isinstance(answers[0], dict):
          skipped.append((qas_id, "no answer"))
          continue
        answer = answers[0]
        orig_answer_text = answer.get("text")
        answer_offset = answer.get("answer_start")
        if (not isinstance(orig_answer_text, str) or not orig_answer_text
            or not isinstance(answer_offset, int) or answer_offset < 0 or
            answer_offset + len(orig_answer_text) > len(context)):
          skipped.append((qas_id, "answer_start outside the context"))
          continue
        if context[answer_offset:answer_offset + len(
            orig_answer_text)] != orig_answer_text:
          skipped.append((qas_id, "answer_start does not point at the "
                          "answer text"))
          continue
        start_position = char_to_word_offset[answer_offset]
        end_position = char_to_word_offset[answer_offset +
                                           len(orig_answer_text) - 1]
        actual_text = " ".join(doc_tokens[start_position:end_position +
                                          1])
        cleaned = " ".join(tokenization.whitespace_tokenize(
            orig_answer_text))
        if actual_text.find(cleaned) == -1:
          skipped.append((qas_id, "answer text not found in the "
                          "context words"))
          continue
      else:
        start_position = end_position = -1
        orig_answer_text = ""
    examples.append(SquadExample(qas_id, question, doc_tokens,
                                 orig_answer_text, start_position,
                                 end_position, is_impossible))
  return examples, skipped


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer,
                         orig_answer_text):
  """The word-piece span that matches the tokenized answer best."""
  tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
  for new_start in range(input_start, input_end + 1):
    for new_end in range(input_end, new_start - 1, -1):
      text_span = " ".join(doc_tokens[new_start:(new_end + 1)])
      if text_span == tok_answer_text:
        return (new_start, new_end)
  return (input_start, input_end)


def _check_is_max_context(doc_spans, cur_span_index, position):
  """Whether `cur_span_index` is the span with the most context at `position`.

  The score of a span is min(left context, right context) + 0.01 * length.
  """
  best_score = None
  best_span_index = None
  for (span_index, doc_span) in enumerate(doc_spans):
    end = doc_span.start + doc_span.length - 1
    if position < doc_span.start or position > end:
      continue
    num_left_context = position - doc_span.start
    num_right_context = end - position
    score = min(num_left_context, num_right_context) + 0.01 * doc_span.length
    if best_score is None or score > best_score:
      best_score = score
      best_span_index = span_index
  return cur_span_index == best_span_index


DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


def convert_examples_to_features(examples, tokenizer, max_seq_length,
                                 doc_stride, max_query_length, is_training):
  """Windows of `[CLS] question [SEP] context piece [SEP]` per example.

  The features are unpadded: input_ids, input_mask and segment_ids are as
  long as `tokens`.
  """
  unique_id = 1000000000
  features = []
  for (example_index, example) in enumerate(examples):
    query_tokens = tokenizer.tokenize(example.question_text)
    if len(query_tokens) > max_query_length:
      query_tokens = query_tokens[0:max_query_length]

    tok_to_orig_index = []
    orig_to_tok_index = []
    all_doc_tokens = []
    for (i, token) in enumerate(example.doc_tokens):
      orig_to_tok_index.append(len(all_doc_tokens))
      for sub_token in tokenizer.tokenize(token):
        tok_to_orig_index.append(i)
        all_doc_tokens.append(sub_token)

    tok_start_position = tok_end_position = None
    if is_training and example.is_impossible:
      tok_start_position = tok_end_position = -1
    if is_training and not example.is_impossible:
      tok_start_position = orig_to_tok_index[example.start_position]
      if example.end_position < len(example.doc_tokens) - 1:
        tok_end_position = orig_to_tok_index[example.end_position + 1] - 1
      else:
        tok_end_position = len(all_doc_tokens) - 1
      (tok_start_position, tok_end_position) = _improve_answer_span(
          all_doc_tokens, tok_start_position, tok_end_position, tokenizer,
          example.orig_answer_text)

    # [CLS], [SEP] and [SEP].
    max_tokens_for_doc = max_seq_length - len(query_tokens) - 3

    doc_spans = []
    start_offset = 0
    while start_offset < len(all_doc_tokens):
      length = min(len(all_doc_tokens) - start_offset, max_tokens_for_doc)
      doc_spans.append(DocSpan(start=start_offset, length=length))
      if start_offset + length == len(all_doc_tokens):
        break
      start_offset += min(length, doc_stride)

    for (doc_span_index, doc_span) in enumerate(doc_spans):
      tokens = ["[CLS]"] + query_tokens + ["[SEP]"]
      segment_ids = [0] * len(tokens)
      token_to_orig_map = {}
      token_is_max_context = {}
      for i in range(doc_span.length):
        split_token_index = doc_span.start + i
        token_to_orig_map[len(tokens)] = tok_to_orig_index[split_token_index]
        token_is_max_context[len(tokens)] = _check_is_max_context(
            doc_spans, doc_span_index, split_token_index)
        tokens.append(all_doc_tokens[split_token_index])
        segment_ids.append(1)
      tokens.append("[SEP]")
      segment_ids.append(1)

      input_ids = tokenizer.convert_tokens_to_ids(tokens)
      input_mask = [1] * len(input_ids)

      start_position = end_position = None
      if is_training and not example.is_impossible:
        doc_start = doc_span.start
        doc_end = doc_span.start + doc_span.length - 1
        if (tok_start_position < doc_start or tok_end_position > doc_end):
          start_position = end_position = 0
        else:
          doc_offset = len(query_tokens) + 2
          start_position = tok_start_position - doc_start + doc_offset
          end_position = tok_end_position - doc_start + doc_offset
      if is_training and example.is_impossible:
        start_position = end_position = 0

      if example_index < 2:
        tf.logging.info("*** Example ***")
        tf.logging.info("unique_id: %s", unique_id)
        tf.logging.info("tokens: %s", " ".join(tokens))

      features.append(InputFeatures(
          unique_id, example_index, doc_span_index, tokens,
          token_to_orig_map, token_is_max_context, input_ids, input_mask,
          segment_ids, start_position, end_position, example.is_impossible))
      unique_id += 1
  return features


def feature_dicts(features, is_training):
  """The TFRecord fields of each feature."""
  for f in features:
    d = collections.OrderedDict(
        unique_ids=[f.unique_id], input_ids=f.input_ids,
        input_mask=f.input_mask, segment_ids=f.segment_ids)
    if is_training:
      d["start_positions"] = [f.start_position]
      d["end_positions"] = [f.end_position]
    yield d


def _get_best_indexes(logits, n_best_size):
  """The indexes of the n largest logits, largest first (stable on ties)."""
  order = sorted(enumerate(logits), key=lambda x: x[1], reverse=True)
  return [i for i, _ in order[:n_best_size]]


def _compute_softmax(scores):
  """Softmax of a list of floats (empty for an empty list)."""
  if not scores:
    return []
  max_score = max(scores)
  exp_scores = [math.exp(s - max_score) for s in scores]
  total = sum(exp_scores)
  return [s / total for s in exp_scores]


def get_final_text(pred_text, orig_text, do_lower_case, verbose=False):
  """Projects a normalized (tokenized) prediction back onto the original text.

  The prediction is found in the basic-tokenized original; both strings are
  aligned character by character once spaces are removed, which maps the
  span back to the original characters (keeping case and punctuation as
  written). Falls back to `orig_text` when the alignment fails.
  """

  def strip_spaces(text):
    chars = []
    ns_to_s = {}
    for i, c in enumerate(text):
      if c == " ":
        continue
      ns_to_s[len(chars)] = i
      chars.append(c)
    return "".join(chars), ns_to_s

  tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  tok_text = " ".join(tokenizer.tokenize(orig_text))
  start_position = tok_text.find(pred_text)
  if start_position == -1:
    if verbose:
      tf.logging.info("Unable to find text: '%s' in '%s'", pred_text,
                      orig_text)
    return orig_text
  end_position = start_position + len(pred_text) - 1

  orig_ns_text, orig_ns_to_s = strip_spaces(orig_text)
  tok_ns_text, tok_ns_to_s = strip_spaces(tok_text)
  if len(orig_ns_text) != len(tok_ns_text):
    if verbose:
      tf.logging.info("Length not equal after stripping spaces: '%s' vs '%s'",
                      orig_ns_text, tok_ns_text)
    return orig_text

  tok_s_to_ns = {s: ns for ns, s in tok_ns_to_s.items()}
  orig_start = orig_ns_to_s.get(tok_s_to_ns.get(start_position))
  orig_end = orig_ns_to_s.get(tok_s_to_ns.get(end_position))
  if orig_start is None or orig_end is None:
    if verbose:
      tf.logging.info("Couldn't map start or end position")
    return orig_text
  return orig_text[orig_start:orig_end + 1]


def detokenize_pieces(tok_tokens):
  """Joins word pieces: "##" continuations glued, whitespace normalised."""
  tok_text = " ".join(tok_tokens)
  tok_text = tok_text.replace(" ##", "").replace("##", "")
  return " ".join(tok_text.strip().split())


def make_predictions(examples, features, results, n_best_size,
                     max_answer_length, do_lower_case,
                     version_2_with_negative=False,
                     null_score_diff_threshold=0.0, verbose=False):
  """Best answers and n-best lists, as BERT's SQuAD `write_predictions`.

  Returns:
    (predictions {qas_id: text}, nbest {qas_id: [dict]}, null odds).
  """
  features_by_example = collections.defaultdict(list)
  for f in features:
    features_by_example[f.example_index].append(f)
  result_by_id = {r.unique_id: r for r in results}

  Prelim = collections.namedtuple(
      "Prelim", ["feature_index", "start_index", "end_index", "start_logit",
                 "end_logit"])
  all_predictions = collections.OrderedDict()
  all_nbest = collections.OrderedDict()
  null_odds = collections.OrderedDict()

  for (example_index, example) in enumerate(examples):
    example_features = features_by_example[example_index]
    prelim = []
    score_null = 1000000
    min_null_feature_index = 0
    null_start_logit = null_end_logit = 0.0
    for (feature_index, feature) in enumerate(example_features):
      result = result_by_id[feature.unique_id]
      # Only real positions compete (padding never takes an n-best slot, so
      # padded and length-bucketed batches give the same answers).
      n = len(feature.tokens)
      start_indexes = _get_best_indexes(result.start_logits[:n], n_best_size)
      end_indexes = _get_best_indexes(result.end_logits[:n], n_best_size)
      if version_2_with_negative:
        feature_null_score = result.start_logits[0] + result.end_logits[0]
        if feature_null_score < score_null:
          score_null = feature_null_score
          min_null_feature_index = feature_index
          null_start_logit = result.start_logits[0]
          null_end_logit = result.end_logits[0]
      for start_index in start_indexes:
        for end_index in end_indexes:
          # Spans in the question, past the end, not at their max-context
          # window, reversed or too long are not answers.
          if start_index >= len(feature.tokens):
            continue
          if end_index >= len(feature.tokens):
            continue
          if start_index not in feature.token_to_orig_map:
            continue
          if end_index not in feature.token_to_orig_map:
            continue
          if not feature.token_is_max_context.get(start_index, False):
            continue
          if end_index < start_index:
            continue
          if end_index - start_index + 1 > max_answer_length:
            continue
          prelim.append(Prelim(feature_index, start_index, end_index,
                               float(result.start_logits[start_index]),
                               float(result.end_logits[end_index])))
    if version_2_with_negative:
      prelim.append(Prelim(min_null_feature_index, 0, 0,
                           float(null_start_logit), float(null_end_logit)))
    prelim = sorted(prelim, key=lambda x: (x.start_logit + x.end_logit),
                    reverse=True)

    seen = set()
    nbest = []
    for pred in prelim:
      if len(nbest) >= n_best_size:
        break
      feature = example_features[pred.feature_index]
      if pred.start_index > 0:
        tok_text = detokenize_pieces(
            feature.tokens[pred.start_index:pred.end_index + 1])
        orig_start = feature.token_to_orig_map[pred.start_index]
        orig_end = feature.token_to_orig_map[pred.end_index]
        orig_text = " ".join(example.doc_tokens[orig_start:orig_end + 1])
        final_text = get_final_text(tok_text, orig_text, do_lower_case,
                                    verbose)
        if final_text in seen:
          continue
      else:
        final_text = ""
      seen.add(final_text)
      nbest.append((final_text, pred.start_logit, pred.end_logit))

    if version_2_with_negative and "" not in seen:
      nbest.append(("", float(null_start_logit), float(null_end_logit)))
    if not nbest:
      nbest.append(("empty", 0.0, 0.0))

    probs = _compute_softmax([s + e for _, s, e in nbest])
    nbest_json = [collections.OrderedDict(
        [("text", t), ("probability", p), ("start_logit", s),
         ("end_logit", e)]) for (t, s, e), p in zip(nbest, probs)]
    all_nbest[example.qas_id] = nbest_json

    if not version_2_with_negative:
      all_predictions[example.qas_id] = nbest_json[0]["text"]
    else:
      best_non_null = next((x for x in nbest_json if x["text"]), None)
      diff = score_null - (best_non_null["start_logit"] +
                           best_non_null["end_logit"] if best_non_null
                           else -1e9)
      null_odds[example.qas_id] = diff
      all_predictions[example.qas_id] = (
          "" if diff > null_score_diff_threshold or best_non_null is None
          else best_non_null["text"])
  return all_predictions, all_nbest, null_odds


def report_skipped(skipped, total, path):
  if not skipped:
    return
  reasons = collections.Counter(reason for _, reason in skipped)
  message = ("Skipped %d of %d training questions of %s: %s. First ids: %s" %
             (len(skipped), total, path,
              "; ".join("%d: %s" % (n, r) for r, n in reasons.items()),
              ", ".join(q for q, _ in skipped[:5])))
  tf.logging.warning(message)
  print(message)


def write_predictions(output_dir, predictions, nbest, null_odds=None):
  """predictions.json, nbest_predictions.json (and null_odds.json)."""
  files.atomic_write(os.path.join(output_dir, "predictions.json"),
                     json.dumps(predictions, indent=4) + "\n")
  files.atomic_write(os.path.join(output_dir, "nbest_predictions.json"),
                     json.dumps(nbest, indent=4) + "\n")
  if null_odds is not None:
    files.atomic_write(os.path.join(output_dir, "null_odds.json"),
                       json.dumps(null_odds, indent=4) + "\n")
