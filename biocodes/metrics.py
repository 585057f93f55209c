"""Precision, recall and F1 from counts (the one formula every scorer
uses), and the mean ± sd of repeated runs."""

import math


def prf(correct, predicted, gold, scale=1.0):
  """(precision, recall, F1) times `scale`; 0 where a ratio is undefined.

  Computed as conlleval does: scale * correct / predicted, and
  2 * p * r / (p + r).
  """
  precision = scale * correct / predicted if predicted else 0.0
  recall = scale * correct / gold if gold else 0.0
  f1 = (2 * precision * recall / (precision + recall)
        if precision + recall > 0 else 0.0)
  return precision, recall, f1


def mean_sd(values):
  """(mean, sample standard deviation); sd is 0 for a single value."""
  n = len(values)
  mean = sum(values) / n
  if n < 2:
    return mean, 0.0
  return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
