"""What run_ner.py, run_re.py and run_qa.py share: the task driver and its plumbing.

`driver.run(task, config)` runs any `driver.Task` as a `config.RunConfig`
asks; the README's "Layout" section says what each module does.
"""
