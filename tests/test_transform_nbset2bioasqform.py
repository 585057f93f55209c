"""biocodes/transform_nbset2bioasqform.py: n-best lists to the BioASQ form."""

import json

from biocodes import transform_nbset2bioasqform as transform
from tests.helpers import run_tool


def _cand(text, p):
  return {"text": text, "probability": p, "start_logit": 0.0,
          "end_logit": 0.0}


A = "%024d" % 1
B = "%024d" % 2
NBEST = {
    A + "_001": [_cand("BRCA1", 0.5), _cand("brca1 gene", 0.2),
                 _cand("", 0.1), _cand("x" * 101, 0.15), _cand("TP53", 0.05)],
    A + "_002": [_cand("brca1", 0.3), _cand("ATM", 0.25), _cand("CHEK2", 0.2),
                 _cand("PALB2", 0.2), _cand("RAD51", 0.05)],
    B + "_001": [_cand("b", 0.4), _cand("a", 0.4), _cand("y" * 100, 0.2)],
}


def test_transform_hand_written_nbest(tmp_path):
  path = tmp_path / "nbest_predictions.json"
  path.write_text(json.dumps(NBEST))
  run_tool(["biocodes/transform_nbset2bioasqform.py",
            "--nbest_path=" + str(path), "--output_path=" + str(tmp_path)])
  answers = json.loads((tmp_path / "BioASQform_BioASQ-answer.json")
                       .read_text())
  # A: "BRCA1" and "brca1" merge (0.8, first spelling kept); "" and the
  # 101-character text are dropped; the three 0.2 ties keep their order;
  # the top-5 cut drops TP53 and RAD51. B: the tie keeps "b" first and a
  # text of exactly 100 characters stays.
  assert answers == {"questions": [
      {"type": "factoid", "id": A, "ideal_answer": "Dummy",
       "exact_answer": [["BRCA1"], ["ATM"], ["brca1 gene"], ["CHEK2"],
                        ["PALB2"]]},
      {"type": "factoid", "id": B, "ideal_answer": "Dummy",
       "exact_answer": [["b"], ["a"], ["y" * 100]]}]}
  with_prob = json.loads((tmp_path / "WithProb_BioASQform_BioASQ-answer.json")
                         .read_text())
  assert with_prob["questions"][0]["exact_answer"] == [
      ["BRCA1", 0.8], ["ATM", 0.25], ["brca1 gene", 0.2], ["CHEK2", 0.2],
      ["PALB2", 0.2], ["TP53", 0.05], ["RAD51", 0.05]]


def test_transform_top_20_and_file_output_path(tmp_path):
  nbest = {A + "_001": [_cand("t%02d" % i, 1.0 / (i + 2)) for i in range(25)]}
  path = tmp_path / "nbest.json"
  path.write_text(json.dumps(nbest))
  out = tmp_path / "answers.json"
  transform.convert_file(str(path), str(out))
  answers = json.loads(out.read_text())
  assert [a[0] for a in answers["questions"][0]["exact_answer"]] == [
      "t00", "t01", "t02", "t03", "t04"]
  with_prob = json.loads((tmp_path / "answers.json_WithProb").read_text())
  assert len(with_prob["questions"][0]["exact_answer"]) == 20


def test_transform_rejects_bad_qas_id(tmp_path):
  path = tmp_path / "nbest.json"
  path.write_text(json.dumps({"56c1f01e_1": [_cand("x", 1.0)]}))
  result = run_tool(["biocodes/transform_nbset2bioasqform.py",
                     "--nbest_path=" + str(path),
                     "--output_path=" + str(tmp_path)], expect_ok=False)
  assert result.returncode == 2
  assert "qas id '56c1f01e_1' is not of the form" in result.stderr
  assert not (tmp_path / "BioASQform_BioASQ-answer.json").exists()


def test_list_answers_by_share_and_at_most_n():
  # Question A has 2 snippets: shares are summed probability / 2.
  answers, with_prob = transform.transform(NBEST, "list", list_threshold=0.1,
                                           list_max=3)
  a, b = answers["questions"]
  assert a["type"] == "list" and a["id"] == A
  # BRCA1 0.8/2=0.4, ATM 0.125, brca1 gene 0.1, CHEK2 0.1, PALB2 0.1:
  # five reach 0.1, three are kept.
  assert a["exact_answer"] == [["BRCA1"], ["ATM"], ["brca1 gene"]]
  # B (1 snippet): "b" and "a" at 0.4, the 100-character text at 0.2.
  assert b["exact_answer"] == [["b"], ["a"], ["y" * 100]]
  assert with_prob["questions"][0]["exact_answer"][0] == ["BRCA1", 0.8]
  high, _ = transform.transform(NBEST, "list", list_threshold=0.9)
  # Nothing reaches 0.9: the best candidate alone.
  assert [q["exact_answer"] for q in high["questions"]] == [[["BRCA1"]],
                                                           [["b"]]]


def test_list_cli(tmp_path):
  path = tmp_path / "nbest_predictions.json"
  path.write_text(json.dumps(NBEST))
  run_tool(["biocodes/transform_nbset2bioasqform.py",
            "--nbest_path=" + str(path), "--output_path=" + str(tmp_path),
            "--question_type=list", "--list_threshold=0.3"])
  answers = json.loads((tmp_path / "BioASQform_BioASQ-answer.json")
                       .read_text())
  assert [q["exact_answer"] for q in answers["questions"]] == [
      [["BRCA1"]], [["b"], ["a"]]]
  bad = run_tool(["biocodes/transform_nbset2bioasqform.py",
                  "--nbest_path=" + str(path), "--output_path=" + str(tmp_path),
                  "--question_type=list", "--list_threshold=3"],
                 expect_ok=False)
  assert bad.returncode == 2 and "--list_threshold" in bad.stderr
