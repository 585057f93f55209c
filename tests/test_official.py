"""biocodes/convert_official.py: the official releases to the runners'
files, their counts beside BioBERT's sets and the published ones, and what
a damaged release gives."""

import collections
import json
import os

import pytest

from biocodes import re_io
from biocodes.official import corpora
from biocodes.official import ner_tsv
from biocodes.official import pubtator
from biocodes.official import relations
from finetuning import errors
from tests.conftest import SHARED
from tests.helpers import run_tool, write_file

OFFICIAL = os.path.join(SHARED, "data", "official")
RELEASES = {"NCBI-disease": "NCBI-disease", "BC5CDR-disease": "BC5CDR",
            "BC5CDR-chem": "BC5CDR", "BioRED": "BioRED",
            "ChemProt": "ChemProt", "DDI": "DDI2013", "DrugProt": "DrugProt"}


def _convert(name, markers=False):
  return corpora.convert(name, os.path.join(OFFICIAL, RELEASES[name]),
                         os.path.join(SHARED, "data", "NER"), markers)


# (sentences, entities, BioBERT's sentences, identical) per split.
NER_COUNTS = {
    "NCBI-disease": {"train": (5391, 5145, 5424, 5247),
                     "devel": (913, 787, 923, 903),
                     "test": (924, 960, 940, 902)},
    "BC5CDR-disease": {"train": (4521, 4182, 4560, 4411),
                       "devel": (4540, 4244, 4581, 4434),
                       "test": (4762, 4424, 4797, 4602)},
    "BC5CDR-chem": {"train": (4521, 5203, 4560, 4411),
                    "devel": (4540, 5347, 4581, 4434),
                    "test": (4762, 5385, 4797, 4602)},
}


@pytest.mark.parametrize("name", sorted(NER_COUNTS))
def test_ner_corpora_agree_with_biobert_sets(name):
  report = _convert(name).report
  for split, (n, entities, ref_n, identical) in NER_COUNTS[name].items():
    entry = report["splits"][split]
    agreement = entry["agreement"]
    assert (agreement["sentences"], agreement["entities"],
            agreement["reference_sentences"], agreement["identical"]) == (
                n, entities, ref_n, identical), split
  # BioBERT's sets hold the same entities, but for NCBI-disease's training
  # set (5,134 there: the official file has 5,145 mentions). One of them has
  # spaces after its text column ('... " plus "  '): kept, its text read at
  # its offsets.
  ncbi = {"train": 5134, "devel": 787, "test": 960}
  if name == "NCBI-disease":
    assert {s: e["agreement"]["reference_entities"]
            for s, e in report["splits"].items()} == ncbi
    assert report["splits"]["train"]["skipped"] == []


def test_biored_is_typed():
  conversion = _convert("BioRED")
  report = conversion.report["splits"]
  assert [report[s]["counts"]["entities"] for s in ("train", "devel",
                                                     "test")] == [
      13335, 3533, 3535]
  assert report["train"]["counts"][
      "mentions skipped: overlap another mention"] == 16
  tags = {line.split("\t")[1] for line in conversion.files[
      "train.tsv"].splitlines() if line}
  assert tags == {"O"} | {"%s-%s" % (p, t) for p in "BI"
                          for t in corpora.BIORED_TYPES}


RE_COUNTS = {
    "ChemProt": ({"train": 16969, "dev": 10675, "test": 14359},
                 {"train": 18035, "dev": 11268, "test": 15745}),
    "DDI": ({"train": 24205, "dev": 3536, "test": 5709},
            {"train": 25296, "dev": 2496, "test": 5716}),
    "DrugProt": ({"train": 60569, "dev": 12783, "test": 12783}, {}),
}


