"""BioASQ question ids in SQuAD-format files: `<24-character id>_<nnn>`.

The BioBERT release turns every (question, snippet) pair into one SQuAD
question whose id is the BioASQ question id, an underscore and the snippet
number; the answers of a question's snippets are pooled by that id.
"""

import re

QAS_ID = re.compile(r"^(.{24})_(\d{3})$")


def question_id(qas_id):
  """The 24-character BioASQ id of a `<id>_<3 digits>` qas id.

  Raises:
    ValueError: `qas_id` is not of that form.
  """
  m = QAS_ID.match(qas_id) if isinstance(qas_id, str) else None
  if not m:
    raise ValueError(
        "qas id %r is not of the form <24-character BioASQ question "
        "id>_<3-digit snippet number>" % (qas_id,))
  return m.group(1)
