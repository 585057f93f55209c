"""biocodes/bioasq_ids.py: `<24-character id>_<nnn>` qas ids."""

import pytest

from biocodes import bioasq_ids


def test_question_id():
  assert bioasq_ids.question_id("5a6d186db750ff4455000031_007") == (
      "5a6d186db750ff4455000031")
  for bad in ("5a6d186db750ff4455000031", "short_001",
              "5a6d186db750ff4455000031_01", 17, None):
    with pytest.raises(ValueError, match="not of the form"):
      bioasq_ids.question_id(bad)
