"""FullTokenizer against Google's WordPiece output, and hand cases."""

import json
import os

import pytest

import tokenization
from tests.conftest import REFERENCE

REF = os.path.join(REFERENCE, "bert")


@pytest.fixture(scope="module")
def uncased():
  return tokenization.FullTokenizer(os.path.join(REF, "vocab_uncased.txt"),
                                    do_lower_case=True)


@pytest.fixture(scope="module")
def cased():
  return tokenization.FullTokenizer(os.path.join(REF, "vocab_uncased.txt"),
                                    do_lower_case=False)


def test_reference_cases_identical(uncased, cased):
  with open(os.path.join(REF, "tokenizer_cases.jsonl"), encoding="utf-8") as f:
    cases = [json.loads(line) for line in f]
  assert len(cases) == 945
  mismatches = [c["text"] for c in cases
                if uncased.tokenize(c["text"]) != c["uncased"] or
                cased.tokenize(c["text"]) != c["cased"]]
  assert mismatches == []


def _vocab_file(tmp_path, tokens):
  path = tmp_path / "vocab.txt"
  path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
  return str(path)


def test_full_tokenizer_hand_case(tmp_path):
  vocab = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un",
           "runn", "##ing", ","]
  tok = tokenization.FullTokenizer(_vocab_file(tmp_path, vocab), True)
  tokens = tok.tokenize(u"UNwant\u00E9d,running")
  assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert tok.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]
  assert tok.convert_ids_to_tokens([7, 4]) == ["un", "##want"]


def test_basic_tokenizer_lower_strips_accents():
  tok = tokenization.BasicTokenizer(do_lower_case=True)
  assert tok.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
      "hello", "!", "how", "are", "you", "?"]
  assert tok.tokenize(u"H\u00E9llo") == ["hello"]
  assert tok.tokenize(u"\u03B1-Synuclein") == [u"\u03B1", "-", "synuclein"]


def test_basic_tokenizer_cased_keeps_accents_and_case():
  tok = tokenization.BasicTokenizer(do_lower_case=False)
  assert tok.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
      "HeLLo", "!", "how", "Are", "yoU", "?"]
  assert tok.tokenize(u"H\u00E9llo") == [u"H\u00E9llo"]


def test_cjk_characters_become_words():
  tok = tokenization.BasicTokenizer()
  assert tok.tokenize(u"ah\u535A\u63A8zz") == [u"ah", u"\u535A", u"\u63A8",
                                               u"zz"]


def test_punctuation_and_unicode_dashes_split():
  tok = tokenization.BasicTokenizer(do_lower_case=False)
  # En dash, em dash and the non-ASCII "P*" categories split words; "$" and
  # "^" are ASCII punctuation for BERT even though Unicode calls them symbols.
  assert tok.tokenize(u"IL-6\u2013dependent a\u2014b 5$^") == [
      "IL", "-", u"6", u"\u2013", "dependent", "a", u"\u2014", "b", "5", "$",
      "^"]


def test_control_characters_removed_and_whitespace_normalised():
  tok = tokenization.BasicTokenizer(do_lower_case=False)
  assert tok.tokenize(u"a\u0000b\ufffdc\u200bd\u00a0e") == ["abcd", "e"]


def test_wordpiece_unknown_and_long_words():
  vocab = {t: i for i, t in enumerate(["[UNK]", "want", "##want", "##ed",
                                       "un", "a", "##a"])}
  wp = tokenization.WordpieceTokenizer(vocab=vocab)
  assert wp.tokenize("") == []
  assert wp.tokenize("unwanted") == ["un", "##want", "##ed"]
  assert wp.tokenize("unwantedX unwanted") == ["[UNK]", "un", "##want",
                                               "##ed"]
  assert wp.tokenize("a" * 200) == ["a"] + ["##a"] * 199
  assert wp.tokenize("a" * 201) == ["[UNK]"]


def test_load_vocab_keeps_order_and_strips(tmp_path):
  path = _vocab_file(tmp_path, ["[PAD]", "x ", "##y"])
  vocab = tokenization.load_vocab(path)
  assert list(vocab.items()) == [("[PAD]", 0), ("x", 1), ("##y", 2)]


def test_validate_case_matches_checkpoint():
  tokenization.validate_case_matches_checkpoint(
      False, "/x/biobert_v1.1_pubmed/model.ckpt-1000000")
  with pytest.raises(ValueError, match="do_lower_case=True"):
    tokenization.validate_case_matches_checkpoint(
        False, "/x/uncased_L-12_H-768_A-12/bert_model.ckpt")
