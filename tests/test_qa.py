"""BioASQ factoid QA: run_qa.py, the n-best transform and bioasq_eval.py."""

import json
import os

import pytest

from biocodes import bioasq_eval
from finetuning import errors
from qa import squad
from tests import bioasq_fixture
from tests.conftest import REFERENCE
from tests.helpers import bert_flags, run_tool

REF = os.path.join(REFERENCE, "bioasq")


@pytest.fixture(scope="module")
def qa_run(tiny_bert_dir, tmp_path_factory):
  base = tmp_path_factory.mktemp("qa")
  paths = bioasq_fixture.write(base)
  out = base / "out"
  result = run_tool(["run_qa.py", "--do_train=True", "--do_predict=True",
                     "--max_seq_length=64", "--train_batch_size=4",
                     "--learning_rate=1e-3", "--doc_stride=16",
                     "--num_train_epochs=1.0", "--do_lower_case=False",
                     "--n_best_size=5", "--seed=4", "--max_query_length=16",
                     "--train_file=" + paths["train.json"],
                     "--predict_file=" + paths["test.json"],
                     "--golden_file=" + paths["golden.json"],
                     "--output_dir=" + str(out)] + bert_flags(tiny_bert_dir))
  return {"paths": paths, "out": out, "stdout": result.stdout}


def test_qa_outputs_formats(qa_run):
  out = qa_run["out"]
  test = json.loads(open(qa_run["paths"]["test.json"]).read())
  ids = [qa["id"] for p in test["data"][0]["paragraphs"] for qa in p["qas"]]
  contexts = {qa["id"]: p["context"] for p in test["data"][0]["paragraphs"]
              for qa in p["qas"]}
  predictions = json.loads((out / "predictions.json").read_text())
  nbest = json.loads((out / "nbest_predictions.json").read_text())
  assert list(predictions) == ids and list(nbest) == ids
  for qas_id in ids:
    entries = nbest[qas_id]
    assert 1 <= len(entries) <= 5
    assert predictions[qas_id] == entries[0]["text"]
    assert abs(sum(e["probability"] for e in entries) - 1) < 1e-6
    scores = [e["start_logit"] + e["end_logit"] for e in entries]
    assert scores == sorted(scores, reverse=True)
    for e in entries:
      assert list(e) == ["text", "probability", "start_logit", "end_logit"]
      # Answers are recovered from the original context, as written.
      assert e["text"] in contexts[qas_id]
  assert "Skipped 1 of 11 training questions" in qa_run["stdout"]
  assert "answer_start does not point at the answer text" in qa_run["stdout"]


def test_qa_bioasq_steps_match_separate_tools(qa_run, tmp_path):
  out = qa_run["out"]
  answers = json.loads((out / "BioASQform_BioASQ-answer.json").read_text())
  assert [q["id"] for q in answers["questions"]] == [
      bioasq_fixture.qid(i) for i in range(4)]
  for q in answers["questions"]:
    assert q["type"] == "factoid" and q["ideal_answer"] == "Dummy"
    assert 1 <= len(q["exact_answer"]) <= 5
    assert all(len(a) == 1 for a in q["exact_answer"])
  # The separate steps give the same file and the same first line.
  run_tool(["biocodes/transform_nbset2bioasqform.py",
            "--nbest_path=" + str(out / "nbest_predictions.json"),
            "--output_path=" + str(tmp_path)])
  assert ((tmp_path / "BioASQform_BioASQ-answer.json").read_text() ==
          (out / "BioASQform_BioASQ-answer.json").read_text())
  scored = run_tool(["biocodes/bioasq_eval.py",
                     qa_run["paths"]["golden.json"],
                     str(tmp_path / "BioASQform_BioASQ-answer.json")])
  line = scored.stdout.splitlines()[0]
  assert ("***** BioASQ factoid evaluation" in qa_run["stdout"] and
          "\n" + line + "\n" in qa_run["stdout"])
  scores = json.loads((out / "bioasq_scores.json").read_text())
  assert "MRR %.4f  (4 questions)" % scores["mrr"] in scored.stdout
  assert bioasq_eval.java_double(scores["mrr"]) == line.split()[3]
  assert scores["scored"] == {"yesno": 0, "factoid": 4, "list": 0}


