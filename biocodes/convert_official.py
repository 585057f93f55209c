#!/usr/bin/env python
"""Converts an official corpus release to the runners' files, with a report.

    python biocodes/convert_official.py CORPUS --release_dir=DIR \
      --output_dir=OUT [--reference_dir=datasets/NER] [--entity_markers]

CORPUS is one of NCBI-disease, BC5CDR-disease, BC5CDR-chem, BioRED (NER:
train.tsv, devel.tsv, test.tsv, train_dev.tsv) or ChemProt, DDI, DrugProt
(RE: train.tsv, dev.tsv, test.tsv, entities masked as @TYPE$ or, with
--entity_markers, marked). DIR is the unpacked release (./download.sh
official puts them in datasets/official/<corpus>/). What was counted and
skipped goes to OUT/conversion_report.json, and the counts are printed
beside the published ones (and, with --reference_dir, beside BioBERT's
preprocessed NER sets).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from biocodes.official import corpora  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402

REPORT = "conversion_report.json"


def _check_output_dir(path, names):
  """Refuses a folder holding files this conversion would not write."""
  problem = files.directory_problem(path, create=True)
  if problem:
    raise errors.UserError("--output_dir=%s: %s" % (path, problem))
  if os.path.isdir(path):
    other = sorted(set(os.listdir(path)) - set(names) - {REPORT})
    if other:
      raise errors.UserError(
          "--output_dir=%s holds other files (%s); give an empty or new "
          "folder" % (path, ", ".join(other[:3])))


def main(argv=None):
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter,
      epilog="\n".join(__doc__.split("\n")[4:]))
  parser.add_argument("corpus", choices=list(corpora.CORPORA))
  parser.add_argument("--release_dir", required=True,
                      help="the unpacked official release of the corpus")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--reference_dir", default=None,
                      help="BioBERT's preprocessed NER sets (datasets/NER) "
                      "to report the agreement with")
  parser.add_argument("--entity_markers", action="store_true",
                      help="RE: typed markers around the two entities "
                      "instead of @TYPE$ masks (run_re.py "
                      "--entity_markers)")
  args = parser.parse_args(argv)
  conversion = corpora.convert(args.corpus, args.release_dir,
                               args.reference_dir, args.entity_markers)
  _check_output_dir(args.output_dir, conversion.files)
  os.makedirs(args.output_dir, exist_ok=True)
  for name, text in conversion.files.items():
    files.atomic_write(os.path.join(args.output_dir, name), text)
  report = os.path.join(args.output_dir, REPORT)
  files.atomic_write(report, json.dumps(conversion.report, indent=1,
                                        ensure_ascii=False) + "\n")
  print("%s -> %s" % (args.corpus, args.output_dir))
  for line in corpora.summary(conversion.report):
    print("  " + line)
  if "published_source" in conversion.report:
    print("  published: %s" % conversion.report["published_source"])
  if "note" in conversion.report:
    print("  note: %s" % conversion.report["note"])
  print("Report (counts and every skip with file:line): %s" % report)
  return 0


if __name__ == "__main__":
  sys.exit(errors.run_main(main, resume_hint="run the same command again")(
      None))
