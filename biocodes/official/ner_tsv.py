"""Gold PubTator corpora -> the NER TSV of BioBERT's data sets.

Each title and abstract is split into sentences (`corpus.sentences`, the
splitter the tagger uses) and words (runs of letters and digits, and every
other character on its own, as BioBERT's preprocessed sets split them:
"tumour - suppressor", "( APC )"), and each word gets the tag of the
mention it falls in: `B`/`I` (one entity type, as BioBERT's sets) or
`B-Type`/`I-Type` (BioRED's six types), else `O`.

What cannot be written as BIO tags is reported, never dropped silently:
a mention that overlaps one already tagged (the shorter of two, or the
later) is skipped; a mention whose boundary falls inside a word tags the
whole word (counted); a sentence boundary inside a mention joins the two
sentences (counted).
"""

import collections
import dataclasses
import re
from typing import List, Tuple

from biocodes.official import pubtator

_WORD = re.compile(r"[^\W_]+|\S")


@dataclasses.dataclass(frozen=True)
class Sentence:
  """Words (text, start, end; offsets into the document) and their tags."""
  pmid: str
  words: List[Tuple[str, int, int]]
  tags: List[str]


def words_of(text, start, end):
  """[(word, start, end)] of text[start:end], offsets into `text`."""
  return [(m.group(), start + m.start(), start + m.end())
          for m in _WORD.finditer(text[start:end])]


def sentence_spans(text, title_end, annotations, counts, what):
  """Sentence spans of `text` (`corpus.sentences`, split at `title_end`,
  where the title ends, too), two sentences joined where one of the
  annotations (anything with start and end) crosses the boundary between
  them; counted as "sentence boundaries inside a `what`"."""
  from corpus import sentences  # pylint: disable=g-import-not-at-top
  parts = [(0, title_end), (title_end + 1, len(text))] if title_end else [
      (0, len(text))]
  spans = [(o + s, o + e) for o, end in parts
           for s, e in sentences.split(text[o:end])]
  joined = []
  for span in spans:
    if joined and any(x.start < joined[-1][1] and x.end > span[0]
                      for x in annotations):
      joined[-1] = (joined[-1][0], span[1])
      counts["sentence boundaries inside a%s %s (sentences joined)" % (
          "n" if what[0] in "aeiou" else "", what)] += 1
    else:
      joined.append(span)
  return joined


def tag_document(doc, types, typed, counts, skips, path):
  """[Sentence] of one Abstract; counts what was tagged and skipped.

  types: the mention types to tag ({type in the file: type in the tags}).
  typed: B-Type/I-Type tags, else B/I.
  """
  mentions = sorted((m for m in doc.mentions if m.type in types),
                    key=lambda m: (m.start, -(m.end - m.start)))
  counts["mentions"] += len(mentions)
  counts["documents"] += 1
  out = []
  taken = {}
  spans = sentence_spans(doc.text, len(doc.title), mentions, counts,
                         "mention")
  all_words = [w for s, e in spans for w in words_of(doc.text, s, e)]
  for mention in mentions:
    covered = [i for i, (_, s, e) in enumerate(all_words)
               if s < mention.end and mention.start < e]
    if not covered:
      skips.append(pubtator.Skip("%s:%d" % (path, mention.line),
                                 "mention %r covers no word" % mention.text))
      continue
    if any(i in taken for i in covered):
      counts["mentions skipped: overlap another mention"] += 1
      skips.append(pubtator.Skip("%s:%d" % (path, mention.line),
                                 "mention %r (%d-%d) overlaps another one "
                                 "that was tagged" % (
                                     mention.text, mention.start,
                                     mention.end)))
      continue
    first, last = all_words[covered[0]], all_words[covered[-1]]
    if first[1] < mention.start or last[2] > mention.end:
      counts["mentions whose boundary is inside a word (word tagged)"] += 1
    label = types[mention.type]
    for k, i in enumerate(covered):
      taken[i] = ("B" if k == 0 else "I") + ("-" + label if typed else "")
    counts["entities"] += 1
  k = 0
  for s, e in spans:
    words = words_of(doc.text, s, e)
    if words:
      out.append(Sentence(doc.pmid, words, [
          taken.get(k + i, "O") for i in range(len(words))]))
    k += len(words)
  counts["sentences"] += len(out)
  return out


def convert(path, types, typed):
  """([Sentence], counts, [Skip]) of a gold PubTator file."""
  documents, skips = pubtator.read(path)
  counts = collections.Counter()
  counts["mentions skipped: text not at offsets"] = len(skips)
  sentences = []
  for doc in documents:
    sentences.extend(tag_document(doc, types, typed, counts, skips, path))
  return sentences, counts, skips


def tsv(sentences):
  """The TSV text: `word<TAB>tag` lines, a blank line after each sentence."""
  return "".join("".join("%s\t%s\n" % (w[0], t) for w, t in
                         zip(s.words, s.tags)) + "\n" for s in sentences)


def read_tsv_sentences(path):
  """[(words tuple, tags tuple)] of a NER TSV file (for the agreement)."""
  out, words, tags = [], [], []
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.rstrip("\n")
      if not line.strip():
        if words:
          out.append((tuple(words), tuple(tags)))
        words, tags = [], []
        continue
      fields = line.split("\t")
      words.append(fields[0])
      tags.append(fields[-1])
  if words:
    out.append((tuple(words), tuple(tags)))
  return out


def agreement(ours, reference):
  """{entities, reference_entities, sentences, identical, reference_
  sentences} of our sentences against a preprocessed file's: entity counts
  (B tags) and how many of our sentences the reference holds word for word
  and tag for tag (each reference sentence matched once)."""
  pool = collections.Counter(reference)
  identical = 0
  for words_tags in ours:
    if pool[words_tags] > 0:
      pool[words_tags] -= 1
      identical += 1

  def entities(rows):
    return sum(1 for _, tags in rows for t in tags if t.startswith("B"))
  return {"entities": entities(ours), "reference_entities":
          entities(reference), "sentences": len(ours), "identical":
          identical, "reference_sentences": len(reference)}
