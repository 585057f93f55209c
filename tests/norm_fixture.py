"""A small synthetic concept-normalization corpus (PubTator) and lexicons.

Documents are made of sentences naming diseases in the corpora's ways:
names of the lexicon, variants (plural, other order), an abbreviation
defined in the document, and a composite mention with two IDs. The lexicon
is an id<TAB>name list, "built from the corpus's own names" as the tests
label it.
"""

import os

# concept: (lexicon names, variants used in text)
CONCEPTS = {
    "D001943": (["breast cancer", "breast neoplasms"], ["breast tumors"]),
    "D010051": (["ovarian cancer", "ovarian neoplasms"], ["ovarian tumors"]),
    "D003924": (["type 2 diabetes", "diabetes mellitus, type 2"],
                ["type II diabetes"]),
    "D006331": (["heart disease", "heart diseases"], ["cardiac disease"]),
    "OMIM:175100": (["adenomatous polyposis coli", "familial polyposis"],
                    ["polyposis coli"]),
}
WORDS = ["breast", "ovarian", "cancer", "tumor", "diabetes", "heart",
         "disease", "type", "polyposis", "coli", "patients", "with", "and"]


def _document(pmid, mentions):
  """A PubTator document whose abstract names `mentions` [(text, ids)]."""
  title = "Patients with %s." % mentions[0][0]
  abstract = ""
  annotations = []
  offset = len(title) + 1
  for text, ids in mentions[1:]:
    sentence = "We saw %s in the cohort. " % text
    if text == "adenomatous polyposis coli":
      sentence = "We saw %s (APC) in the cohort. " % text
    start = offset + len(abstract) + len("We saw ")
    annotations.append((start, start + len(text), text, ids))
    abstract += sentence
  abstract = abstract.strip()
  first = mentions[0]
  annotations.insert(0, (len("Patients with "),
                         len("Patients with ") + len(first[0]), first[0],
                         first[1]))
  lines = ["%s|t|%s" % (pmid, title), "%s|a|%s" % (pmid, abstract)]
  lines += ["%s\t%d\t%d\t%s\tDisease\t%s" % (pmid, s, e, t, i)
            for s, e, t, i in annotations]
  return "\n".join(lines) + "\n\n"


def documents(first_pmid, n):
  """`n` documents: each concept by a name and a variant, an abbreviation
  (APC) defined and used, and a composite mention."""
  out = []
  concepts = list(CONCEPTS)
  for k in range(n):
    c = concepts[k % len(concepts)]
    d = concepts[(k + 1) % len(concepts)]
    names, variants = CONCEPTS[c]
    mentions = [(names[k % 2], c), (variants[0], c),
                (CONCEPTS[d][0][0], d),
                ("adenomatous polyposis coli", "OMIM:175100"),
                ("APC", "OMIM:175100"),
                ("breast and ovarian cancer", "D001943|D010051")]
    out.append(_document(str(first_pmid + k), mentions))
  return "".join(out)


def write_corpus(directory, n_train=20, n_dev=5, n_test=5):
  """train.pubtator, dev.pubtator, test.pubtator in `directory`."""
  os.makedirs(directory, exist_ok=True)
  for name, first, n in (("train", 1000, n_train), ("dev", 2000, n_dev),
                         ("test", 3000, n_test)):
    with open(os.path.join(directory, name + ".pubtator"), "w") as f:
      f.write(documents(first, n))
  return str(directory)


def write_lexicon(path):
  """The id<TAB>name lexicon of CONCEPTS's names."""
  with open(path, "w") as f:
    for concept, (names, _) in CONCEPTS.items():
      for name in names:
        f.write("%s\t%s\n" % (concept, name))
  return str(path)
