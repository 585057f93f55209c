"""biocodes/bioasq_eval.py: the official evaluator's numbers without Java."""

import os

import pytest

from biocodes import bioasq_eval
from tests.conftest import REFERENCE
from tests.helpers import run_tool

REF = os.path.join(REFERENCE, "bioasq")


@pytest.mark.parametrize("case", ["a", "b", "c", "d"])
def test_bioasq_eval_matches_official_jar(case):
  with open(os.path.join(REF, "expected_%s.txt" % case)) as f:
    expected = f.read()
  result = run_tool(["biocodes/bioasq_eval.py",
                     os.path.join(REF, "golden.json"),
                     os.path.join(REF, "system_%s.json" % case)])
  assert result.stdout.splitlines()[0] == expected
  # The jar's own options are accepted too.
  again = run_tool(["biocodes/bioasq_eval.py", "-phaseB", "-e", "5",
                    os.path.join(REF, "golden.json"),
                    os.path.join(REF, "system_%s.json" % case)])
  assert again.stdout == result.stdout


def test_bioasq_eval_summary_names_missing_question():
  result = bioasq_eval.evaluate_files(os.path.join(REF, "golden.json"),
                                      os.path.join(REF, "system_a.json"))
  assert result["scored"] == 9
  assert result["missing"] == ["000000000000000000abc008"]
  text = bioasq_eval.summary(result)
  assert text.startswith("SAcc 0.4444  LAcc 0.8889  MRR 0.6019  (9 factoid "
                         "questions scored)\n")
  assert "000000000000000000abc008" in text


def test_bioasq_eval_bad_files_exit_2(tmp_path):
  bad = tmp_path / "system.json"
  bad.write_text('{"questions": [\n{"id": "x",}\n]}')
  result = run_tool(["biocodes/bioasq_eval.py",
                     os.path.join(REF, "golden.json"), str(bad)],
                    expect_ok=False)
  assert result.returncode == 2
  assert "system.json:2: not valid JSON" in result.stderr
  assert "Traceback" not in result.stderr


def test_java_double_format():
  assert bioasq_eval.java_double(0) == "0.0"
  assert bioasq_eval.java_double(1) == "1.0"
  assert bioasq_eval.java_double(0.575) == "0.575"
  assert bioasq_eval.java_double(5.0 / 9) == "0.5555555555555556"
  assert bioasq_eval.java_double(1e-4) == "1.0E-4"


def test_golden_answer_given_as_a_plain_string():
  golden = [{"id": "q1", "type": "factoid", "exact_answer": "BRCA1"},
            {"id": "q2", "type": "factoid", "exact_answer": "TP53"}]
  system = [{"id": "q1", "exact_answer": [["b"], ["brca1"]]},
            {"id": "q2", "exact_answer": [["t"]]}]
  result = bioasq_eval.score_factoid(golden, system)
  # "b" is not "BRCA1" (the string is one answer, not a list of letters).
  assert (result["strict_accuracy"], result["lenient_accuracy"],
          result["mrr"]) == (0.0, 0.5, 0.25)
