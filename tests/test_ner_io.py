"""biocodes/ner_io.py: the NER data files and CoNLL lines."""

import pytest

from biocodes import ner_io
from finetuning import errors
from tasks import ner


def test_readers_reject_bad_input(tmp_path):
  bad = tmp_path / "train_dev.tsv"
  bad.write_text("Aspirin\tB\nhelps\n", encoding="utf-8")
  with pytest.raises(errors.InputError, match=r"train_dev.tsv:2: expected "
                     r"'token<TAB>tag' \(2 fields\), found 1"):
    ner_io.read_sentences(str(bad))
  bad.write_text("Aspirin\tDisease\n", encoding="utf-8")
  with pytest.raises(errors.InputError, match=r":1: expected a BIO tag"):
    ner_io.read_sentences(str(bad))
  bad.write_text("", encoding="utf-8")
  with pytest.raises(errors.InputError, match="file is empty"):
    ner_io.read_sentences(str(bad))
  with pytest.raises(errors.InputError,
                     match=r"devel.tsv: file not found. An NER data dir "
                     r"holds train_dev.tsv"):
    ner.NerProcessor().get_dev_examples(str(tmp_path))


def test_crlf_and_bom_accepted(tmp_path):
  f = tmp_path / "test.tsv"
  f.write_bytes(b"\xef\xbb\xbfAspirin\tB\r\nhelps\tO\r\n\r\nok\tO\r\n")
  assert ner_io.read_sentences(str(f)) == [
      [("Aspirin", "B", 1), ("helps", "O", 2)], [("ok", "O", 4)]]
