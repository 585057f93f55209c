"""biocodes/ner_detokenize.py: words rebuilt from word-piece predictions."""

import pytest

from biocodes import ner_detokenize


def test_detokenizer_alignment_rules():
  sentences = [[("IL-6", "B", 1), ("levels", "O", 2)], [("\u200b", "O", 4)]]
  pieces = ["[CLS]", "il", "-", "6", "level", "##s", "[SEP]", "[CLS]",
            "[UNK]", "[SEP]"]
  labels = ["[CLS]", "B", "X", "I", "O", "X", "[SEP]", "[CLS]", "X", "[SEP]"]
  tags, missing = ner_detokenize.word_tags_from_pieces(sentences, pieces,
                                                       labels)
  assert tags == [["B", "O"], ["O"]] and missing == 0
  # A file cut short (the original's truncation): missing words become O.
  tags, missing = ner_detokenize.word_tags_from_pieces(sentences, pieces[:5],
                                                       labels[:5])
  assert tags == [["B", "O"], ["O"]] and missing == 1
  with pytest.raises(ValueError, match="left over"):
    ner_detokenize.word_tags_from_pieces(sentences[:1], pieces, labels)
