"""biocodes/bioasq_convert.py: official BioASQ JSON to run_qa.py inputs."""

import json

import pytest

from biocodes import bioasq_convert
from finetuning import errors
from tests import bioasq_fixture
from tests.bioasq_fixture import qid
from tests.helpers import run_tool


def _convert(tmp_path, data):
  path = tmp_path / "official.json"
  path.write_text(json.dumps(data))
  out = tmp_path / "out"
  result = run_tool(["biocodes/bioasq_convert.py", "--input=" + str(path),
                     "--output_dir=" + str(out)])
  return out, result


def _qas(path):
  data = json.loads(path.read_text())
  return [(p["context"], qa) for entry in data["data"]
          for p in entry["paragraphs"] for qa in p["qas"]]


def test_every_type_converted(tmp_path):
  out, result = _convert(tmp_path, bioasq_fixture.official_json())
  assert sorted(p.name for p in out.iterdir()) == [
      "conversion_report.json", "test_factoid.json", "test_list.json",
      "test_yesno.json", "train_factoid.json", "train_list.json",
      "train_yesno.json"]
  # Factoid: synonyms pooled, found ignoring case, spelled as written; the
  # second snippet holds no answer ("breast cancer 1" is not in it).
  factoid = _qas(out / "train_factoid.json")
  assert [(qa["id"], qa["answers"]) for _, qa in factoid] == [
      (qid(1) + "_001", [{"text": "brca1", "answer_start": 22}]),
      (qid(1) + "_002", [{"text": "BRCA1", "answer_start": 4}])]
  # List: one pair per item found; RB1 and TP53 in the first snippet.
  listed = _qas(out / "train_list.json")
  assert [(c[:12], qa["id"], qa["answers"][0]["text"])
          for c, qa in listed] == [
              ("TP53 and RB1", qid(3) + "_001", "TP53"),
              ("TP53 and RB1", qid(3) + "_002", "RB1"),
              ("Loss of PTEN", qid(3) + "_003", "PTEN")]
  yesno = _qas(out / "train_yesno.json")
  assert [(qa["id"], qa["answers"]) for _, qa in yesno] == [
      (qid(4) + "_001", [{"text": "yes"}]),
      (qid(4) + "_002", [{"text": "yes"}]),
      (qid(5) + "_001", [{"text": "no"}])]
  # Test files: every snippet, no answers.
  test = _qas(out / "test_factoid.json")
  assert [qa["id"] for _, qa in test] == [qid(1) + "_001", qid(1) + "_002",
                                          qid(1) + "_003", qid(2) + "_001"]
  assert all("answers" not in qa for _, qa in test)
  report = json.loads((out / "conversion_report.json").read_text())
  assert report["factoid"]["not_found"] == [qid(2)]
  assert report["summary_skipped"] == 1
  assert "1 factoid questions have an answer found in no snippet" in (
      result.stdout)


@pytest.mark.parametrize("change,message", [
    ({"type": None}, "question %s: \"type\" is None" % qid(1)),
    ({"exact_answer": "BRCA1", "type": "yesno"}, None),
    ({"exact_answer": [["BRCA1", 3]]},
     "question %s: \"exact_answer\" should be a list" % qid(1)),
    ({"snippets": [{"document": "x"}]},
     "question %s: every snippet needs a \"text\"" % qid(1)),
    ({"body": None}, "question %s: \"body\"" % qid(1)),
])
def test_bad_questions_are_named(tmp_path, change, message):
  data = bioasq_fixture.official_json()
  question = data["questions"][0]
  for key, value in change.items():
    if value is None:
      question.pop(key)
    else:
      question[key] = value
  path = tmp_path / "official.json"
  path.write_text(json.dumps(data))
  if message is None:  # a valid change
    bioasq_convert.load_official(str(path))
    return
  with pytest.raises(errors.InputError) as e:
    bioasq_convert.load_official(str(path))
  assert str(e.value).startswith(str(path) + ": ")
  assert message in str(e.value)
  result = run_tool(["biocodes/bioasq_convert.py", "--input=" + str(path),
                     "--output_dir=" + str(tmp_path / "out")],
                    expect_ok=False)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert not (tmp_path / "out").exists()


def test_questions_without_snippets_are_reported(tmp_path):
  data = bioasq_fixture.official_json()
  yesno = next(q for q in data["questions"] if q["type"] == "yesno")
  yesno["snippets"] = []
  out, result = _convert(tmp_path, data)
  report = json.loads((out / "conversion_report.json").read_text())
  assert report["yesno"]["no_snippets"] == [yesno["id"]]
  assert report["factoid"]["no_snippets"] == []
  assert ("1 yesno questions have no snippet, so no pair for training or "
          "prediction, and were left out: %s" % yesno["id"]) in result.stdout
