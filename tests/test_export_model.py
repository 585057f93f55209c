"""export_model.py: Hugging Face directory and SavedModel of a fine-tuned run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import export_model
import tokenization
from tests.conftest import DATA
from tests.helpers import run_tool
from tests.test_re import _gad_slice, _re_flags


@pytest.fixture(scope="module")
def re_run(tiny_bert_dir, tmp_path_factory):
  base = tmp_path_factory.mktemp("export")
  data = str(base / "gad")
  rows = _gad_slice(os.path.join(DATA, "RE", "GAD", "1"), data, 32, 6)
  out = base / "out"
  run_tool(["run_re.py", "--task_name=gad", "--do_train=true",
            "--do_predict=true", "--data_dir=" + data,
            "--output_dir=" + str(out)] + _re_flags(tiny_bert_dir))
  export = base / "export"
  run_tool(["export_model.py", "--output_dir=" + str(out),
            "--vocab_file=" + tiny_bert_dir["vocab"],
            "--export_dir=" + str(export)])
  return {"out": out, "export": export, "rows": rows,
          "bert": tiny_bert_dir}


def test_safetensors_hold_the_checkpoint_under_hf_names(re_run):
  from safetensors.numpy import load_file
  tensors = load_file(str(re_run["export"] / "huggingface" /
                          "model.safetensors"))
  reader = tf.train.load_checkpoint(str(re_run["out"]))
  model_vars = [n for n in reader.get_variable_to_shape_map()
                if (n.startswith("bert/") or n.startswith("output_")) and
                "adam" not in n]
  assert len(tensors) == len(model_vars) == 2 * 16 + 5 + 2 + 2
  kernel = reader.get_tensor("bert/encoder/layer_1/attention/self/query/"
                             "kernel")
  np.testing.assert_array_equal(
      tensors["bert.encoder.layer.1.attention.self.query.weight"], kernel.T)
  np.testing.assert_array_equal(
      tensors["bert.embeddings.LayerNorm.weight"],
      reader.get_tensor("bert/embeddings/LayerNorm/gamma"))
  np.testing.assert_array_equal(tensors["classifier.weight"],
                                reader.get_tensor("output_weights"))
  np.testing.assert_array_equal(tensors["bert.pooler.dense.bias"],
                                reader.get_tensor("bert/pooler/dense/bias"))


def test_config_has_what_transformers_reads(re_run):
  hf = re_run["export"] / "huggingface"
  config = json.loads((hf / "config.json").read_text())
  assert config["architectures"] == ["BertForSequenceClassification"]
  assert config["model_type"] == "bert"
  assert config["id2label"] == {"0": "0", "1": "1"}
  assert config["label2id"] == {"0": 0, "1": 1}
  assert config["hidden_act"] == "gelu_new"  # BERT's tanh approximation
  for key in ("vocab_size", "hidden_size", "num_hidden_layers",
              "num_attention_heads", "intermediate_size",
              "max_position_embeddings", "type_vocab_size",
              "layer_norm_eps"):
    assert key in config, key
  tokenizer = json.loads((hf / "tokenizer_config.json").read_text())
  assert tokenizer["do_lower_case"] is False
  assert (hf / "vocab.txt").read_text() == open(
      re_run["bert"]["vocab"]).read()


def test_saved_model_gives_the_runners_probabilities(re_run):
  tok = tokenization.FullTokenizer(re_run["bert"]["vocab"], False)
  expected = [[float(x) for x in line.split("\t")] for line in
              (re_run["out"] / "test_results.tsv").read_text().splitlines()]
  for row, want in list(zip(re_run["rows"], expected))[:3]:
    sentence = row.split("\t")[1]
    tokens = ["[CLS]"] + tok.tokenize(sentence)[:46] + ["[SEP]"]
    ids = tok.convert_tokens_to_ids(tokens)
    exprs = "input_ids=[%s];input_mask=[%s];segment_ids=[%s]" % (
        ids, [1] * len(ids), [0] * len(ids))
    outdir = re_run["export"] / "cli_out"
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    subprocess.run([cli, "run", "--dir", str(re_run["export"] /
                                             "saved_model"),
                    "--tag_set", "serve", "--signature_def",
                    "serving_default", "--input_exprs", exprs,
                    "--outdir", str(outdir), "--overwrite"],
                   check=True, capture_output=True)
    got = np.load(str(outdir / "probabilities.npy"))
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-6)


def test_names_of_every_head():
  assert export_model.hf_name("cls/squad/output_weights") == (
      "qa_outputs.weight", False)
  assert export_model.hf_name("bert/encoder/layer_0/output/dense/kernel") == (
      "bert.encoder.layer.0.output.dense.weight", True)
  assert export_model.hf_name("bert/embeddings/word_embeddings") == (
      "bert.embeddings.word_embeddings.weight", False)
  assert export_model.hf_name("output_weights/adam_m") is None
  assert export_model.hf_name("global_step") is None
  # Runs recorded before the head was: by their task.
  from finetuning import heads
  assert [heads.of_run({"task": t}).name for t in (
      "ner", "gad", "qa", "qa_yesno")] == [
          "token_classifier", "sequence_classifier", "span",
          "sequence_classifier"]
  assert heads.of_run({"task": "ner", "head": "span"}).name == "span"


def test_bad_export_requests(re_run, tmp_path):
  result = run_tool(["export_model.py", "--output_dir=" + str(tmp_path),
                     "--vocab_file=" + re_run["bert"]["vocab"],
                     "--export_dir=" + str(tmp_path / "x")], expect_ok=False)
  assert result.returncode == 2 and "holds no run_manifest.json" in (
      result.stderr)
  other = tmp_path / "vocab.txt"
  other.write_text("[PAD]\n[UNK]\n")
  result = run_tool(["export_model.py", "--output_dir=" + str(re_run["out"]),
                     "--vocab_file=" + str(other),
                     "--export_dir=" + str(tmp_path / "x")], expect_ok=False)
  assert result.returncode == 2 and "is not the vocabulary" in result.stderr


def test_ner_labels_are_exported_for_transformers_pipelines():
  """X, [CLS], [SEP] and [PAD] become O and untyped tags get a type, so that
  pipeline("token-classification", aggregation_strategy="first") labels
  each word by its first piece as run_ner.py does; the run's own labels
  stay in biobert_labels."""
  labels = ["[PAD]", "B", "I", "O", "X", "[CLS]", "[SEP]"]
  manifest = {"task": "ner", "head": "token_classifier", "labels": labels,
              "bert_config": {"vocab_size": 10, "hidden_size": 8,
                              "num_hidden_layers": 1,
                              "num_attention_heads": 1,
                              "intermediate_size": 8,
                              "hidden_dropout_prob": 0.1,
                              "attention_probs_dropout_prob": 0.1,
                              "max_position_embeddings": 16,
                              "type_vocab_size": 2,
                              "initializer_range": 0.02}}
  config = export_model.hf_config(manifest, "Disease")
  assert config["id2label"] == {"0": "O", "1": "B-Disease", "2": "I-Disease",
                                "3": "O", "4": "O", "5": "O", "6": "O"}
  assert config["label2id"] == {"O": 0, "B-Disease": 1, "I-Disease": 2}
  assert config["biobert_labels"] == labels
  typed = ["[PAD]", "B-Chemical", "I-Chemical", "O", "X", "[CLS]", "[SEP]"]
  assert export_model.pipeline_labels(typed, "Disease") == [
      "O", "B-Chemical", "I-Chemical", "O", "O", "O", "O"]
