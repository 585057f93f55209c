"""Prediction: features in, one result dict per feature out, in order."""

from finetuning import progress
from finetuning import records


def predict(estimator, features, record_format, record_file, batch_size,
            checkpoint_path=None):
  """Predictions for `features` (a list), one dict each, in the order given.

  The features are written to `record_file` and read in one pass. With a
  bucketed `record_format` they are predicted sorted by length (batches of
  similar lengths, little padding) and put back in order; sequence outputs
  then have the length of their batch. `checkpoint_path`: the model to
  use (default: the newest checkpoint of the Estimator's directory).
  """
  features = list(features)
  if record_format.bucketed:
    order = sorted(range(len(features)),
                   key=lambda i: records.feature_length(features[i]))
  else:
    order = list(range(len(features)))
  record_format.write((features[i] for i in order), record_file)
  input_fn = record_format.input_fn(record_file, batch_size, False)
  results = [None] * len(features)
  n = 0
  for result, i in zip(progress.timed(
      estimator.predict(input_fn, yield_single_examples=True,
                        checkpoint_path=checkpoint_path), batch_size),
                       order):
    results[i] = result
    n += 1
  if n != len(features):
    raise RuntimeError("the model returned %d predictions for %d features" %
                       (n, len(features)))
  return results
