"""Gold-standard PubTator files: abstracts with their mentions and relations.

The corpora released in PubTator (NCBI-disease, BC5CDR, BioRED) write a
document as `PMID|t|title` and `PMID|a|abstract` lines, then one line per
mention (`PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>concept IDs`, offsets
into title + " " + abstract) and per relation (`PMID<TAB>type<TAB>...`),
with a blank line between documents. This reader keeps everything, checked:
a line it cannot read is an `InputError` with file:line; a mention whose
text is not what its offsets hold is kept out and reported as a `Skip`
(spaces around the text column are not held against it: NCBI-disease's
training file has such a mention).
"""

import dataclasses
import re
from typing import List, Tuple

from finetuning import errors
from finetuning import files


@dataclasses.dataclass(frozen=True)
class Mention:
  """A gold mention: offsets into the document text, its type and the raw
  concept field (`D003924`, `D011125|D009369` for a composite, `-1`)."""
  start: int
  end: int
  text: str
  type: str
  concepts: str
  line: int


@dataclasses.dataclass(frozen=True)
class Relation:
  """A relation line: its type and the fields after it (concept IDs, or
  BioRED's novelty), as written."""
  type: str
  args: Tuple[str, ...]
  line: int


@dataclasses.dataclass(frozen=True)
class Abstract:
  """One document: PMID, title, abstract, mentions, relations; `text` is
  title + " " + abstract, which the offsets count in."""
  pmid: str
  title: str
  abstract: str
  mentions: List[Mention]
  relations: List[Relation]
  line: int

  @property
  def text(self):
    return self.title + " " + self.abstract


@dataclasses.dataclass(frozen=True)
class Skip:
  """Something read and left out on purpose: where (file:line), and why."""
  where: str
  reason: str


_TEXT = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")


def read(path):
  """([Abstract], [Skip]) of a gold PubTator file.

  Raises:
    InputError: a line that is neither a title, an abstract, a mention
      nor a relation, a mention with offsets that are not numbers, or a
      document without its title or abstract line.
  """
  lines = files.read_text_lines(path, "PubTator: PMID|t|title, PMID|a|"
                                "abstract, then annotation lines")
  documents, skips, record, start = [], [], [], None
  for number, line in enumerate(lines + [""], 1):
    line = line.rstrip("\r\n")
    if line.strip():
      if not record:
        start = number
      record.append((number, line))
      continue
    if record:
      documents.append(_document(path, start, record, skips))
      record = []
  return documents, skips


def _document(path, start, record, skips):
  pmid, parts, mentions, relations = None, {}, [], []
  for number, line in record:
    m = _TEXT.match(line)
    if m:
      if pmid not in (None, m.group(1)):
        raise errors.InputError(path, number, "PMID %s in the record of %s: "
                                "a blank line is missing between documents"
                                % (m.group(1), pmid))
      pmid = m.group(1)
      parts[m.group(2)] = m.group(3)
      continue
    fields = line.split("\t")
    if pmid is None or fields[0] != pmid:
      raise errors.InputError(path, number, "expected PMID|t|title, "
                              "PMID|a|abstract or an annotation line of PMID "
                              "%s, found %r" % (pmid, line[:80]))
    if len(fields) >= 5 and fields[1].isdigit() and fields[2].isdigit():
      concepts = fields[5] if len(fields) > 5 else ""
      mentions.append(Mention(int(fields[1]), int(fields[2]), fields[3],
                              fields[4], concepts, number))
    elif len(fields) >= 3 and not fields[1].lstrip("-").isdigit():
      relations.append(Relation(fields[1], tuple(fields[2:]), number))
    else:
      raise errors.InputError(path, number, "expected PMID<TAB>start<TAB>end"
                              "<TAB>text<TAB>type[<TAB>IDs] or PMID<TAB>type"
                              "<TAB>arguments, found %r" % line[:80])
  if "t" not in parts or "a" not in parts:
    raise errors.InputError(path, start, "document %s has no %s line" % (
        pmid, "PMID|t|" if "t" not in parts else "PMID|a|"))
  doc = Abstract(pmid, parts["t"], parts["a"], [], relations, start)
  text = doc.text
  for mention in mentions:
    if not 0 <= mention.start < mention.end <= len(text):
      skips.append(Skip("%s:%d" % (path, mention.line), "offsets %d-%d "
                        "outside the text of %s (0-%d)" % (
                            mention.start, mention.end, pmid, len(text))))
    elif text[mention.start:mention.end] != mention.text.strip(" "):
      skips.append(Skip("%s:%d" % (path, mention.line), "%r is not the text "
                        "at %d-%d (%r)" % (mention.text, mention.start,
                                           mention.end,
                                           text[mention.start:mention.end])))
    else:  # the text column's own trailing spaces (NCBI-disease) dropped
      doc.mentions.append(dataclasses.replace(
          mention, text=text[mention.start:mention.end]))
  return doc
