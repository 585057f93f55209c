"""The relation extraction data sets: everything the suite knows of each.

One row per data set, read by run_re.py (labels, what it pairs in raw
text, the dev metric), re_eval.py (how to score), run_re_folds.py (which
numbers to average) and raw-text RE. A new data set in BioBERT's RE layout
(`train.tsv`, `dev.tsv`, `test.tsv`, entities masked as @TYPE$) is one more
row here.
"""

import collections

Dataset = collections.namedtuple(
    "Dataset", ["name", "labels", "entity_types", "metric"])
Dataset.__doc__ = """One RE data set.

name: the --task_name.
labels: the label column's values, in the order of the model's outputs.
entity_types: the two types a pair relates, in the order of the pair
  (raw-text RE masks an entity of the first and one of the second).
metric: "binary": precision, recall and F1 of label "1" and specificity
  (GAD, EU-ADR); "micro": micro-averaged precision, recall and F1 over
  every label but the last, the negative one (ChemProt).
"""

BINARY, MICRO = "binary", "micro"

DATASETS = collections.OrderedDict((d.name, d) for d in [
    Dataset("gad", ["0", "1"], ("GENE", "DISEASE"), BINARY),
    Dataset("euadr", ["0", "1"], ("GENE", "DISEASE"), BINARY),
    Dataset("chemprot", ["cpr:3", "cpr:4", "cpr:5", "cpr:6", "cpr:9", "false"],
            ("CHEMICAL", "GENE"), MICRO),
    Dataset("ddi", ["advise", "effect", "int", "mechanism", "false"],
            ("DRUG", "DRUG"), MICRO),
    Dataset("drugprot", [
        "ACTIVATOR", "AGONIST", "AGONIST-ACTIVATOR", "AGONIST-INHIBITOR",
        "ANTAGONIST", "DIRECT-REGULATOR", "INDIRECT-DOWNREGULATOR",
        "INDIRECT-UPREGULATOR", "INHIBITOR", "PART-OF", "PRODUCT-OF",
        "SUBSTRATE", "SUBSTRATE_PRODUCT-OF", "false"],
            ("CHEMICAL", "GENE"), MICRO),
])

# Entity types raw-text RE accepts (upper case).
ENTITY_TYPES = list(collections.OrderedDict.fromkeys(
    t for d in DATASETS.values() for t in d.entity_types))

# The metric's key in scores and dev evaluations.
MAIN_SCORE = {BINARY: "f1", MICRO: "micro_f1"}


def get(name):
  """The data set called `name` (any case), or None."""
  return DATASETS.get((name or "").lower())


def for_metric(metric):
  """A data set scored by `metric` (re_eval.py's --task): its labels."""
  return next(d for d in DATASETS.values() if d.metric == metric)
