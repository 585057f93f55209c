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
  # Files cut short: fewer windows than sentences, the last words without
  # pieces. No run writes that; it is refused, not scored as O.
  with pytest.raises(ValueError, match="has no word piece for 1 words from "
                     "answer line 4 on .1 windows for 2 sentences.: the file "
                     "is truncated"):
    ner_detokenize.word_tags_from_pieces(sentences, pieces[:7], labels[:7])
  with pytest.raises(ValueError, match="left over"):
    ner_detokenize.word_tags_from_pieces(sentences[:1], pieces, labels)


def _tags(sentences, pairs):
  pieces = [p for p, _ in pairs]
  labels = [l for _, l in pairs]
  return ner_detokenize.word_tags_from_pieces(sentences, pieces, labels)


def test_sentences_cut_by_the_original_keep_later_words_aligned():
  # The original run_ner.py cut "a b c" to "a b": c has no piece and is O;
  # d and e keep their own tags.
  sentences = [[("a", "B", 1), ("b", "I", 2), ("c", "O", 3)],
               [("d", "B", 5), ("e", "O", 6)]]
  pairs = [("[CLS]", "[CLS]"), ("a", "B"), ("b", "I"), ("[SEP]", "[SEP]"),
           ("[CLS]", "[CLS]"), ("d", "B"), ("e", "O"), ("[SEP]", "[SEP]")]
  assert _tags(sentences, pairs) == ([["B", "I", "O"], ["B", "O"]], 1)


def test_windows_of_one_sentence_continue_it():
  # run_ner.py's windows: "a b c" in two windows, then "d e".
  sentences = [[("a", "B", 1), ("b", "I", 2), ("c", "O", 3)],
               [("d", "B", 5), ("e", "O", 6)]]
  pairs = [("[CLS]", "[CLS]"), ("a", "B"), ("b", "I"), ("[SEP]", "[SEP]"),
           ("[CLS]", "[CLS]"), ("c", "B"), ("[SEP]", "[SEP]"),
           ("[CLS]", "[CLS]"), ("d", "I"), ("e", "O"), ("[SEP]", "[SEP]")]
  assert _tags(sentences, pairs) == ([["B", "I", "B"], ["I", "O"]], 0)


def test_too_many_pieces_in_a_sentence_window_is_an_error():
  sentences = [[("a", "O", 1)], [("d", "O", 3)]]
  pairs = [("[CLS]", "[CLS]"), ("a", "O"), ("z", "O"), ("[SEP]", "[SEP]"),
           ("[CLS]", "[CLS]"), ("d", "O"), ("[SEP]", "[SEP]")]
  with pytest.raises(ValueError, match="window 1 .* 1 word pieces left over"):
    _tags(sentences, pairs)


def test_words_whose_basic_tokens_depend_on_casing():
  # Lower-casing strips accents (and the overlay of "\u2260"), so these
  # words have more or fewer basic tokens in an uncased model's pieces.
  sentences = [[("p\u2260q", "O", 1), ("a-\u0301-b", "O", 2),
                ("BRCA1", "B", 3), ("x", "O", 4)]]
  uncased = [("[CLS]", "[CLS]"), ("p", "O"), ("=", "X"), ("q", "X"),
             ("a", "B"), ("-", "X"), ("-", "X"), ("b", "X"),
             ("brca", "I"), ("##1", "X"), ("x", "O"), ("[SEP]", "[SEP]")]
  assert _tags(sentences, uncased) == ([["O", "B", "I", "O"]], 0)
  cased = [("[CLS]", "[CLS]"), ("[UNK]", "O"), ("a", "B"), ("-", "X"),
           ("\u0301", "X"), ("-", "X"), ("b", "X"), ("BRCA", "I"),
           ("##1", "X"), ("x", "O"), ("[SEP]", "[SEP]")]
  assert _tags(sentences, cased) == ([["O", "B", "I", "O"]], 0)


def test_an_extra_line_after_the_last_window_is_not_called_truncated(
    tmp_path):
  from finetuning import errors
  answer = tmp_path / "test.tsv"
  answer.write_text("a\tB\nb\tO\n\n")
  pieces = ["[CLS]", "a", "b", "[SEP]"]
  labels = ["[CLS]", "B", "O", "[SEP]"]
  for extra, message in (
      (["b"], "%s:5: 1 line after the last window's closing [SEP], not a "
       "window (every window of run_ner.py starts with [CLS]): remove it"),
      (["[CLS]", "a"], "%s:6: the last window has no closing [SEP]: the "
       "file is truncated (every window of run_ner.py ends with [SEP])")):
    tokens = tmp_path / "token_test.txt"
    tokens.write_text("\n".join(pieces + extra) + "\n")
    label_file = tmp_path / "label_test.txt"
    label_file.write_text("\n".join(labels + ["O"] * len(extra)) + "\n")
    with pytest.raises(errors.InputError) as e:
      ner_detokenize.detokenize(str(tokens), str(label_file), str(answer),
                                str(tmp_path))
    assert str(e.value) == message % tokens
