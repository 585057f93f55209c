"""Plumbing shared by run_ner.py, run_re.py and run_qa.py.

- `errors`: user-facing errors (file, line, what was expected) and atomic writes.
- `flags`: the flags every runner takes, with the original names and defaults.
- `records`: TFRecord writing and the Estimator input functions.
- `run_dir`: the output-dir guard (what run a directory holds) and resume.
- `estimator`: model_fn building, checkpoint restore, progress, train/eval/predict.
"""
