"""Sentence splitting for biomedical text, with offsets into the text.

syntok's segmenter keeps "e.g.", "et al.", "Fig. 2", "vs.", "approx.",
decimals and p-values ("p < 0.05") and species names ("E. coli",
"S. cerevisiae") inside their sentences; of the two libraries tried on
such sentences (tests/test_corpus.py), pysbd split "approx. 300" and
joined two sentences ending in "12.5% in group A.", and was about twenty
times slower. Its known limit: a sentence that ends in a single capital
letter ("in group A.") is taken for an initial and joined with the next.
"""


def split(text):
  """[(start, end)] of the sentences of `text`, offsets into `text` (the
  sentence is text[start:end], without surrounding whitespace)."""
  from syntok import segmenter  # pylint: disable=g-import-not-at-top
  spans = []
  for paragraph in segmenter.analyze(text):
    for sentence in paragraph:
      tokens = list(sentence)
      if tokens:
        last = tokens[-1]
        spans.append((tokens[0].offset, last.offset + len(last.value)))
  return spans
