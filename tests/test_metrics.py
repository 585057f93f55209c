"""biocodes/metrics.py: precision, recall and F1 from counts."""

from biocodes import metrics


def test_prf():
  assert metrics.prf(3, 4, 6) == (0.75, 0.5, 0.6)
  assert metrics.prf(1, 3, 2, scale=100.0) == (100.0 / 3, 50.0, 40.0)
  assert metrics.prf(0, 0, 5) == (0.0, 0.0, 0.0)
  assert metrics.prf(0, 2, 0) == (0.0, 0.0, 0.0)
