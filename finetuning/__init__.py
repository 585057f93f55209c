"""What run_ner.py, run_re.py and run_qa.py share: the task driver and its plumbing.

`driver.run(task, config)` runs any `driver.Task` as a `config.RunConfig`
asks; the README's "Layout" section says what each module does.
"""

import os

# TensorFlow's C++ INFO lines at start-up (oneDNN, CPU features) are not for
# the user; its warnings stay. Read once, when TensorFlow loads: the runners
# import this package first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