@pytest.mark.parametrize("name", sorted(RE_COUNTS))
def test_relation_corpora_counts_beside_the_published(name):
  conversion = _convert(name)
  ours, published = RE_COUNTS[name]
  splits = conversion.report["splits"]
  assert {s: e["instances"] for s, e in splits.items()} == ours
  assert {s: e["published_instances"] for s, e in splits.items()
          if "published_instances" in e} == published
  test = conversion.files["test.tsv"].splitlines()
  assert test[0] == "index\tsentence\tlabel" and len(test) == ours["test"] + 1
  assert all(len(l.split("\t")) == 2 for l in
             conversion.files["train.tsv"].splitlines())
  if name == "ChemProt":
    assert splits["test"]["labels"] == {
        "cpr:3": 665, "cpr:4": 1661, "cpr:5": 192, "cpr:6": 279,
        "cpr:9": 643, "false": 10919}
    assert test[1] == ("10076535.T44.T63\t@CHEMICAL$ antagonistic effect of "
                       "estramustine phosphate (EMP) metabolites on wild-type "
                       "and mutated @GENE$.\tcpr:6")
  if name == "DDI":
    assert splits["test"]["labels"] == {"advise": 221, "effect": 360,
                                        "false": 4730, "int": 96,
                                        "mechanism": 302}
    assert splits["train"]["counts"]["interactions without a type (pair "
                                     "left out)"] == 1


def test_markers_instead_of_masks():
  masked = _convert("DDI").files["test.tsv"].splitlines()[1]
  marked = _convert("DDI", markers=True).files["test.tsv"].splitlines()[1]
  assert masked.split("\t")[1] == (
      "Pharmacokinetic properties of @DRUG$ were not altered by the addition "
      "of either @DRUG$ or zidovudine or the combination of lamivudine and "
      "zidovudine. ")
  assert marked.split("\t")[1] == (
      "Pharmacokinetic properties of @ * drug * abacavir @ were not altered "
      "by the addition of either # ^ drug ^ lamivudine # or zidovudine or the "
      "combination of lamivudine and zidovudine. ")
  assert re_io.has_markers(marked) and not re_io.has_markers(masked)


def test_mark_and_mask_a_pair():
  first, second = re_io.Span(0, 7, "CHEMICAL"), re_io.Span(17, 21, "GENE")
  text = "Aspirin inhibits COX1."
  assert re_io.mask_pair(text, first, second) == "@CHEMICAL$ inhibits @GENE$."
  assert re_io.mark_pair(text, first, second) == (
      "@ * chemical * Aspirin @ inhibits # ^ gene ^ COX1 #.")


# Damaged releases: an error with file:line, or a counted and reported skip.

PUBTATOR = """1|t|Breast cancer in BRCA1 carriers.
1|a|Ovarian cancer. Aspirin was given.
1\t0\t13\tBreast cancer\tDisease\tD001943
1\t0\t6\tBreast\tDisease\tD001941
1\t33\t47\tOvarian cancer\tDisease\tD010051
1\t33\t40\tWrong\tDisease\tD0
1\t49\t56\tAspirin\tChemical\tD001241

"""


def test_pubtator_skips_are_counted_and_located(tmp_path):
  path = write_file(tmp_path / "c.txt", PUBTATOR)
  found, counts, skips = ner_tsv.convert(path, {"Disease": "Disease"}, False)
  assert [(s.words[0][0], s.tags) for s in found][0] == (
      "Breast", ["B", "I", "O", "O", "O", "O"])
  assert counts["entities"] == 2
  assert counts["mentions skipped: overlap another mention"] == 1
  assert counts["mentions skipped: text not at offsets"] == 1
  assert [s.where for s in skips] == ["%s:6" % path, "%s:4" % path]
  assert "'Wrong' is not the text at 33-40 ('Ovarian')" in skips[0].reason


@pytest.mark.parametrize("text,line,message", [
    ("1|t|A.\n1|a|B.\n1\tx\n", 3, "expected PMID<TAB>start<TAB>end"),
    ("1|t|A.\n2|a|B.\n", 2, "PMID 2 in the record of 1: a blank line is "
     "missing"),
    ("1|t|A.\n1\t0\t1\tA\tDisease\tD1\n", 1, "document 1 has no PMID|a| "
     "line"),
    ("garbage\n", 1, "expected PMID|t|title"),
])
def test_pubtator_errors_name_the_line(tmp_path, text, line, message):
  path = write_file(tmp_path / "c.txt", text)
  with pytest.raises(errors.InputError) as e:
    pubtator.read(path)
  assert (e.value.path, e.value.line) == (path, line)
  assert message in e.value.message


