"""Every benchmark script, run at a tiny size, so that none rots unseen.

They read the runners' console lines (bench/common.py parses them); a
change of wording, a flag or a file name fails here. The peer side
(transformers, in its own venv from bench/requirements-peer.txt) runs where
that venv is, and is skipped, saying so, where it is not.
"""

import importlib.util
import json
import os

import pytest

from tests.conftest import ROOT
from tests.helpers import bert_flags, run_tool, slice_sentences
from tests.conftest import DATA

PEER_PYTHON = os.path.join(ROOT, ".venv-peer", "bin", "python")
NCBI = os.path.join(DATA, "NER", "NCBI-disease")


def test_speed(tmp_path):
  result = run_tool(["bench/speed.py", "--sizes=tiny",
                     "--modes=padded,bucketed", "--train_sentences=16",
                     "--predict_sentences=8", "--steps=4", "--batch=4",
                     "--work=%s" % tmp_path,
                     "--results=%s" % (tmp_path / "speed.json")])
  rows = json.loads((tmp_path / "speed.json").read_text())
  assert [(r["size"], r["mode"]) for r in rows] == [("tiny", "padded"),
                                                    ("tiny", "bucketed")]
  for r in rows:
    assert r["train_examples_per_s"] > 0 and r[
        "predict_sentences_per_s"] > 0 and r["peak_rss_mb"] > 0
  assert "tiny   bucketed" in result.stdout


def test_ner_speed(tmp_path):
  result = run_tool(["bench/ner_speed.py", "--hidden=32", "--layers=2",
                     "--train=16", "--predict=8", "--work=%s" % tmp_path])
  results = json.loads(result.stdout[result.stdout.index("{"):])
  assert results["train_examples_per_s"] > 0
  assert results["predict_s"] > 0
  assert results["predict_s_per_1000_sentences"] > 0


def test_peer_ours_side(tmp_path):
  args = ["bench/peer.py", "--sizes=tiny", "--precisions=fp32",
          "--repeats=1", "--base_train_sentences=64",
          "--base_test_sentences=8", "--work=%s" % tmp_path]
  result = run_tool(args)
  assert result.stdout.startswith("peer side skipped: no --peer_python")
  assert "| tiny | fp32 | train_examples_per_s |" in result.stdout
  assert json.loads((tmp_path / "peer_results.json").read_text())[0][
      "ours"]["predict_sentences_per_s"] > 0


@pytest.fixture(scope="module")
def ner_run(tiny_bert_dir, tmp_path_factory):
  root = tmp_path_factory.mktemp("bench_ner")
  data = root / "data"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(data / "train_dev.tsv"), 16)
  out = root / "run"
  run_tool(["run_ner.py", "--do_train=true", "--do_predict=false",
            "--data_dir=%s" % data,
            "--output_dir=%s" % out, "--max_seq_length=32",
            "--train_batch_size=8", "--seed=1"] + bert_flags(tiny_bert_dir))
  return str(out)


def test_tag_speed_ours_side(tiny_bert_dir, ner_run, tmp_path):
  """Also with a normalizer: its lexicon is the corpus fixture's names."""
  from tests import norm_fixture
  data = norm_fixture.write_corpus(str(tmp_path / "norm_data"), 4, 1, 1)
  norm = str(tmp_path / "norm")
  run_tool(["run_norm.py", "--do_train", "--data_dir=" + data,
            "--lexicon=" + norm_fixture.write_lexicon(
                str(tmp_path / "lexicon.tsv")),
            "--output_dir=" + norm, "--topk=4", "--do_lower_case=false",
            "--seed=1"] + bert_flags(tiny_bert_dir))
  result = run_tool(["bench/tag_speed.py", "--run_dir=" + ner_run,
                     "--vocab_file=" + tiny_bert_dir["vocab"],
                     "--abstracts=3", "--repeats=1", "--precisions=fp32",
                     "--normalizers=disease=" + norm,
                     "--work=%s" % tmp_path])
  assert result.stdout.startswith("peer side skipped: no --peer_python")
  assert "\nwork: 3 abstracts, " in result.stdout
  assert "| fp32 | ours |" in result.stdout
  assert "| fp32 | ours+norm |" in result.stdout
  assert "| precision | abstracts/s with IDs / without |" in result.stdout


def test_serve_speed(tiny_bert_dir, ner_run, tmp_path):
  result = run_tool(["bench/serve_speed.py", "--models=disease=" + ner_run,
                     "--vocab_file=" + tiny_bert_dir["vocab"],
                     "--abstracts=4", "--concurrency=1,2", "--idle=2",
                     "--soak=4", "--soak_every=2", "--ceilings",
                     "--work=%s" % tmp_path])
  assert result.stdout.startswith("work: 4 abstracts; tag_corpus.py ")
  assert "| 2 | " in result.stdout
  assert "soak: 4 requests, 0 errors" in result.stdout
  assert "resident MB after each 2: " in result.stdout
  assert "MB over the second half" in result.stdout
  assert "tag_corpus.py 2 abstracts at a time: " in result.stdout
  assert ("| of its rate N at a time | p50 (s) | p99 (s) | errors | "
          "abstracts a batch |") in result.stdout


def test_same_outputs(tmp_path):
  result = run_tool(["bench/same_outputs.py", "--before=HEAD",
                     "--only=re"], expect_ok=False)
  assert "re            test_results.tsv" in result.stdout, result.stdout
  assert result.stdout.rstrip().endswith("files differ")


def test_verify_export_with_the_peer():
  if not os.path.exists(PEER_PYTHON):
    pytest.skip("bench/verify_export.py compares with transformers in the "
                "peer's venv, absent here (%s)" % PEER_PYTHON)
  result = run_tool(["bench/verify_export.py",
                     "--peer_python=" + PEER_PYTHON])
  report = json.loads(result.stdout[result.stdout.rindex("{\n"):])
  assert report["sentences"] == 50 and report["max_abs_logit_diff"] < 1e-4


def test_verify_hf_conversion_with_the_peer():
  if importlib.util.find_spec("transformers") is None:
    pytest.skip("bench/verify_hf_conversion.py needs transformers and torch "
                "beside TensorFlow, absent here (never in CI's environment)")
  run_tool(["bench/verify_hf_conversion.py"])
