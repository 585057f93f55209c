"""The suite runner (run_suite.py): many runs over data sets, folds and seeds
scheduled by Dask distributed, and their report."""