def _chemprot(folder, entities, relations_text, abstract="Aspirin inhibits "
              "COX1 and COX2."):
  folder.mkdir()
  write_file(folder / "x_abstracts.tsv", "7\tTitle.\t%s\n" % abstract)
  write_file(folder / "x_entities.tsv", entities)
  write_file(folder / "x_gold_standard.tsv", relations_text)
  return str(folder)


def test_chemprot_skips_and_pairs(tmp_path):
  folder = _chemprot(
      tmp_path / "c",
      "7\tT1\tCHEMICAL\t7\t14\tAspirin\n7\tT2\tGENE-Y\t24\t28\tCOX1\n"
      "7\tT3\tGENE-N\t33\t37\tCOX2\n7\tT4\tGENE-N\t33\t37\tCOXX\n",
      "7\tCPR:4\tArg1:T1\tArg2:T2\n7\tCPR:4\tArg1:T1\tArg2:T9\n"
      "7\tCPR:1\tArg1:T1\tArg2:T3\n")
  counts, skips = collections.Counter(), []
  docs = relations.read_biocreative(
      folder, lambda l: l.lower() if l in corpora.CHEMPROT_GROUPS else None,
      counts, skips)
  rows = [r for d in docs for r in relations.instances(
      d, {"CHEMICAL"}, {"GENE"}, counts, skips, folder)]
  assert [(r.sentence, r.label) for r in rows] == [
      ("@CHEMICAL$ inhibits @GENE$ and COX2.", "cpr:4"),
      ("@CHEMICAL$ inhibits COX1 and @GENE$.", "false")]
  assert counts["entities skipped: text not at offsets"] == 1
  assert counts["relations skipped: name a missing entity"] == 1
  assert counts["relations of other groups (not evaluated)"] == 1
  assert [s.where.rsplit("/", 1)[1] for s in skips] == [
      "x_entities.tsv:4", "x_gold_standard.tsv:2"]


def test_chemprot_errors_name_the_line(tmp_path):
  folder = _chemprot(tmp_path / "c", "7\tT1\tCHEMICAL\tseven\t14\tAspirin\n",
                     "")
  with pytest.raises(errors.InputError) as e:
    relations.read_biocreative(folder, lambda l: l, collections.Counter(), [])
  assert str(e.value).endswith("x_entities.tsv:1: offsets 'seven'-'14' are "
                               "not numbers")
  folder = _chemprot(tmp_path / "d", "8\tT1\tCHEMICAL\t7\t14\tAspirin\n", "")
  with pytest.raises(errors.InputError, match="x_entities.tsv:1: PMID 8 is "
                     "not in x_abstracts.tsv"):
    relations.read_biocreative(folder, lambda l: l, collections.Counter(), [])


DDI = """<?xml version="1.0" encoding="UTF-8"?>
<document id="d1">
  <sentence id="d1.s0" text="Alpha- and beta-blockers raise digoxin levels.">
    <entity id="d1.s0.e0" charOffset="0-5;16-23" type="group" text="Alpha-blockers"/>
    <entity id="d1.s0.e1" charOffset="31-37" type="drug" text="digoxin"/>
    <entity id="d1.s0.e2" charOffset="11-23" type="group" text="beta-blockers"/>
    <pair id="d1.s0.p0" e1="d1.s0.e0" e2="d1.s0.e1" ddi="true" type="mechanism"/>
    <pair id="d1.s0.p1" e1="d1.s0.e0" e2="d1.s0.e2" ddi="false"/>
    <pair id="d1.s0.p2" e1="d1.s0.e2" e2="d1.s0.e1" ddi="true"/>
  </sentence>
</document>
"""


