"""The training-feature cache and multi-core tokenization."""

import os

import tokenization
from finetuning import feature_cache
from finetuning import records
from tasks import ner
from tests.conftest import DATA
from tests.helpers import bert_flags, run_tool, slice_sentences

NCBI = os.path.join(DATA, "NER", "NCBI-disease")


def _key(path, vocab, **kw):
  args = dict(do_lower_case=False, max_seq_length=128, labels=["B", "O"],
              bucketed=False)
  args.update(kw)
  fmt = records.RecordFormat(ner.NerTask.fields, args["max_seq_length"],
                             args["bucketed"])
  return feature_cache.cache_key([path], vocab, args["do_lower_case"],
                                 args["labels"], fmt.describe(),
                                 {"task": "ner"})


def test_cache_key_follows_every_input(tmp_path):
  data = tmp_path / "train.tsv"
  data.write_text("a\tO\n")
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[UNK]\na\n")
  key = _key(str(data), str(vocab))
  assert key == _key(str(data), str(vocab))
  assert key != _key(str(data), str(vocab), do_lower_case=True)
  assert key != _key(str(data), str(vocab), max_seq_length=64)
  assert key != _key(str(data), str(vocab), labels=["B", "I", "O"])
  assert key != _key(str(data), str(vocab), bucketed=True)
  vocab.write_text("[UNK]\na\nb\n")
  assert key != _key(str(data), str(vocab))
  vocab.write_text("[UNK]\na\n")
  data.write_text("a\tB\n")
  assert key != _key(str(data), str(vocab))


def test_parallel_tokenization_equals_serial(tiny_bert_dir):
  sentences = ner.NerProcessor().get_test_examples(NCBI)[0][:300]
  tok = tokenization.FullTokenizer(tiny_bert_dir["vocab"], False)
  labels = ner.label_list_from_tags(["B", "I", "O"])
  serial = ner.convert_examples(sentences, labels, tok, 64)[0]
  parts = feature_cache.parallel_chunks(
      lambda chunk: ner.convert_examples(chunk, labels, tok, 64)[0],
      sentences, processes=2, min_items=1)
  assert len(parts) == 2
  assert [f for part in parts for f in part] == serial


def _train(tiny_bert_dir, data, out, cache, vocab=None):
  flags = bert_flags(tiny_bert_dir)
  if vocab:
    flags = [f for f in flags if not f.startswith("--vocab_file")] + [
        "--vocab_file=" + vocab]
  return run_tool(["run_ner.py", "--do_train=true", "--do_predict=false",
                   "--data_dir=" + str(data), "--output_dir=" + str(out),
                   "--max_seq_length=48", "--num_train_epochs=0.2",
                   "--train_batch_size=8", "--cache_dir=" + str(cache)] +
                  flags)


def test_cache_hit_on_rerun_and_new_entry_for_new_vocab(tiny_bert_dir,
                                                        tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(data / "train_dev.tsv"), 60)
  cache = tmp_path / "cache"
  first = _train(tiny_bert_dir, data, tmp_path / "o1", cache)
  assert "Cached training features in" in first.stdout + first.stderr
  assert sorted(os.listdir(str(cache)))[0].endswith(".json")
  assert len(os.listdir(str(cache))) == 2
  # Same data, vocab and settings in another output dir: a hit.
  second = _train(tiny_bert_dir, data, tmp_path / "o2", cache)
  assert "tokenization skipped" in second.stdout + second.stderr
  assert len(os.listdir(str(cache))) == 2
  # Another vocab (its last piece replaced): a miss and a second entry.
  vocab = tmp_path / "vocab.txt"
  with open(tiny_bert_dir["vocab"], encoding="utf-8") as f:
    pieces = f.read().splitlines()
  vocab.write_text("\n".join(pieces[:-1] + ["zzqqxxzz"]) + "\n")
  third = _train(tiny_bert_dir, data, tmp_path / "o3", cache, str(vocab))
  assert "tokenization skipped" not in third.stdout + third.stderr
  assert len(os.listdir(str(cache))) == 4
  # A damaged entry (cut short, or its .json garbled) is rebuilt.
  entries = sorted(str(p) for p in cache.iterdir())
  for path in entries:
    if path.endswith(".tf_record"):
      with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
  fourth = _train(tiny_bert_dir, data, tmp_path / "o5", cache)
  assert "are damaged; building them again" in fourth.stdout + fourth.stderr
  assert "Cached training features in" in fourth.stdout + fourth.stderr
  fifth = _train(tiny_bert_dir, data, tmp_path / "o6", cache)
  assert "tokenization skipped" in fifth.stdout + fifth.stderr
  for path in entries:
    if path.endswith(".json"):
      with open(path, "w") as f:
        f.write("{not json")
  sixth = _train(tiny_bert_dir, data, tmp_path / "o7", cache)
  assert "are damaged; building them again" in sixth.stdout + sixth.stderr
  # No cache: train.tf_record in the output dir, as the original.
  _train(tiny_bert_dir, data, tmp_path / "o4", "")
  assert (tmp_path / "o4" / "train.tf_record").is_file()
