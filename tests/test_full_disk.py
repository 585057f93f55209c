"""A full disk, on a small tmpfs: every tool that writes stops with one
line that says so, exits 1, leaves what it had whole, and goes on when
there is space again."""

import os
import shutil

import pytest

from tests.helpers import run_tool, slice_sentences, write_file
from tests.conftest import DATA
from tests.test_convert_hf import _write_hf_fixture
from tests.helpers import bert_flags
from tests.helpers import fill_disk

NCBI = os.path.join(DATA, "NER", "NCBI-disease")
FULL = "error: no space left on device (writing "


def _one_error_line(result):
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1, result.stderr[-3000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  assert len([l for l in lines if l.startswith("error: ")]) == 1, lines
  return [l for l in lines if l.startswith("error: ")][0]


def _tree(path):
  return {os.path.relpath(os.path.join(d, n), str(path)): open(
      os.path.join(d, n), "rb").read()
          for d, _, names in os.walk(str(path)) for n in names}


def test_convert_hf_checkpoint(tiny_bert_dir, tmp_path, small_disk):
  hf = _write_hf_fixture(tiny_bert_dir, str(tmp_path / "hf"))
  disk = small_disk("disk", 256)
  fill_disk(disk, 64 * 1024)
  out = disk / "tf"
  result = run_tool(["convert_hf_checkpoint.py", "--hf_dir=" + hf,
                     "--output_dir=%s" % out], expect_ok=False)
  assert _one_error_line(result).startswith(FULL)
  assert _one_error_line(result).endswith("free some space, then convert "
                                          "again")
  assert os.listdir(str(out)) == []  # nothing half-written
  os.remove(str(disk / "filler"))
  run_tool(["convert_hf_checkpoint.py", "--hf_dir=" + hf,
            "--output_dir=%s" % out])
  assert sorted(os.listdir(str(out))) == [
      "bert_config.json", "checkpoint", "model.ckpt.data-00000-of-00001",
      "model.ckpt.index", "vocab.txt"]
  same = run_tool(["convert_hf_checkpoint.py", "--hf_dir=" + hf,
                   "--output_dir=" + hf], expect_ok=False)
  assert same.returncode == 2
  assert same.stderr == (
      "error: --output_dir=%s: expected another directory than --hf_dir "
      "(its vocab.txt would be written over the input's)\n" % hf)


@pytest.fixture
def trained(tiny_bert_dir, tmp_path):
  data = tmp_path / "ncbi"
  data.mkdir()
  for name, n in (("train_dev.tsv", 30), ("test.tsv", 40)):
    slice_sentences(os.path.join(NCBI, name), str(data / name), n)
  out = tmp_path / "run"
  run_tool(["run_ner.py", "--data_dir=%s" % data, "--output_dir=%s" % out,
            "--max_seq_length=32", "--train_batch_size=8", "--seed=1",
            "--num_train_epochs=1", "--do_train=true", "--do_predict=false"]
           + bert_flags(tiny_bert_dir))
  return data, out


def test_run_ner_writing_predictions(tiny_bert_dir, trained, small_disk):
  data, run = trained
  size = sum(len(b) for b in _tree(run).values())
  disk = small_disk("disk", size // 1024 + 1024)
  out = disk / "run"
  shutil.copytree(str(run), str(out))
  fill_disk(disk, 8 * 1024)
  args = ["run_ner.py", "--data_dir=%s" % data, "--output_dir=%s" % out,
          "--max_seq_length=32", "--do_train=false", "--do_predict=true"] + (
              bert_flags(tiny_bert_dir))
  result = run_tool(args, expect_ok=False)
  assert _one_error_line(result).startswith(FULL)
  os.remove(str(disk / "filler"))
  run_tool(args)
  assert (out / "ner_scores.json").exists()


def test_export_over_a_previous_export(tiny_bert_dir, trained, small_disk):
  _, run = trained
  disk = small_disk("disk", 4096)
  export = disk / "export"
  args = ["export_model.py", "--output_dir=%s" % run,
          "--vocab_file=" + tiny_bert_dir["vocab"],
          "--export_dir=%s" % export, "--format=huggingface"]
  run_tool(args)
  before = _tree(export)
  fill_disk(disk, 16 * 1024)
  result = run_tool(args, expect_ok=False)
  assert _one_error_line(result).startswith(FULL)
  assert _one_error_line(result).endswith("free some space, then export "
                                          "again")
  assert _tree(export) == before  # the previous export is whole
  assert sorted(os.listdir(str(disk))) == ["export", "filler"]


def test_tag_corpus_stops_in_one_line_and_goes_on(tiny_bert_dir, trained,
                                                  tmp_path, small_disk):
  _, run = trained
  docs = write_file(tmp_path / "docs.jsonl", "".join(
      '{"id": "%d", "text": "Familial breast cancer and colorectal '
      'adenomas were seen in patient %d."}\n' % (k, k) for k in range(600)))
  disk = small_disk("disk", 1024)
  fill_disk(disk, 48 * 1024)
  out = disk / "tags"

  def tag(where):
    return run_tool(["tag_corpus.py", "--input=" + docs,
                     "--models=disease=%s" % run,
                     "--vocab_file=" + tiny_bert_dir["vocab"],
                     "--output_dir=%s" % where, "--part_size=50",
                     "--format=jsonl"], expect_ok=False)

  result = tag(out)
  line = _one_error_line(result)
  assert line.startswith(FULL + str(out)), line
  assert line.endswith("free some space, then run the same command again: "
                       "it goes on from the last documents written")
  assert "Compute Failed" not in result.stdout + result.stderr
  os.remove(str(disk / "filler"))
  assert tag(out).returncode == 0
  fresh = tmp_path / "fresh"
  assert tag(fresh).returncode == 0
  assert (out / "docs.jsonl").read_bytes() == (fresh / "docs.jsonl"
                                               ).read_bytes()
