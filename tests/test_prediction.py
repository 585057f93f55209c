"""finetuning.prediction: results in the order of the features."""

import numpy as np

from finetuning import estimator as est
from finetuning import prediction
from finetuning import records
from tests import toy_task


def _predict(tiny_bert_dir, tmp_path, bucketed):
  config = toy_task.config(tiny_bert_dir, str(tmp_path / str(bucketed)))
  e = est.create_estimator(config, toy_task.bert_config(tiny_bert_dir),
                           toy_task.head)
  fmt = records.RecordFormat(toy_task.FIELDS, toy_task.SEQ, bucketed)
  feats = toy_task.features(n=13, seed=3)
  return feats, prediction.predict(e, feats, fmt,
                                   str(tmp_path / ("%s.tf_record" % bucketed)),
                                   batch_size=4)


def test_bucketed_prediction_keeps_the_order_and_the_numbers(tiny_bert_dir,
                                                             tmp_path):
  feats, padded = _predict(tiny_bert_dir, tmp_path, False)
  _, bucketed = _predict(tiny_bert_dir, tmp_path, True)
  assert len(padded) == len(bucketed) == 13
  # Lengths differ, so sorting changed the order; results still line up.
  lengths = [len(f["input_ids"]) for f in feats]
  assert lengths != sorted(lengths)
  for a, b in zip(padded, bucketed):
    np.testing.assert_allclose(a["probabilities"], b["probabilities"],
                               rtol=1e-5, atol=1e-6)
  assert len({tuple(np.round(r["probabilities"], 6)) for r in padded}) > 1
