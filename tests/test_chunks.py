"""biocodes/chunks.py: conlleval's chunk rules, one chunker for everyone."""

from biocodes import chunks


def test_split_tag():
  assert chunks.split_tag("B-Gene-X") == ("B", "Gene-X")
  assert chunks.split_tag("O") == ("O", "")
  assert chunks.split_tag("I-0") == ("I", "")
  assert chunks.split_tag("B-00") == ("B", "00")


def test_bio_chunks():
  tags = ["B-Chemical", "O", "B-Disease", "I-Disease", "I-Disease", "O",
          "I-Disease", "B-Disease", "I-Gene"]
  assert chunks.chunks(tags) == [("Chemical", 0, 1), ("Disease", 2, 5),
                                 ("Disease", 6, 7), ("Disease", 7, 8),
                                 ("Gene", 8, 9)]
  assert chunks.chunks(["B", "I", "O", "I", "I", "B"]) == [
      ("", 0, 2), ("", 3, 5), ("", 5, 6)]
  assert chunks.chunks([]) == [] and chunks.chunks(["O", "O"]) == []


def test_iobes_and_brackets():
  assert chunks.chunks(["B-X", "E-X", "E-X", "O"]) == [("X", 0, 2),
                                                      ("X", 2, 3)]
  # "[" starts a chunk even inside another one, and ends it at once.
  assert chunks.chunks(["I", "[", "I"]) == [("", 0, 1), ("", 1, 2)]


def test_chunks_agree_with_conlleval_counts():
  import random
  from biocodes import conlleval
  rng = random.Random(7)
  tags = ["O", "B", "I", "B-A", "I-A", "B-B", "I-B", "E-A"]
  for _ in range(300):
    seq = [rng.choice(tags) for _ in range(rng.randint(0, 12))]
    counts = conlleval.evaluate(["w %s %s\n" % (t, t) for t in seq])
    assert counts.gold == len(chunks.chunks(seq)), seq
