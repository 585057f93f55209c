"""Helpers for tests that run the command-line tools."""

import contextlib
import os
import random
import subprocess
import sys

from tests.conftest import ROOT


def run_tool(args, expect_ok=True, env=None, timeout=600):
  """Runs `python <args...>` from the project root; returns the result."""
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
  result = subprocess.run([sys.executable] + list(args), cwd=ROOT,
                          capture_output=True, text=True, env=full_env,
                          timeout=timeout)
  if expect_ok and result.returncode != 0:
    raise AssertionError("%s failed (%d):\n%s\n%s" %
                         (args[0], result.returncode, result.stdout[-3000:],
                          result.stderr[-6000:]))
  return result


def write_file(path, text):
  """Writes `text` (UTF-8) to `path`; returns the path as a string."""
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def slice_sentences(src, dst, n):
  """Writes the first `n` blank-line separated sentences of `src` to `dst`."""
  with open(src, encoding="utf-8") as f:
    sentences = [s for s in f.read().split("\n\n") if s.strip()][:n]
  with open(dst, "w", encoding="utf-8") as f:
    f.write("\n\n".join(s.strip("\n") for s in sentences) + "\n")
  return sentences


def bert_flags(bert):
  """The model flags for a tiny BERT written by tests.tiny_bert."""
  return ["--vocab_file=" + bert["vocab"],
          "--bert_config_file=" + bert["config"],
          "--init_checkpoint=" + bert["ckpt"]]


def fill_disk(path, leave):
  """Writes path/filler so that about `leave` bytes stay free."""
  stat = os.statvfs(str(path))
  free = stat.f_bavail * stat.f_frsize
  with open(os.path.join(str(path), "filler"), "wb") as f:
    f.write(b"\0" * max(free - leave, 0))


TYPED_VOCAB = ["aspirin", "induced", "renal", "failure", "in", "BRCA1",
               "carriers", "with", "acute", "disease", ",", "and", "the"]


def typed_ner_data(directory):
  """Short sentences of TYPED_VOCAB with Chemical, Disease and Gene tags."""
  rng = random.Random(5)
  sentences_ = []
  for _ in range(80):
    rows, last = [], "O"
    for _ in range(rng.randint(5, 14)):
      w = rng.choice(TYPED_VOCAB)
      t = {"aspirin": "B-Chemical", "renal": "B-Disease",
           "BRCA1": "B-Gene"}.get(w, "O")
      if w == "failure" and last.endswith("Disease"):
        t = "I-Disease"
      rows.append("%s\t%s" % (w, t))
      last = t
    sentences_.append("\n".join(rows))
  os.makedirs(directory)
  for name in ("train_dev.tsv", "devel.tsv", "test.tsv"):
    write_file(os.path.join(directory, name), "\n\n".join(sentences_) + "\n")


def train_typed_ner(tiny_bert_dir, root):
  """A tiny typed NER run (Chemical, Disease, Gene) in root/ner; its dir."""
  data = os.path.join(str(root), "ner_data")
  typed_ner_data(data)
  out = os.path.join(str(root), "ner")
  run_tool(["run_ner.py", "--do_train=true", "--do_predict=false",
            "--data_dir=" + data, "--output_dir=" + out,
            "--max_seq_length=32", "--num_train_epochs=4",
            "--train_batch_size=8", "--learning_rate=3e-3", "--seed=1"] +
           bert_flags(tiny_bert_dir))
  return out


# What term_tagger finds: (text, type, concept (ids, name) or None for "no
# concept above the threshold", or False for a type without a normalizer).
TERMS = (("BRCA1", "Gene", False),
         ("breast cancer", "Disease", (["MESH:D001943"], "Breast Neoplasms")),
         ("cancer", "Disease", None),
         ("tamoxifen", "Chemical", False))


def term_tagger(calls=None):
  """An annotate(documents) for the service without a model: TERMS where
  they occur, in the tagged-document shape of corpus/annotate.py, and a
  relation BRCA1 -> breast cancer where both are in one document."""
  from corpus import documents  # pylint: disable=g-import-not-at-top

  def annotate(docs):
    if calls is not None:
      calls.append(len(docs))
    out = []
    for doc in docs:
      found = []
      for p, passage in enumerate(doc.passages):
        for text, kind, concept in TERMS:
          start = passage.text.find(text)
          while start >= 0:
            a = {"passage": p, "type": kind, "offset": passage.offset + start,
                 "length": len(text), "text": text, "model": kind.lower(),
                 "score": 0.9}
            if concept is not False:
              a["concept"] = concept and {
                  "id": concept[0][0], "ids": concept[0], "name": concept[1],
                  "score": 0.75, "model": "medic"}
            found.append(a)
            start = passage.text.find(text, start + 1)
      found.sort(key=lambda a: (a["offset"], a["length"]))
      annotations = [dict({"id": "T%d" % k}, **a)
                     for k, a in enumerate(found, 1)]
      first = {a["text"]: a["id"] for a in reversed(annotations)}
      relations = ([{"id": "R1", "type": "Association", "score": 0.8,
                     "model": "gad", "arg1": first["BRCA1"],
                     "arg2": first["breast cancer"]}]
                   if {"BRCA1", "breast cancer"} <= set(first) else [])
      tagged = documents.to_json(doc)
      tagged.update(annotations=annotations, relations=relations)
      out.append(tagged)
    return out
  return annotate


@contextlib.contextmanager
def serving(app):
  """The ASGI `app` on a free loopback port, served by uvicorn on a
  thread; yields its base URL and stops it after."""
  import socket  # pylint: disable=g-import-not-at-top
  import threading  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  import uvicorn  # pylint: disable=g-import-not-at-top
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                         log_level="warning"))
  thread = threading.Thread(target=server.run, daemon=True)
  thread.start()
  deadline = time.time() + 30
  while not server.started:
    assert time.time() < deadline and thread.is_alive(), "not started"
    time.sleep(0.05)
  try:
    yield "http://127.0.0.1:%d" % port
  finally:
    server.should_exit = True
    thread.join(30)
