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


def test_prediction_needs_a_trained_model(tmp_path):
  out = tmp_path / "never_trained"
  with pytest.raises(errors.UserError, match="holds no trained model"):
    run_dir.check_output_dir(str(out), _run(), training=False)
  assert not out.exists()


def test_vocab_and_initial_checkpoint_are_part_of_the_run(tmp_path):
  vocab_a = tmp_path / "a.txt"
  vocab_a.write_text("[PAD]\nx\n")
  vocab_b = tmp_path / "b.txt"
  vocab_b.write_text("[PAD]\ny\n")
  for name, text in (("one", b"1"), ("two", b"2")):
    (tmp_path / (name + ".index")).write_bytes(text)
  config = modeling.BertConfig(vocab_size=10, hidden_size=8)

  def run(vocab, ckpt):
    return run_dir.describe_run("ner", ["B", "I", "O"], config, 128, False,
                                str(vocab), str(tmp_path / ckpt))

  out = str(tmp_path / "out")
  run_dir.prepare_output_dir(out, run(vocab_a, "one"), training=True)
  with pytest.raises(errors.UserError, match="vocab_sha256: recorded"):
    run_dir.check_output_dir(out, run(vocab_b, "one"), training=True)
  with pytest.raises(errors.UserError, match="init_checkpoint_sha256"):
    run_dir.check_output_dir(out, run(vocab_a, "two"), training=True)
  # Predicting reads the trained model: --init_checkpoint does not matter.
  (tmp_path / "out" / "checkpoint").write_text(
      'model_checkpoint_path: "model.ckpt-5"\n')
  (tmp_path / "out" / "model.ckpt-5.index").write_text("")
  run_dir.check_output_dir(out, run(vocab_a, "two"), training=False)
  # A manifest written before vocabularies were recorded is accepted.
  run_dir.check_output_dir(out, _run(), training=False)


def test_lock_names_the_holder(tmp_path):
  import subprocess
  import sys
  out = str(tmp_path / "out")
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; sys.path.insert(0, %r); "
       "from finetuning import run_dir\n"
       "with run_dir.locked(%r):\n  print('locked', flush=True); "
       "time.sleep(30)" % (os.getcwd(), out)],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline() == "locked\n"
    with pytest.raises(errors.UserError) as e:
      with run_dir.locked(out):
        pass
    assert str(e.value) == (
        "--output_dir %s is in use by another run (pid %d); wait for it to "
        "finish, or use another --output_dir" % (out, holder.pid))
  finally:
    holder.kill()
    holder.wait()
  with run_dir.locked(out):  # free again once the holder is gone
    pass


class _Config(object):
  """The RunConfig fields describe_training reads."""

  def __init__(self, **changes):
    for key in run_dir.TRAINING_SETTINGS:
      setattr(self, key, False)
    self.learning_rate, self.seed = 5e-5, 1
    for key, value in changes.items():
      setattr(self, key, value)


def test_training_data_and_settings_are_part_of_the_run(tmp_path):
  train = tmp_path / "train.tsv"
  train.write_text("a\tO\n")

  def run(**changes):
    described = _run()
    described.update(run_dir.describe_training(
        _Config(**changes), {"train": str(train)}, {"task": "ner"}))
    return described

  out = str(tmp_path / "out")
  run_dir.prepare_output_dir(out, run(), training=True)
  run_dir.check_output_dir(out, run(), training=True)  # the same run
  with pytest.raises(errors.UserError) as e:
    run_dir.check_output_dir(out, run(learning_rate=3e-5, seed=2),
                             training=True)
  assert "training.learning_rate: recorded 5e-05, now 3e-05" in str(e.value)
  assert "training.seed: recorded 1, now 2" in str(e.value)
  old = run_dir.read_manifest(out)["training_data_sha256"]["train"]
  train.write_text("b\tO\n")  # the same size, another content
  with pytest.raises(errors.UserError) as e:
    run_dir.check_output_dir(out, run(), training=True)
  assert "training_data_sha256.train: recorded %r, now" % (
      old[:12] + "...") in str(e.value)
  # Predicting with the trained model reads no training data.
  (tmp_path / "out" / "checkpoint").write_text(
      'model_checkpoint_path: "model.ckpt-5"\n')
  (tmp_path / "out" / "model.ckpt-5.index").write_text("")
  run_dir.check_output_dir(out, _run(), training=False)


def test_a_directory_of_another_tool_is_not_a_run_dir(tmp_path):
  out = tmp_path / "tags"
  out.mkdir()
  (out / "manifest.json").write_text("{}")
  (out / "docs.bioc.json").write_text("{}")
  with pytest.raises(errors.UserError) as e:
    run_dir.check_output_dir(str(out), _run(), training=True)
  assert str(e.value) == (
      "--output_dir %s is not empty (docs.bioc.json, manifest.json) and "
      "holds no run_manifest.json: it is not a run dir of this project, and "
      "the run's files would be mixed with what is there. Use a new or empty "
      "--output_dir." % out)
  # What run_suite.py places before its job starts is no obstacle.
  job = tmp_path / "job"
  job.mkdir()
  (job / "suite_job.log").write_text("")
  (job / ".lock").write_text("")
  assert run_dir.check_output_dir(str(job), _run(), training=True) is None


def test_outputs_of_another_input_file_are_refused(tmp_path):
  out = str(tmp_path / "out")
  test_a = tmp_path / "a.tsv"
  test_a.write_text("x\n")
  test_b = tmp_path / "b.tsv"
  test_b.write_text("y\n")
  outputs = run_dir.describe_outputs({"test": str(test_a), "dev": None})
  assert list(outputs) == ["test"]
  run_dir.check_outputs(out, outputs)  # nothing recorded yet
  run_dir.record_outputs(out, outputs)
  run_dir.check_outputs(out, outputs)  # the same file again
  run_dir.check_outputs(out, run_dir.describe_outputs({"dev": str(test_b)}))
  with pytest.raises(errors.UserError) as e:
    run_dir.check_outputs(out, run_dir.describe_outputs({"test": str(test_b)}))
  assert str(e.value).startswith(
      "--output_dir %s holds the test predictions and scores of %s (sha256 "
      % (out, test_a))
  assert "making them from %s" % test_b in str(e.value)
