"""Length bucketing (the default), packing, mixed precision and XLA: same
answers as the original's padded batches, less padding."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from finetuning import devices
from tests import bioasq_fixture
from tests.conftest import DATA
from tests.helpers import bert_flags, run_tool, slice_sentences
from tests.test_re import _gad_slice

NCBI = os.path.join(DATA, "NER", "NCBI-disease")


@pytest.fixture(scope="module")
def trained(tiny_bert_dir, tmp_path_factory):
  """A tiny NER, RE and QA model, trained padded, shared by the tests."""
  base = tmp_path_factory.mktemp("speed")
  ner_data = base / "ner"
  ner_data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(ner_data / "train_dev.tsv"), 48)
  slice_sentences(os.path.join(NCBI, "test.tsv"), str(ner_data / "test.tsv"),
                  40)
  ner_flags = ["--data_dir=" + str(ner_data), "--output_dir=" + str(
      base / "ner_out"), "--max_seq_length=48", "--seed=1"] + bert_flags(
          tiny_bert_dir)
  run_tool(["run_ner.py", "--do_train=true", "--do_predict=false",
            "--num_train_epochs=1", "--train_batch_size=16",
            "--learning_rate=1e-3", "--bucket_by_length=false"] + ner_flags)
  re_data = str(base / "gad")
  _gad_slice(os.path.join(DATA, "RE", "GAD", "1"), re_data, n_train=32,
             n_test=40)
  re_flags = ["--task_name=gad", "--data_dir=" + re_data,
              "--output_dir=" + str(base / "re_out"), "--max_seq_length=64",
              "--do_lower_case=false"] + bert_flags(tiny_bert_dir)
  run_tool(["run_re.py", "--do_train=true", "--train_batch_size=16",
            "--learning_rate=1e-3", "--num_train_epochs=1",
            "--bucket_by_length=false"] + re_flags)
  return {"ner": ner_flags, "ner_out": base / "ner_out", "re": re_flags,
          "re_out": base / "re_out", "base": base}


def _predict_ner(trained, *extra):
  run_tool(["run_ner.py", "--do_train=false", "--do_predict=true"] +
           trained["ner"] + list(extra))
  out = trained["ner_out"]
  return ((out / "label_test.txt").read_text(),
          json.loads((out / "ner_scores.json").read_text()))


def _predict_re(trained, *extra):
  run_tool(["run_re.py", "--do_predict=true"] + trained["re"] + list(extra))
  return np.loadtxt(str(trained["re_out"] / "test_results.tsv"))


def test_ner_bucketed_and_packed_predictions_equal_padded(trained):
  padded = _predict_ner(trained, "--bucket_by_length=false")
  default = _predict_ner(trained)
  bucketed = _predict_ner(trained, "--bucket_by_length")
  packed = _predict_ner(trained, "--pack_sequences")
  for other in (default, bucketed, packed):
    assert other[0] == padded[0]
    assert other[1]["entity_level"] == padded[1]["entity_level"]
    assert other[1]["token_level"]["eval_f"] == padded[1]["token_level"][
        "eval_f"]
  # The mean loss per sentence: padded counts the padding positions'
  # loss too (label [PAD]), packed only the sentence's own positions.
  assert packed[1]["token_level"]["loss"] < padded[1]["token_level"]["loss"]


def test_ner_trains_packed(trained, tiny_bert_dir):
  out = trained["base"] / "ner_packed"
  flags = [f for f in trained["ner"] if not f.startswith("--output_dir")]
  result = run_tool(["run_ner.py", "--do_train=true", "--do_predict=true",
                     "--num_train_epochs=1", "--train_batch_size=16",
                     "--learning_rate=1e-3", "--pack_sequences",
                     "--output_dir=" + str(out)] + flags)
  # Every step trains on 16 windows, packed into rows.
  steps = int(re.search(r"Training (\d+) steps", result.stdout).group(1))
  assert "Trained %d steps (%d examples)" % (steps, 16 * steps) in (
      result.stdout)
  labels = (out / "label_test.txt").read_text().splitlines()
  tokens = (out / "token_test.txt").read_text().splitlines()
  assert labels[0] == "[CLS]" and len(labels) == len(tokens)
  scores = json.loads((out / "ner_scores.json").read_text())
  assert scores["windows"] == labels.count("[CLS]") >= 40


def test_packing_is_refused_for_sequence_classification(trained):
  result = run_tool(["run_re.py", "--do_predict=true", "--pack_sequences"] +
                    trained["re"], expect_ok=False)
  assert result.returncode == 2
  assert "--pack_sequences=True: expected false for this task" in (
      result.stderr)


def test_re_bucketed_bf16_and_xla_predictions(trained):
  padded = _predict_re(trained, "--bucket_by_length=false")
  bucketed = _predict_re(trained, "--bucket_by_length")
  np.testing.assert_allclose(bucketed, padded, atol=1e-6)
  np.testing.assert_allclose(_predict_re(trained), padded, atol=1e-6)
  xla = _predict_re(trained, "--use_xla", "--bucket_by_length=false")
  np.testing.assert_allclose(xla, padded, atol=1e-5)
  bf16 = _predict_re(trained, "--use_fp16", "--bucket_by_length=false")
  diff = np.abs(bf16 - padded).max()
  if devices.cpu_supports_bf16():
    # bfloat16 ran (its rounding shows) and stayed close.
    assert 0 < diff < 0.05
  else:
    assert diff == 0


def test_qa_bucketed_predictions_equal_padded(tiny_bert_dir, tmp_path):
  paths = bioasq_fixture.write(tmp_path)
  flags = ["--max_seq_length=64", "--max_query_length=16", "--doc_stride=16",
           "--do_lower_case=False", "--train_file=" + paths["train.json"],
           "--predict_file=" + paths["test.json"],
           "--output_dir=" + str(tmp_path / "out")] + bert_flags(
               tiny_bert_dir)
  run_tool(["run_qa.py", "--do_train=True", "--do_predict=True",
            "--train_batch_size=4", "--num_train_epochs=1",
            "--bucket_by_length=false"] + flags)
  padded = json.loads((tmp_path / "out" / "nbest_predictions.json")
                      .read_text())
  run_tool(["run_qa.py", "--do_train=False", "--do_predict=True",
            "--bucket_by_length"] + flags)
  bucketed = json.loads((tmp_path / "out" / "nbest_predictions.json")
                        .read_text())
  assert list(bucketed) == list(padded)
  for qas_id in padded:
    assert [e["text"] for e in bucketed[qas_id]] == [
        e["text"] for e in padded[qas_id]]
    np.testing.assert_allclose(
        [e["probability"] for e in bucketed[qas_id]],
        [e["probability"] for e in padded[qas_id]], atol=1e-5)


def test_training_with_bucketing_bf16_and_xla(trained, tiny_bert_dir):
  out = trained["base"] / "re_fast"
  flags = [f for f in trained["re"] if not f.startswith("--output_dir")]
  result = run_tool(["run_re.py", "--do_train=true", "--train_batch_size=8",
                     "--num_train_epochs=0.5", "--bucket_by_length",
                     "--use_fp16", "--use_xla", "--output_dir=" + str(out)] +
                    flags)
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-2")
  assert "step 2/2 (100.0%)" in result.stdout
  reader = tf.train.load_checkpoint(str(out))
  assert np.isfinite(reader.get_tensor("output_weights")).all()
  # Variables stay float32 under the mixed precision rewrite.
  assert reader.get_tensor("bert/pooler/dense/kernel").dtype == np.float32