def test_ddi_discontinuous_overlapping_and_untyped(tmp_path):
  path = write_file(tmp_path / "d.xml", DDI)
  counts, skips = collections.Counter(), []
  docs = relations.read_ddi([path], counts, skips)
  rows = [r for d in docs for r in relations.instances(
      d, {"DRUG"}, {"DRUG"}, counts, skips, path)]
  assert [(r.index, r.sentence, r.label) for r in rows] == [
      ("d1.s0.e0.e1", "@DRUG$ raise @DRUG$ levels.", "mechanism")]
  assert counts["discontinuous entities (masked from first to last "
                "character)"] == 1
  assert counts["pairs skipped: the two entities overlap"] == 1
  assert counts["interactions without a type (pair left out)"] == 1
  assert skips[0].where == "%s:9" % path


@pytest.mark.parametrize("text,line,message", [
    (DDI.replace("</document>", ""), 12, "not well-formed XML"),
    (DDI.replace('charOffset="31-37"', 'charOffset="31"'), 5,
     "charOffset '31' is not s-e[;s-e] inside the sentence"),
    (DDI.replace('charOffset="31-37"', 'charOffset="31-99"'), 5,
     "charOffset '31-99' is not s-e[;s-e] inside the sentence"),
])
def test_ddi_errors_name_the_line(tmp_path, text, line, message):
  path = write_file(tmp_path / "d.xml", text)
  with pytest.raises(errors.InputError) as e:
    relations.read_ddi([path], collections.Counter(), [])
  assert (e.value.path, e.value.line) == (path, line)
  assert message in e.value.message


def test_command_line_writes_files_and_report(tmp_path):
  release = tmp_path / "release"
  release.mkdir()
  for name in ("CDR_TrainingSet.PubTator.txt",
               "CDR_DevelopmentSet.PubTator.txt", "CDR_TestSet.PubTator.txt"):
    write_file(release / name, PUBTATOR)
  out = tmp_path / "out"
  result = run_tool(["biocodes/convert_official.py", "BC5CDR-disease",
                     "--release_dir=" + str(release),
                     "--output_dir=" + str(out)])
  assert sorted(os.listdir(out)) == [
      "conversion_report.json", "devel.tsv", "test.tsv", "train.tsv",
      "train_dev.tsv"]
  assert (out / "train.tsv").read_text().startswith(
      "Breast\tB\ncancer\tI\nin\tO\n")
  report = json.loads((out / "conversion_report.json").read_text())
  assert report["splits"]["test"]["counts"]["entities"] == 2
  assert result.stdout.splitlines()[1] == (
      "  train      3 sentences,     2 entities; 2 skipped (see the report)")


def test_command_line_refuses_before_writing(tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  write_file(out / "notes.txt", "mine")
  release = tmp_path / "release"
  release.mkdir()
  for name in ("CDR_TrainingSet.PubTator.txt",
               "CDR_DevelopmentSet.PubTator.txt", "CDR_TestSet.PubTator.txt"):
    write_file(release / name, PUBTATOR)
  result = run_tool(["biocodes/convert_official.py", "BC5CDR-disease",
                     "--release_dir=" + str(release),
                     "--output_dir=" + str(out)], expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == (
      "error: --output_dir=%s holds other files (notes.txt); give an empty "
      "or new folder\n" % out)
  assert os.listdir(out) == ["notes.txt"]
  write_file(release / "CDR_TestSet.PubTator.txt", "1|t|A.\n1\tx\n")
  fresh = tmp_path / "fresh"
  result = run_tool(["biocodes/convert_official.py", "BC5CDR-disease",
                     "--release_dir=" + str(release),
                     "--output_dir=" + str(fresh)], expect_ok=False)
  assert result.returncode == 2
  assert result.stderr.startswith("error: %s:2: expected PMID<TAB>start" % (
      release / "CDR_TestSet.PubTator.txt"))
  assert not fresh.exists()
