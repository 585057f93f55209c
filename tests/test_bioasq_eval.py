"""biocodes/bioasq_eval.py: the official evaluator's numbers without Java."""

import json
import os

import pytest

from biocodes import bioasq_eval
from finetuning import errors
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
  assert result["scored"] == {"yesno": 0, "factoid": 9, "list": 0}
  assert result["missing"] == ["000000000000000000abc008"]
  text = bioasq_eval.summary(result)
  assert text.startswith("factoid: SAcc 0.4444  LAcc 0.8889  MRR 0.6019  "
                         "(9 questions)\n")
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
  result = bioasq_eval.score(golden, system)
  # "b" is not "BRCA1" (the string is one answer, not a list of letters).
  assert (result["strict_accuracy"], result["lenient_accuracy"],
          result["mrr"]) == (0.0, 0.5, 0.25)


ALL_TYPES = os.path.join(REF, "all_types")


@pytest.mark.parametrize("case", ["perfect", "mixed", "case", "missing",
                                  "allyes", "multi"])
def test_all_ten_numbers_match_the_jar(case):
  with open(os.path.join(ALL_TYPES, "expected_%s.txt" % case)) as f:
    expected = f.read()
  result = run_tool(["biocodes/bioasq_eval.py",
                     os.path.join(ALL_TYPES, "golden.json"),
                     os.path.join(ALL_TYPES, "system_%s.json" % case)])
  assert result.stdout.splitlines()[0] == expected


def test_only_the_first_string_of_a_system_entry_counts():
  golden = [{"id": "q", "type": "factoid", "exact_answer": [["right"]]},
            {"id": "l", "type": "list",
             "exact_answer": [["a", "alpha"], ["b"]]}]
  system = [{"id": "q", "exact_answer": [["wrong", "right"]]},
            {"id": "l", "exact_answer": [["x", "a"], ["ALPHA"], ["alpha"],
                                         ["b"]]}]
  result = bioasq_eval.score(golden, system)
  assert (result["strict_accuracy"], result["lenient_accuracy"],
          result["mrr"]) == (0.0, 0.0, 0.0)
  # "ALPHA" uses up the golden entry ["a", "alpha"]; the second "alpha" is
  # then wrong; "x" is wrong: 2 right of 4, both golden entries found.
  assert (result["list_precision"], result["list_recall"]) == (0.5, 1.0)
  assert result["list_f1"] == pytest.approx(2 / 3)


def test_yes_no_reading_and_f1():
  golden = [{"id": str(i), "type": "yesno", "exact_answer": a}
            for i, a in enumerate(["yes", "yes", "no", "no", "no"])]
  system = [{"id": "0", "exact_answer": "Yes, it is"},
            {"id": "1", "exact_answer": "NO"},
            {"id": "2", "exact_answer": "no"},
            {"id": "3", "exact_answer": "maybe"},
            {"id": "4", "exact_answer": "No"}]
  result = bioasq_eval.score(golden, system)
  assert result["yesno_accuracy"] == 0.6
  # F1 of a label: 2 TP / (2 TP + errors): yes 2/(2+2), no 4/(4+2).
  assert result["yesno_f1_yes"] == 0.5
  assert result["yesno_f1_no"] == 4 / 6
  assert result["yesno_macro_f1"] == (0.5 + 4 / 6) / 2


@pytest.mark.parametrize("question,message", [
    ({"id": "q1", "exact_answer": [["a"]]}, "question q1: \"type\" is None"),
    ({"id": "q2", "type": "yesno", "exact_answer": ["yes"]},
     "question q2: a yes/no \"exact_answer\" is a string"),
    ({"id": "q3", "type": "list", "exact_answer": [["a", 5]]},
     "question q3: \"exact_answer\" should be a list of answers"),
    ({"id": "q4", "type": "factoid"},
     "question q4: a factoid question without \"exact_answer\""),
])
def test_malformed_golden_questions_are_named(tmp_path, question, message):
  path = tmp_path / "golden.json"
  path.write_text(json.dumps({"questions": [question]}))
  with pytest.raises(errors.InputError) as e:
    bioasq_eval.load_questions(str(path), "golden")
  assert str(e.value).startswith(str(path) + ": ")
  assert message in str(e.value)
