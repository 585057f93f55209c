"""finetuning.run_dir: the output-dir guard."""

import json
import os

import pytest

import modeling
from finetuning import errors
from finetuning import run_dir


def _run(task="ner", labels=("B", "I", "O"), seq=128):
  config = modeling.BertConfig(vocab_size=10, hidden_size=8)
  return run_dir.describe_run(task, labels, config, seq, False)


def test_output_dir_guard_records_and_accepts_same_run(tmp_path):
  out = str(tmp_path / "out")
  assert run_dir.recorded_labels(out) is None
  assert run_dir.prepare_output_dir(out, _run(), training=True) is None
  with open(os.path.join(out, "run_manifest.json")) as f:
    recorded = json.load(f)
  assert recorded["task"] == "ner" and recorded["labels"] == ["B", "I", "O"]
  assert recorded["max_seq_length"] == 128
  assert recorded["bert_config"]["hidden_size"] == 8
  assert run_dir.recorded_labels(out) == ["B", "I", "O"]
  # Same run again (e.g. after a crash): accepted.
  run_dir.prepare_output_dir(out, _run(), training=True)


def test_output_dir_guard_refuses_different_run(tmp_path):
  out = str(tmp_path / "out")
  run_dir.prepare_output_dir(out, _run(), training=True)
  with pytest.raises(errors.UserError) as e:
    run_dir.prepare_output_dir(out, _run(task="gad", labels=("0", "1"), seq=64),
                               training=True)
  msg = str(e.value)
  assert "holds a different run" in msg
  assert "task: recorded 'ner', now 'gad'" in msg
  assert "max_seq_length: recorded 128, now 64" in msg
  assert "Use a new --output_dir" in msg
  # Prediction with a different setup is refused too.
  with pytest.raises(errors.UserError):
    run_dir.prepare_output_dir(out, _run(seq=64), training=False)


def test_output_dir_guard_refuses_unknown_checkpoint(tmp_path):
  out = tmp_path / "old_biobert_run"
  out.mkdir()
  (out / "checkpoint").write_text(
      'model_checkpoint_path: "model.ckpt-1000"\n')
  (out / "model.ckpt-1000.index").write_text("")
  with pytest.raises(errors.UserError, match="no run_manifest.json"):
    run_dir.prepare_output_dir(str(out), _run(), training=True)
