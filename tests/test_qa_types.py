"""run_qa.py --question_type=factoid|list|yesno: from the official BioASQ
JSON (through bioasq_convert.py) to the numbers of bioasq_eval.py."""

import json

import pytest

from qa import bioasq
from tests import bioasq_fixture
from tests.bioasq_fixture import qid
from tests.helpers import bert_flags, run_tool


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
  base = tmp_path_factory.mktemp("official")
  official = base / "official.json"
  official.write_text(json.dumps(bioasq_fixture.official_json()))
  out = base / "converted"
  run_tool(["biocodes/bioasq_convert.py", "--input=" + str(official),
            "--output_dir=" + str(out)])
  return {"golden": str(official), "dir": out}


@pytest.mark.parametrize("question_type,scored", [
    ("factoid", {"yesno": 0, "factoid": 2, "list": 0}),
    ("list", {"yesno": 0, "factoid": 0, "list": 1}),
    ("yesno", {"yesno": 2, "factoid": 0, "list": 0}),
])
def test_pipeline_ends_in_the_official_numbers(tiny_bert_dir, tmp_path,
                                               converted, question_type,
                                               scored):
  data = converted["dir"]
  out = tmp_path / "out"
  result = run_tool([
      "run_qa.py", "--question_type=" + question_type, "--do_train=true",
      "--do_predict=true",
      "--train_file=%s/train_%s.json" % (data, question_type),
      "--predict_file=%s/test_%s.json" % (data, question_type),
      "--golden_file=" + converted["golden"], "--output_dir=" + str(out),
      "--max_seq_length=64", "--doc_stride=32", "--max_query_length=16",
      "--train_batch_size=2", "--num_train_epochs=2", "--learning_rate=1e-3",
      "--seed=3", "--do_lower_case=false"] + bert_flags(tiny_bert_dir))
  answers = json.loads((out / "BioASQform_BioASQ-answer.json").read_text())
  assert {q["type"] for q in answers["questions"]} == {question_type}
  if question_type == "yesno":
    assert [q["id"] for q in answers["questions"]] == [qid(4), qid(5)]
    assert all(q["exact_answer"] in ("yes", "no")
               for q in answers["questions"])
  else:
    for q in answers["questions"]:
      assert all(len(item) == 1 for item in q["exact_answer"])
  # The numbers printed in the run are those of the scoring tool.
  line = run_tool(["biocodes/bioasq_eval.py", converted["golden"],
                   str(out / "BioASQform_BioASQ-answer.json")]).stdout
  assert "\n" + line.splitlines()[0] + "\n" in result.stdout
  scores = json.loads((out / "bioasq_scores.json").read_text())
  assert scores["scored"] == scored


def test_yesno_aggregation():
  ids = [qid(1) + "_001", qid(1) + "_002", qid(2) + "_001", qid(3) + "_001",
         qid(3) + "_002", qid(3) + "_003"]
  probs = [0.9, 0.2, 0.5, 0.1, 0.3, 0.8]
  decisions = bioasq.aggregate_yesno(ids, probs, threshold=0.5)
  assert list(decisions) == [qid(1), qid(2), qid(3)]
  assert decisions[qid(1)] == (pytest.approx(0.55), "yes")
  assert decisions[qid(2)] == (0.5, "yes")  # the threshold counts as yes
  assert decisions[qid(3)] == (pytest.approx(0.4), "no")
  answers, with_prob = bioasq.yesno_answer_files(decisions)
  assert answers["questions"][2] == {"type": "yesno", "id": qid(3),
                                     "ideal_answer": "Dummy",
                                     "exact_answer": "no"}
  assert with_prob["questions"][0]["probability_yes"] == pytest.approx(0.55)
  assert bioasq.aggregate_yesno(ids, probs, threshold=0.6)[qid(2)][1] == "no"


def test_yesno_training_file_needs_yes_or_no(tmp_path):
  path = tmp_path / "train.json"
  path.write_text(json.dumps({"data": [{"paragraphs": [{
      "context": "x", "qas": [{"id": qid(1) + "_001", "question": "q?",
                               "answers": [{"text": "maybe"}]}]}]}]}))
  from finetuning import errors
  with pytest.raises(errors.InputError, match=qid(1) + "_001.*a yes/no "
                     "question needs"):
    bioasq.read_yesno_examples(str(path), True)


def test_dev_evaluation_during_training(tiny_bert_dir, tmp_path, converted):
  data = converted["dir"]
  out = tmp_path / "out"
  run_tool([
      "run_qa.py", "--question_type=yesno", "--do_train=true",
      "--do_eval=true", "--eval_every_epoch=true", "--keep_best=true",
      "--train_file=%s/train_yesno.json" % data,
      "--dev_file=%s/test_yesno.json" % data,
      "--dev_golden_file=" + converted["golden"],
      "--output_dir=" + str(out), "--max_seq_length=64",
      "--max_query_length=16", "--train_batch_size=1",
      "--num_train_epochs=2", "--learning_rate=1e-3", "--seed=3",
      "--do_lower_case=false"] + bert_flags(tiny_bert_dir))
  history = [json.loads(l) for l in
             (out / "dev_scores.jsonl").read_text().splitlines()]
  assert [(r["epoch"], r["metric"]) for r in history] == [
      (1.0, "yesno_macro_f1"), (2.0, "yesno_macro_f1")]
  assert all("yesno_accuracy" in r["details"] for r in history)
  keys = [l.split(" = ")[0] for l in
          (out / "eval_results.txt").read_text().splitlines()]
  assert keys == sorted(["yesno_accuracy", "strict_accuracy",
                         "lenient_accuracy", "mrr", "list_precision",
                         "list_recall", "list_f1", "yesno_macro_f1",
                         "yesno_f1_yes", "yesno_f1_no", "global_step"])
  missing = run_tool(["run_qa.py", "--do_eval=true",
                      "--output_dir=" + str(out)] + bert_flags(tiny_bert_dir),
                     expect_ok=False)
  assert missing.returncode == 2 and "need --dev_file" in missing.stderr
