"""The document model every reader yields and every writer takes.

A document is its id and its passages (title, abstract sections, lines),
each with the offset of its text in the document, as BioC counts them: a
reader that makes one text of several parts (PubMed's title and abstract
sections) puts one space between them, which is PubTator's convention, so
the offsets of an annotation are the same in every output format.
"""

import collections

Passage = collections.namedtuple("Passage", ["type", "offset", "text",
                                             "infons"], defaults=[None])
Passage.__doc__ = """One passage: its type ("title", "abstract", "text",
or BioC's own), the offset of its first character in the document, its
text, and BioC infons (a dict, or None)."""

Document = collections.namedtuple("Document", ["id", "passages", "infons"],
                                  defaults=[None])
Document.__doc__ = """A document: its id (the PMID for PubMed), passages,
and BioC infons (a dict, or None)."""

Malformed = collections.namedtuple("Malformed", ["source", "id", "reason"])
Malformed.__doc__ = """A record a reader could not make a document of:
`source` is "file:line" or the file, `id` what it could read of the id
(or None). It is reported, counted and skipped."""

Deleted = collections.namedtuple("Deleted", ["source", "ids"])
Deleted.__doc__ = """A PubMed update file's DeleteCitation: the PMIDs (a
list of strings) that PubMed has withdrawn since earlier files, so that
their annotations from those files can be dropped. `source` is
"file:line". Listed in deleted.tsv, nothing to tag."""


def joined(parts):
  """Passages of (type, text, infons) parts, one space between them."""
  passages, offset = [], 0
  for kind, text, infons in parts:
    passages.append(Passage(kind, offset, text, infons))
    offset += len(text) + 1
  return passages


def to_json(document):
  """A JSON-able dict of a Document (the form the shard parts keep)."""
  return {"id": document.id, "infons": document.infons or {},
          "passages": [{"type": p.type, "offset": p.offset, "text": p.text,
                        "infons": p.infons or {}}
                       for p in document.passages]}
