"""Lexicons of concepts: the names a normalizer may give a mention an ID from.

Three formats are read, told apart by their lines:
- MEDIC as BioSyn ships it: `ids||name|synonym|...`, the ids `|`-separated
  (MeSH `D003924`/`C538288`, OMIM as bare numbers);
- CTD's own TSV (CTD_diseases.tsv[.gz], CTD_chemicals.tsv[.gz]): `#`
  comment lines, then `Name<TAB>ID<TAB>AltIDs<TAB>...`, synonyms `|`-separated
  in the column after ParentTreeNumbers (CTD_diseases) or in the last one;
- `id<TAB>name` lines, one name per line (any vocabulary: MeSH, a list of
  one's own).

Concept IDs are kept in one spelling, the one NCBI-disease's and BC5CDR's
PubTator files use: MeSH without its prefix (`MESH:D003924` is `D003924`),
OMIM as `OMIM:222100` (MEDIC's bare `222100` too). Each name is an entry
with the concepts of its line; a name found under several concepts is kept
under each and counted (`Lexicon.ambiguous`).
"""

import dataclasses
import gzip
import os
import re
from typing import Tuple

from finetuning import errors
from finetuning import files

MEDIC = "MEDIC"
CTD = "CTD"
TSV = "id<TAB>name"

_BARE_OMIM = re.compile(r"^\d{6}$")


def canonical(concept):
  """One spelling of a concept ID: `MESH:D003924` -> `D003924`, a bare OMIM
  number -> `OMIM:222100`; others as written, stripped."""
  concept = concept.strip()
  if concept.upper().startswith("MESH:"):
    return concept[5:]
  if _BARE_OMIM.match(concept):
    return "OMIM:" + concept
  return concept


_MESH = re.compile(r"^[CD]\d+$")


def prefixed(concept):
  """A canonical ID as BioC and PubTator Central write it: MeSH with its
  prefix (`MESH:D003924`), others as they are (`OMIM:222100`)."""
  return "MESH:" + concept if _MESH.match(concept) else concept


def gold_parts(field):
  """The concepts of a gold PubTator ID field, one tuple per part.

  `D011125|D009369` (a composite mention: one part each) gives
  (("D011125",), ("D009369",)); `D001943+D014424` (one mention, several
  IDs: any of them is right) gives (("D001943", "D014424"),); `-1`, `-`
  or an empty field gives ().
  """
  field = field.strip()
  if field in ("", "-1", "-"):  # "-": the tagger's type without a normalizer
    return ()
  return tuple(tuple(canonical(c) for c in part.split("+") if c.strip())
               for part in field.split("|") if part.strip())


@dataclasses.dataclass(frozen=True)
class Lexicon:
  """A lexicon as read: one entry per (name, line).

  names[i] is written as in the file; concepts[i] the canonical IDs of its
  line. digest: sha256 of the file's bytes (what a trained normalizer
  records). ambiguous: names (compared case-insensitively) found under more
  than one concept, kept under each.
  """
  path: str
  digest: str
  format: str
  names: Tuple[str, ...]
  concepts: Tuple[Tuple[str, ...], ...]
  num_concepts: int
  ambiguous: int

  @property
  def label(self):
    """How reports name it: the file's base name and format."""
    return "%s (%s)" % (self.path.rsplit("/", 1)[-1], self.format)


def _lines(path):
  """(line number, line) of a text or gzip'd text file; InputError when it
  cannot be read as UTF-8."""
  if path.endswith(".gz"):
    try:
      with gzip.open(path, "rb") as f:
        data = f.read()
    except (OSError, EOFError) as e:
      raise errors.InputError(path, None, "cannot read it as gzip: %s" % e)
    text = files.decode_utf8(data, path)
    lines = text.split("\n")
  else:
    lines = files.read_text_lines(path, "a lexicon", allow_empty=True)
  return [(n, l.rstrip("\r")) for n, l in enumerate(lines, 1)]


def _format_of(rows, path):
  for _, line in rows:
    if not line.strip() or line.startswith("#"):
      continue
    if "||" in line:
      return MEDIC
    if line.count("\t") >= 7:
      return CTD
    if line.count("\t") == 1:
      return TSV
    break
  raise errors.InputError(path, None, "empty, or not a lexicon: expected "
                          "MEDIC lines (ids||name|synonym|...), CTD's TSV or "
                          "id<TAB>name lines")


def _split_ids(field):
  return tuple(canonical(c) for c in field.split("|") if c.strip())


def read(path):
  """The Lexicon of file `path`.

  Raises:
    InputError: an unreadable or empty file, or a line of its format
      without an ID or a name (file:line).
  """
  if not os.path.isfile(path):
    raise errors.InputError(path, None, "file not found (expected a "
                            "lexicon: MEDIC, CTD's TSV or id<TAB>name lines)")
  rows = _lines(path)
  kind = _format_of(rows, path)
  names, concepts = [], []
  for number, line in rows:
    if not line.strip() or (kind == CTD and line.startswith("#")):
      continue
    if kind == MEDIC:
      ids, sep, rest = line.partition("||")
      found = [n for n in rest.split("|") if n.strip()]
      expected = "ids||name|synonym|..."
    elif kind == CTD:
      fields = line.split("\t")
      ids = fields[1] + ("|" + fields[2] if len(fields) > 2 else "")
      ids = "|".join(i for i in ids.split("|")
                     if i.upper().startswith(("MESH:", "OMIM:")))
      synonyms = fields[7] if len(fields) > 8 else fields[-1]
      found = [fields[0]] + [s for s in synonyms.split("|") if s.strip()]
      found = [n for n in found if n.strip()]
      sep, expected = "\t", "Name<TAB>ID<TAB>AltIDs<TAB>...<TAB>Synonyms"
    else:
      ids, sep, rest = line.partition("\t")
      found = [rest] if rest.strip() and "\t" not in rest else []
      expected = "id<TAB>name"
    concept_ids = _split_ids(ids)
    if not sep or not concept_ids or not found:
      raise errors.InputError(path, number, "expected %s (the lexicon's "
                              "format, from its first line), found %r" %
                              (expected, line[:80]))
    for name in found:
      names.append(name.strip())
      concepts.append(concept_ids)
  if not names:
    raise errors.InputError(path, None, "the lexicon holds no name")
  seen = {}
  for name, ids in zip(names, concepts):
    seen.setdefault(name.lower(), set()).add(ids)
  ambiguous = sum(1 for s in seen.values() if len(s) > 1)
  return Lexicon(path, files.file_digest(path), kind, tuple(names),
                 tuple(concepts), len(set(concepts)), ambiguous)
