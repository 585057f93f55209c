"""What a batch of documents becomes: sentences, entities, relations.

Each passage is split into sentences (corpus/sentences.py); every NER
model tags every sentence of the batch in one call (BERN2's way: one model
per entity type, or a typed model), and overlapping spans of different
models are all kept, each with its type, model and score. A relation
model then classifies each pair of its two entity types within a
sentence. Normalizers (one per entity type) give each entity of their
type a concept, or none below their threshold. Offsets are into the
document, as BioC counts them.
"""

import collections

from corpus import documents
from corpus import sentences as sentence_splitter
from corpus import tagging


def annotate(docs, ner_models, re_model=None, normalizers=None):
  """(tagged documents as JSON-able dicts, counts) of a list of Documents.

  A tagged document is `documents.to_json(doc)` plus "annotations" (id,
  passage index, type, offset, length, text, model, score; and "concept"
  for a type that `normalizers` ({type, lower case: NormModel}) cover:
  {id, ids, name, score, model}, or None below the threshold) and
  "relations" (id, type, score, model, arg1, arg2: annotation ids).
  """
  spans = []  # (doc index, passage index, offset in the document, text)
  for d, doc in enumerate(docs):
    for p, passage in enumerate(doc.passages):
      for start, end in sentence_splitter.split(passage.text):
        spans.append((d, p, passage.offset + start, passage.text[start:end]))
  texts = [text for _, _, _, text in spans]
  found = [model.tag(texts) for model in ner_models]

  per_doc = [[] for _ in docs]
  for m, model in enumerate(ner_models):
    for s, (d, p, base, _) in enumerate(spans):
      for e in found[m][s]:
        per_doc[d].append({
            "passage": p, "sentence": s, "type": e["type"],
            "offset": base + e["start"], "length": e["end"] - e["start"],
            "text": e["text"], "model": model.spec.name,
            "score": tagging.rounded(e["score"]), "_order": m,
            "_span": (e["start"], e["end"])})
  for annotations in per_doc:
    annotations.sort(key=lambda a: (a["offset"], a["length"], a["_order"],
                                    a["type"]))
    for k, a in enumerate(annotations, 1):
      a["id"] = "T%d" % k

  if normalizers:
    _normalize(normalizers, docs, per_doc)

  relations = [[] for _ in docs]
  if re_model is not None:
    _relate(re_model, spans, per_doc, relations)

  counts = {"documents": len(docs), "sentences": len(spans),
            "entities": collections.Counter(), "relations": 0,
            "concepts": 0, "no_concept": 0}
  tagged = []
  for doc, annotations, rels in zip(docs, per_doc, relations):
    out = documents.to_json(doc)
    out["annotations"] = [
        {k: a[k] for k in ("id", "passage", "type", "offset", "length",
                           "text", "model", "score", "concept") if k in a}
        for a in annotations]
    for a in annotations:
      if "concept" in a:
        counts["concepts" if a["concept"] else "no_concept"] += 1
    out["relations"] = rels
    counts["entities"].update(a["type"] for a in annotations)
    counts["relations"] += len(rels)
    tagged.append(out)
  counts["entities"] = dict(sorted(counts["entities"].items()))
  return tagged, counts


def _normalize(normalizers, docs, per_doc):
  """Gives each annotation of a normalized type its "concept"."""
  for kind, model in normalizers.items():
    where = [(d, a) for d, annotations in enumerate(per_doc)
             for a in annotations if a["type"].lower() == kind]
    texts = {d: " ".join(p.text for p in docs[d].passages)
             for d in {d for d, _ in where}}
    found = model.normalize([(a["text"], texts[d]) for d, a in where])
    for (_, a), concept in zip(where, found):
      a["concept"] = tagging.concept_record(concept, model.name)


def _relate(re_model, spans, per_doc, relations):
  """Classifies every pair of the RE model's types within a sentence."""
  first, second = re_model.entity_types
  pairs, where = [], []
  for d, annotations in enumerate(per_doc):
    by_sentence = collections.defaultdict(list)
    for a in annotations:
      by_sentence[a["sentence"]].append(a)
    for s in sorted(by_sentence):
      found = by_sentence[s]
      for i, a in enumerate(found):
        for j, b in enumerate(found):
          if not (a["type"].upper() == first and b["type"].upper() == second):
            continue
          if first == second and j <= i:
            continue
          (a0, a1), (b0, b1) = a["_span"], b["_span"]
          if a0 < b1 and b0 < a1:  # overlapping spans cannot both be masked
            continue
          pairs.append((spans[s][3], {"start": a0, "end": a1, "type": first},
                        {"start": b0, "end": b1, "type": second}))
          where.append((d, a["id"], b["id"]))
  for (d, arg1, arg2), (label, score) in zip(where,
                                             re_model.classify(pairs)):
    if label != re_model.negative:
      relations[d].append({"id": "R%d" % (len(relations[d]) + 1),
                           "type": re_model.relation_type(label),
                           "score": tagging.rounded(score),
                           "model": re_model.name, "arg1": arg1,
                           "arg2": arg2})
