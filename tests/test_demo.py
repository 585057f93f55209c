"""demo.sh runs the whole NER pipeline (tiny model, a few steps)."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_with_biobert_dir(tiny_bert_dir, tmp_path):
  env = dict(os.environ, PYTHON=sys.executable, BIOBERT_DIR=tiny_bert_dir["dir"],
             DEMO_OUTPUT=str(tmp_path), DEMO_EPOCHS="0.2",
             TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(["bash", os.path.join(ROOT, "demo.sh")], env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  out = tmp_path / ("ner_" + os.path.basename(tiny_bert_dir["dir"]))
  scores = json.loads((out / "ner_scores.json").read_text())["entity_level"]
  assert scores["gold"] == 185  # entities in the bundled 200 test sentences
  assert ("== demo done: entity-level precision %.2f, recall %.2f, F1 %.2f" %
          (scores["precision"], scores["recall"], scores["f1"])
          in result.stdout)
  assert "processed 4905 tokens with 185 phrases" in result.stdout
  assert (out / "NER_result_conll.txt").is_file()
  # A console for people: no TensorFlow log, the score and time last.
  lines = (result.stdout + result.stderr).splitlines()
  assert len(lines) <= 40, "\n".join(lines)
  assert not [l for l in lines if "tensorflow" in l.lower() or "INFO" in l]
  assert result.stdout.splitlines()[-2].startswith("== demo done: ")
  assert " s in all" in result.stdout.splitlines()[-1]
  assert "name = bert/embeddings" in (out / "run.log").read_text()