def _qa_fails(tiny_bert_dir, tmp_path, data, extra=()):
  path = tmp_path / "train.json"
  path.write_text(data if isinstance(data, str) else json.dumps(data))
  result = run_tool(["run_qa.py", "--do_train=True", "--do_predict=False",
                     "--train_file=" + str(path), "--max_seq_length=64",
                     "--max_query_length=16",
                     "--output_dir=" + str(tmp_path / "out")] +
                    list(extra) + bert_flags(tiny_bert_dir), expect_ok=False)
  assert result.returncode == 2, result.stderr
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "out").exists()
  return result.stderr


def _one(qas_id="%024d_001" % 7, context="BRCA1 is a gene.",
         question="Which gene?"):
  qa = {"id": qas_id, "answers": [{"text": "BRCA1", "answer_start": 0}]}
  if question is not None:
    qa["question"] = question
  para = {"qas": [qa]}
  if context is not None:
    para["context"] = context
  return {"data": [{"paragraphs": [para]}], "version": "x"}


def test_qa_bad_input_errors(tiny_bert_dir, tmp_path):
  err = _qa_fails(tiny_bert_dir, tmp_path, '{"data": [\n  {"paragraphs": }')
  assert "train.json:2: not valid JSON" in err
  err = _qa_fails(tiny_bert_dir, tmp_path, _one(qas_id="q1"))
  assert "qas id 'q1' is not of the form" in err
  err = _qa_fails(tiny_bert_dir, tmp_path, _one(context=None))
  assert "data[0].paragraphs[0]: missing \"context\"" in err
  err = _qa_fails(tiny_bert_dir, tmp_path, _one(question=None))
  assert "%024d_001: missing \"question\"" % 7 in err


def test_plain_squad_ids_with_flag(tmp_path):
  path = tmp_path / "t.json"
  path.write_text(json.dumps(_one(qas_id="squad-1")))
  examples, skipped = squad.read_squad_examples(str(path), True,
                                                 check_bioasq_ids=False)
  assert [e.qas_id for e in examples] == ["squad-1"] and skipped == []
  assert examples[0].start_position == 0 and examples[0].end_position == 0
  with pytest.raises(errors.InputError, match="not of the form"):
    squad.read_squad_examples(str(path), True)


def test_get_final_text_restores_original_spelling():
  assert squad.get_final_text("steve smith", "Steve Smith's", True) == (
      "Steve Smith")
  assert squad.get_final_text("il - 6", "(IL-6)", True) == "IL-6"
  assert squad.get_final_text("nothing", "IL-6", True) == "IL-6"
  assert squad.detokenize_pieces(["il", "-", "6", "##a"]) == "il - 6a"


def test_split_context_and_max_context():
  tokens, offsets = squad.split_context("a  bc\td")
  assert tokens == ["a", "bc", "d"]
  assert offsets == [0, 0, 0, 1, 1, 1, 2]
  spans = [squad.DocSpan(0, 5), squad.DocSpan(3, 5), squad.DocSpan(6, 5)]
  # Position 4: 1 left/0 right in span 0, 1 left/3 right in span 1.
  assert squad._check_is_max_context(spans, 1, 4)
  assert not squad._check_is_max_context(spans, 0, 4)


def test_sliding_windows_cover_long_context(tiny_bert_dir):
  import tokenization
  tok = tokenization.FullTokenizer(tiny_bert_dir["vocab"], False)
  words = ["w%d" % i for i in range(40)]
  ex = squad.SquadExample("q", "Which?", words, None, None, None, False)
  feats = squad.convert_examples_to_features([ex], tok, 32, 8, 8, False)
  assert len(feats) > 1
  # Every context piece is the max-context position of exactly one window.
  owners = {}
  for f in feats:
    for pos, is_max in f.token_is_max_context.items():
      if is_max:
        owners.setdefault(f.token_to_orig_map[pos], []).append(f.unique_id)
  assert sorted(owners) == list(range(40))
  # Each context piece is owned by exactly one window.
  n_pieces = sum(len(tok.tokenize(w)) for w in words)
  assert sum(sum(f.token_is_max_context.values()) for f in feats) == n_pieces
