"""A small synthetic BioASQ factoid set in SQuAD format (not BioASQ data)."""

import json

# (question, answer, snippets): each snippet contains the answer, spelled
# as it appears there (casing differs across snippets on purpose).
QUESTIONS = [
    ("Which gene is mutated in hereditary breast cancer?", [
        "Germline mutations in BRCA1 cause hereditary breast cancer.",
        "Carriers of brca1 variants have a high risk of breast cancer.",
        "The BRCA1 protein repairs DNA double strand breaks."]),
    ("Which cytokine is blocked by infliximab?", [
        "Infliximab is an antibody against TNF in rheumatoid arthritis.",
        "Blocking tnf reduces inflammation in Crohn's disease."]),
    ("Which hormone lowers blood glucose?", [
        "Insulin lowers blood glucose after a meal.",
        "Patients with type 1 diabetes lack insulin production.",
        "The pancreas secretes Insulin from beta cells."]),
    ("Which neurotransmitter is lost in Parkinson's disease?", [
        "Dopamine neurons degenerate in Parkinson's disease.",
        "Levodopa is converted to dopamine in the brain."]),
]
ANSWERS = ["BRCA1", "TNF", "insulin", "dopamine"]


def qid(i):
  """A 24-character BioASQ-like question id."""
  return "%024x" % (0xabc000 + i)


def squad_json(with_bad_answer=False):
  """The SQuAD-format dict; answers located in each snippet."""
  paragraphs = []
  for i, (question, snippets) in enumerate(QUESTIONS):
    for k, snippet in enumerate(snippets):
      start = snippet.lower().find(ANSWERS[i].lower())
      text = snippet[start:start + len(ANSWERS[i])]
      paragraphs.append({"context": snippet, "qas": [{
          "id": "%s_%03d" % (qid(i), k + 1), "question": question,
          "answers": [{"text": text, "answer_start": start}]}]})
  if with_bad_answer:
    paragraphs.append({"context": "Aspirin inhibits COX-1.", "qas": [{
        "id": "%s_001" % qid(99), "question": "What does aspirin inhibit?",
        "answers": [{"text": "COX-1", "answer_start": 3}]}]})
  return {"data": [{"title": "synthetic", "paragraphs": paragraphs}],
          "version": "BioASQ-synthetic"}


def golden_json():
  """The BioASQ golden file of the same questions."""
  return {"questions": [
      {"id": qid(i), "type": "factoid", "body": q,
       "ideal_answer": ["Dummy"], "exact_answer": [[ANSWERS[i]]],
       "documents": [], "snippets": []}
      for i, (q, _) in enumerate(QUESTIONS)]}


def write(directory):
  """Writes train.json, test.json and golden.json; returns their paths."""
  paths = {}
  for name, data in [("train.json", squad_json(with_bad_answer=True)),
                     ("test.json", squad_json()),
                     ("golden.json", golden_json())]:
    paths[name] = str(directory / name)
    with open(paths[name], "w", encoding="utf-8") as f:
      json.dump(data, f, indent=1)
  return paths


def official_json():
  """An official-format BioASQ file (synthetic) with every question type."""
  def snippets(*texts):
    return [{"text": t, "document": "http://www.ncbi.nlm.nih.gov/pubmed/1",
             "offsetInBeginSection": 0, "offsetInEndSection": len(t),
             "beginSection": "abstract", "endSection": "abstract"}
            for t in texts]

  return {"questions": [
      {"id": qid(1), "type": "factoid",
       "body": "Which gene is mutated in hereditary breast cancer?",
       "exact_answer": [["BRCA1", "breast cancer 1"]],
       "ideal_answer": ["BRCA1."],
       "snippets": snippets(
           "Germline mutations in brca1 cause hereditary breast cancer.",
           "Breast cancer risk depends on age.",
           "The BRCA1 protein repairs DNA.")},
      {"id": qid(2), "type": "factoid", "body": "Which drug is oldest?",
       "exact_answer": [["aspirin"]], "ideal_answer": ["Aspirin."],
       "snippets": snippets("Willow bark was used for pain.")},
      {"id": qid(3), "type": "list",
       "body": "Which genes are tumour suppressors?",
       "exact_answer": [["TP53", "p53"], ["RB1"], ["PTEN"]],
       "ideal_answer": ["TP53, RB1 and PTEN."],
       "snippets": snippets("TP53 and RB1 are tumour suppressors.",
                            "Loss of PTEN activates AKT.",
                            "Nothing here.")},
      {"id": qid(4), "type": "yesno", "body": "Is insulin a hormone?",
       "exact_answer": "yes", "ideal_answer": ["Yes."],
       "snippets": snippets("Insulin is a peptide hormone.",
                            "The pancreas secretes insulin.")},
      {"id": qid(5), "type": "yesno", "body": "Is dopamine a protein?",
       "exact_answer": "no", "ideal_answer": ["No."],
       "snippets": snippets("Dopamine is a catecholamine.")},
      {"id": qid(6), "type": "summary", "body": "What is TNF?",
       "ideal_answer": ["A cytokine."],
       "snippets": snippets("TNF is a cytokine.")},
  ]}
