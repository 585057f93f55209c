"""biocodes/conlleval.pl and conlleval.py against the 2004 conlleval output."""

import os
import subprocess
import sys

import pytest

from biocodes import conlleval
from tests.conftest import REFERENCE, ROOT

REF = os.path.join(REFERENCE, "conlleval")
PL = os.path.join(ROOT, "biocodes", "conlleval.pl")
PY = os.path.join(ROOT, "biocodes", "conlleval.py")

CASES = [("case1_ncbi_misc.txt", [], "expected_case1.txt"),
         ("case2_typed.txt", [], "expected_case2.txt"),
         ("case3_raw.txt", ["-r"], "expected_case3_r.txt")]


def _run(script, args, stdin_bytes):
  cmd = (["perl", script] if script.endswith(".pl") else
         [sys.executable, script]) + args
  return subprocess.run(cmd, input=stdin_bytes, capture_output=True)


@pytest.mark.parametrize("script", [PL, PY])
@pytest.mark.parametrize("case,args,expected", CASES)
def test_reference_outputs_byte_identical(script, case, args, expected):
  with open(os.path.join(REF, case), "rb") as f:
    data = f.read()
  with open(os.path.join(REF, expected), "rb") as f:
    want = f.read()
  got = _run(script, args, data)
  assert got.returncode == 0, got.stderr
  assert got.stdout == want


SMALL = ("Aspirin B-Chemical B-Chemical\n"
         "induced O O\n"
         "acute B-Disease B-Disease\n"
         "renal I-Disease O\n"
         "failure I-Disease B-Disease\n"
         "\n"
         "in O O\n"
         "BRCA1 B-Gene B-Gene\n"
         "carriers O I-Gene\n")


@pytest.mark.parametrize("script", [PL, PY])
def test_hand_counted_small_case(script):
  # Gold chunks: Aspirin, acute renal failure, BRCA1 = 3. Predicted: Aspirin,
  # acute, failure, BRCA1 carriers = 4. Correct: Aspirin only = 1.
  got = _run(script, [], SMALL.encode()).stdout.decode()
  assert got == (
      "processed 8 tokens with 3 phrases; found: 4 phrases; correct: 1.\n"
      "accuracy:  62.50%; precision:  25.00%; recall:  33.33%; FB1:  28.57\n"
      "         Chemical: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
      "          Disease: precision:   0.00%; recall:   0.00%; FB1:   0.00  2\n"
      "             Gene: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n")


@pytest.mark.parametrize("script", [PL, PY])
def test_delimiter_and_latex(script):
  data = SMALL.replace(" ", "\t").encode()
  got = _run(script, ["-d", "\t", "-l"], data).stdout.decode()
  assert got == (
      "        & Precision &  Recall  & F$_{\\beta=1} \\\\\\hline\n"
      "Chemical &  100.00\\% & 100.00\\% & 100.00 \\\\\n"
      "Disease &    0.00\\% &   0.00\\% &   0.00 \\\\\n"
      "Gene    &    0.00\\% &   0.00\\% &   0.00 \\\\\\hline\n"
      "Overall &   25.00\\% &  33.33\\% &  28.57 \\\\\\hline\n")


@pytest.mark.parametrize("script", [PL, PY])
def test_raw_mode_with_outside_token(script):
  data = b"a NN NN\nb X NN\nc X X\n"
  got = _run(script, ["-r", "-o", "X"], data).stdout.decode()
  assert got.splitlines()[0] == (
      "processed 3 tokens with 1 phrases; found: 2 phrases; correct: 1.")
  assert got.splitlines()[2] == (
      "               NN: precision:  50.00%; recall: 100.00%; FB1:  66.67  2")


@pytest.mark.parametrize("script", [PL, PY])
def test_inconsistent_field_count_exits_1(script):
  got = _run(script, [], b"a O O\nb O\n")
  assert got.returncode == 1
  assert b"unexpected number of features: 2 (3)" in got.stderr


def test_python_counts_api():
  counts = conlleval.evaluate(SMALL.splitlines(True))
  assert (counts.gold, counts.pred, counts.right) == (3, 4, 1)
  prec, rec, f = conlleval.prf(counts.right, counts.pred, counts.gold)
  assert round(f, 2) == 28.57


@pytest.mark.parametrize("script", [PL, PY])
def test_type_zero_is_no_type_as_in_2004(script):
  # The 2004 script turns a type Perl counts as false ("0") into "": B-0
  # and B are the same chunk type, and the "" type is listed per table.
  data = b"a B-0 B\nb I-0 I\nc O O\n"
  got = _run(script, [], data).stdout.decode()
  assert got == (
      "processed 3 tokens with 1 phrases; found: 1 phrases; correct: 1.\n"
      "accuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00\n"
      "                 : precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
      "                 : precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n")
  raw = _run(script, ["-r"], b"a 0 0\nb x O\n").stdout.decode()
  assert raw.splitlines()[2] == ("                 : precision: 100.00%; "
                                 "recall: 100.00%; FB1: 100.00  1")


@pytest.mark.parametrize("script", [PL, PY])
def test_non_ascii_types_padded_by_bytes(script):
  got = _run(script, [], "a B-\u03b2 B-\u03b2\n".encode()).stdout
  # "\u03b2" is two bytes in UTF-8: 15 spaces pad it to 17 bytes.
  assert got.splitlines()[2] == (" " * 15 + "\u03b2: precision: 100.00%; "
                                 "recall: 100.00%; FB1: 100.00  1").encode()


def _random_case(rng):
  tags = ["O", "B", "I", "E", "B-Gene", "I-Gene", "B-0", "I-0", "E-Gene",
          "B-\u03b2", "I-\u03b2", "I-a-b", "[", "]", ".", "0", "X"]
  lines = []
  for _ in range(rng.randint(1, 40)):
    if rng.random() < 0.15:
      lines.append("" if rng.random() < 0.7 else "-X- O O")
    else:
      lines.append("w%d %s %s" % (rng.randint(0, 9), rng.choice(tags),
                                  rng.choice(tags)))
  return ("\n".join(lines) + "\n").encode()


def test_perl_and_python_agree_on_generated_cases():
  import random
  rng = random.Random(2004)
  cases = [(_random_case(rng), args) for _ in range(60)
           for args in ([], ["-r"], ["-l"])]
  for data, args in cases:
    perl = _run(PL, args, data)
    python = _run(PY, args, data)
    assert (perl.returncode, perl.stdout) == (python.returncode,
                                              python.stdout), (data, args)
