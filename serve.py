#!/usr/bin/env python
"""Serves the tagger's models over HTTP: entities, concept IDs, relations.

    python serve.py --models=disease=out_ncbi --normalizers=disease=out_norm \
      --vocab_file=$BIOBERT_DIR/vocab.txt [--re_model=out_gad] [--port=8000]

    curl -s localhost:8000/annotate -H 'Content-Type: application/json' \
      -d '{"text": "BRCA1 mutations cause breast cancer."}'

The same run dirs as tag_corpus.py, each loaded once and checked before
the service starts. POST /annotate answers what tag_corpus.py writes for
the same text (?format=bioc_json, pubtator or jsonl for its bytes; JSON by
default), POST /annotate/file the same for a file's bytes, POST /plain
BERN2's way; concurrent requests are tagged in shared batches (--max_batch
documents, gathered for at most --max_wait_ms). GET / is a page to try it
in a browser; GET /health, GET /metrics (Prometheus), /docs (OpenAPI). Binds 127.0.0.1 unless --host says
otherwise; --api_key (or SERVE_API_KEY) asks for an X-API-Key header.
SIGTERM finishes the requests in flight, then exits.
"""

import argparse
import logging
import os
import signal
import sys

import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines
from corpus import model_flags
from finetuning import errors


def build(args):
  """(annotate, describe) of the checked flags: the models loaded once."""
  from corpus import annotate as annotate_lib  # pylint: disable=g-import-not-at-top
  from corpus import tagging  # pylint: disable=g-import-not-at-top
  vocab_file = os.path.abspath(args.vocab_file)
  if not os.path.isfile(vocab_file):
    raise errors.UserError("--vocab_file=%s: file not found (the vocab.txt "
                           "the models were trained with)" % vocab_file)
  models, re_model, normalizers = model_flags.check(
      args.models, args.re_model, args.normalizers, args.norm_threshold,
      vocab_file)
  ner = [tagging.NerModel(tagging.ModelSpec(*m), vocab_file,
                          args.use_fp16, args.batch_size) for m in models]
  relation = (tagging.ReModel(re_model, vocab_file, args.use_fp16,
                              args.batch_size) if re_model else None)
  norm = {kind: tagging.NormModel(path, vocab_file, args.use_fp16,
                                  args.batch_size, args.norm_threshold)
          for kind, path in normalizers}

  def annotate(docs):
    return annotate_lib.annotate(docs, ner, relation, norm)[0]

  describe = {"models": [{"name": n, "run_dir": p} for n, p, _ in models],
              "re_model": re_model,
              "normalizers": [{"type": k, "run_dir": p}
                              for k, p in normalizers]}
  return annotate, describe


def parse(argv):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                              epilog=__doc__.split("\n", 2)[2],
                              formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("--models", required=True,
                 help="NER run dirs, comma-separated, each type=run_dir "
                 "(untyped B/I/O models) or run_dir (typed labels)")
  p.add_argument("--re_model", help="an RE run dir")
  p.add_argument("--normalizers", help="run_norm.py run dirs, "
                 "type=run_dir, comma-separated")
  p.add_argument("--norm_threshold", type=float, default=None,
                 help="confidence under which an entity gets no ID "
                 "(default: each normalizer's own)")
  p.add_argument("--vocab_file", required=True)
  p.add_argument("--host", default="127.0.0.1",
                 help="the address to listen on (default: this machine "
                 "only)")
  p.add_argument("--port", type=int, default=8000)
  p.add_argument("--api_key", default=os.environ.get("SERVE_API_KEY"),
                 help="require this X-API-Key header (default: "
                 "$SERVE_API_KEY; none: open)")
  p.add_argument("--max_batch", type=int, default=32,
                 help="documents tagged in one batch")
  p.add_argument("--max_wait_ms", type=float, default=50.0,
                 help="how long a batch waits for more documents at most")
  p.add_argument("--batch_gap_ms", type=float, default=5.0,
                 help="a batch goes as soon as no document has come for "
                 "this long")
  p.add_argument("--batch_workers", type=int, default=1,
                 help="batches that may run at once")
  p.add_argument("--max_queue", type=int, default=1024,
                 help="documents waiting before requests get 503")
  p.add_argument("--max_body_bytes", type=int, default=1 << 20)
  p.add_argument("--max_documents", type=int, default=100,
                 help="documents per request")
  p.add_argument("--max_characters", type=int, default=200_000,
                 help="characters of text per request")
  p.add_argument("--batch_size", type=int, default=32,
                 help="sentences a prediction batch holds")
  p.add_argument("--use_fp16", action="store_true")
  args = p.parse_args(argv)
  for flag in ("max_batch", "batch_workers", "max_queue", "max_body_bytes", "max_documents",
               "max_characters", "batch_size", "port"):
    if getattr(args, flag) < 1:
      raise errors.UserError("--%s=%d: expected a whole number >= 1" %
                             (flag, getattr(args, flag)))
  for flag in ("max_wait_ms", "batch_gap_ms"):
    if getattr(args, flag) is not None and getattr(args, flag) < 0:
      raise errors.UserError("--%s=%s: expected a number >= 0" % (
          flag, getattr(args, flag)))
  return args


def main(argv=None):
  args = parse(sys.argv[1:] if argv is None else argv)
  from service import app as app_lib  # pylint: disable=g-import-not-at-top
  import uvicorn  # pylint: disable=g-import-not-at-top
  from finetuning import console  # pylint: disable=g-import-not-at-top
  console.no_deprecation_notices()
  console.setup()  # TensorFlow's records: warnings only
  annotate, describe = build(args)
  limits = app_lib.Limits(args.max_body_bytes, args.max_documents,
                          args.max_characters, args.max_batch,
                          args.max_wait_ms, args.max_queue, args.api_key,
                          args.batch_workers, args.batch_gap_ms)
  app = app_lib.create_app(annotate, limits, describe)
  logging.basicConfig(level=logging.WARNING,
                      format="%(asctime)s %(name)s %(message)s")
  print("Serving %s on http://%s:%d (docs: /docs)" % (
      ", ".join(m["name"] for m in describe["models"]), args.host,
      args.port), flush=True)
  # uvicorn answers SIGTERM by finishing the requests in flight, then
  # raises the signal again for the handler it found: this one, so that a
  # stopped service exits 0 and says so.
  stopped = []
  signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
  uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
  print("Stopped%s: the requests in flight were answered" % (
      " by SIGTERM" if stopped else ""), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(errors.run_main(main)(sys.argv[1:]))
