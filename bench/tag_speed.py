#!/usr/bin/env python
"""tag_corpus.py against transformers' token-classification pipeline.

    python bench/tag_speed.py --peer_python=.venv-peer/bin/python \
      --run_dir=suite_minilm/ner/NCBI-disease/all/seed1 --vocab_file=$MINILM_TF/vocab.txt

The work: --abstracts pseudo-abstracts of 10 NCBI-disease sentences each
(train_dev.tsv, words joined by spaces), tagged for diseases by one
fine-tuned NER run. Ours: `tag_corpus.py --format=jsonl` on a local
cluster of one worker (every core). The peer, as a user would run it: the
same model exported with export_model.py, loaded by
`pipeline("token-classification", aggregation_strategy="first",
batch_size=--batch_size)` and given the same sentences (the ones our
splitter found, so both tag the same text), with the labels the export
gives a pipeline (B-Disease, I-Disease, O: --entity_type=Disease). The two alternate --repeats times per precision (float32, and
bfloat16 where the CPU has it: ours --use_fp16, the peer under
torch.autocast); medians.

With --normalizers=disease=NORM_RUN, each repeat also tags with that
run_norm.py run ("ours+norm"): the cost of concept IDs in abstracts/s and
in peak resident memory (the largest process of the command: the Dask
worker). The lexicon's embeddings are computed by the first such run
and cached in the run dir: a warm-up run comes first.

Printed: abstracts/s and sentences/s of the tagging itself (ours: the
time in the shard parts, from manifest.json; the peer: the pipeline call)
and of the whole command (model loading and start-up included), the ratio,
how many entity spans the two give and share, and the arithmetic limit:
the forward FLOPs of the work (2 x parameters x pieces + attention, no
padding) over TensorFlow's measured matmul peak.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import NCBI  # noqa: E402

from bench.common import run_measured  # noqa: E402
from bench.peer import matmul_peak  # noqa: E402

PEER = r'''
import json, sys, time
t0 = time.time()
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline
hf_dir, sentences_path, out, bf16, batch = sys.argv[1:6]
sentences = json.load(open(sentences_path))
model = AutoModelForTokenClassification.from_pretrained(hf_dir)
tokenizer = AutoTokenizer.from_pretrained(hf_dir)
pipe = pipeline("token-classification", model=model, tokenizer=tokenizer,
                aggregation_strategy="first", device=-1)
loaded = time.time()
texts = [s["text"] for s in sentences]
with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                           enabled=bf16 == "1"):
  found = pipe(texts, batch_size=int(batch))
seconds = time.time() - loaded
spans = []
for s, entities in zip(sentences, found):
  for e in entities:
    spans.append([s["doc"], s["start"] + int(e["start"]),
                  s["start"] + int(e["end"])])
json.dump(spans, open(out, "w"))
print(json.dumps({"tag_seconds": seconds, "load_seconds": loaded - t0}))
'''


def pseudo_abstracts(n, per=10):
  """n JSONL records of `per` NCBI-disease sentences each."""
  with open(os.path.join(NCBI, "train_dev.tsv"), encoding="utf-8") as f:
    blocks = [b for b in f.read().split("\n\n") if b.strip()]
  sentences = [" ".join(l.split("\t")[0] for l in b.splitlines() if l)
               for b in blocks]
  if len(sentences) < n * per:
    raise SystemExit("NCBI-disease has %d sentences, fewer than %d" %
                     (len(sentences), n * per))
  return [{"id": "abs%04d" % i,
           "text": " ".join(sentences[i * per:(i + 1) * per])}
          for i in range(n)]


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--peer_python", default=None,
                 help="the peer's Python (its venv: bench/requirements-peer."
                 "txt); without it only this project is measured")
  p.add_argument("--run_dir", required=True, help="a run_ner.py run dir")
  p.add_argument("--vocab_file", required=True)
  p.add_argument("--work", default=tempfile.mkdtemp(prefix="tag-bench-"))
  p.add_argument("--abstracts", type=int, default=500)
  p.add_argument("--batch_size", type=int, default=32)
  p.add_argument("--repeats", type=int, default=2)
  p.add_argument("--precisions", default="fp32,bf16")
  p.add_argument("--normalizers", default=None,
                 help="type=run_dir of run_norm.py runs: also measure "
                 "tagging with concept IDs")
  args = p.parse_args()
  work = args.work
  os.makedirs(work, exist_ok=True)
  if not (args.peer_python and os.path.exists(args.peer_python)):
    print("peer side skipped: no --peer_python (make its venv from "
          "bench/requirements-peer.txt); measuring this project only",
          flush=True)
    args.peer_python = None
  systems = ("ours", "peer") if args.peer_python else ("ours",)
  if args.normalizers:
    systems += ("ours+norm",)
  from corpus import sentences as splitter
  records = pseudo_abstracts(args.abstracts)
  corpus = os.path.join(work, "abstracts.jsonl")
  with open(corpus, "w", encoding="utf-8") as f:
    f.writelines(json.dumps(r) + "\n" for r in records)
  sentences = [{"doc": r["id"], "start": s, "text": r["text"][s:e]}
               for r in records for s, e in splitter.split(r["text"])]
  sentences_path = os.path.join(work, "sentences.json")
  with open(sentences_path, "w", encoding="utf-8") as f:
    json.dump(sentences, f)
  export = os.path.join(work, "export")
  if args.peer_python and not os.path.isdir(export):
    subprocess.run([sys.executable, "export_model.py",
                    "--output_dir=" + args.run_dir,
                    "--vocab_file=" + args.vocab_file,
                    "--export_dir=" + export, "--format=huggingface",
                    "--entity_type=Disease"],
                   check=True, cwd=ROOT, capture_output=True)
  script = os.path.join(work, "peer.py")
  with open(script, "w") as f:
    f.write(PEER)

  import tokenization
  from finetuning import run_dir
  manifest = run_dir.read_manifest(args.run_dir)
  tokenizer = tokenization.FullTokenizer(args.vocab_file,
                                         manifest["do_lower_case"])
  lengths = [len(tokenizer.tokenize(s["text"])) + 2 for s in sentences]
  config = manifest["bert_config"]
  h, layers = config["hidden_size"], config["num_hidden_layers"]
  params = layers * (4 * h * h + 2 * h * config["intermediate_size"])
  flops = sum(2 * params * n + 4 * layers * h * n * n for n in lengths)
  peak = matmul_peak() if args.peer_python else None
  print("work: %d abstracts, %d sentences, %d pieces; forward %.1f GFLOP" %
        (len(records), len(sentences), sum(lengths), flops / 1e9))

  def ours(out, bf16, extra=()):
    cmd = [sys.executable, "tag_corpus.py", "--input=" + corpus,
           "--models=disease=" + args.run_dir,
           "--vocab_file=" + args.vocab_file, "--output_dir=" + out,
           "--format=jsonl", "--workers=1",
           "--batch_size=%d" % args.batch_size,
           "--part_size=%d" % args.abstracts] + (
               ["--use_fp16"] if bf16 else []) + list(extra)
    _, wall, rss = run_measured(cmd, log_path=out + ".log")
    with open(os.path.join(out, "manifest.json")) as f:
      m = json.load(f)
    return {"tag": m["tagging_seconds"], "wall": wall, "rss_mb": rss}

  norm_flags = ["--normalizers=" + args.normalizers] if args.normalizers \
      else []
  if norm_flags:  # the lexicon's embeddings, computed once and cached
    warm = os.path.join(work, "warm_up")
    shutil.rmtree(warm, ignore_errors=True)
    print("warm-up", ours(warm, False, norm_flags), flush=True)

  table = []
  for precision in args.precisions.split(","):
    bf16 = precision == "bf16"
    runs = {s: [] for s in systems}
    peer_spans = set()
    for r in range(args.repeats):
      out = os.path.join(work, "ours_%s_%d" % (precision, r))
      shutil.rmtree(out, ignore_errors=True)
      runs["ours"].append(ours(out, bf16))
      with open(os.path.join(out, "abstracts.jsonl")) as f:
        ours_spans = {(d["id"], a["offset"], a["offset"] + a["length"])
                      for d in map(json.loads, f) for a in d["annotations"]}
      print(precision, "ours", r, runs["ours"][-1], flush=True)
      if norm_flags:
        out = os.path.join(work, "norm_%s_%d" % (precision, r))
        shutil.rmtree(out, ignore_errors=True)
        runs["ours+norm"].append(ours(out, bf16, norm_flags))
        print(precision, "ours+norm", r, runs["ours+norm"][-1], flush=True)
      if not args.peer_python:
        continue
      spans_path = os.path.join(work, "peer_%s_%d.json" % (precision, r))
      text, wall, _ = run_measured(
          [args.peer_python, script, os.path.join(export, "huggingface"),
           sentences_path, spans_path,
           "1" if bf16 else "0", str(args.batch_size)],
          {"OMP_NUM_THREADS": str(os.cpu_count())},
          log_path=spans_path + ".log")
      res = json.loads([l for l in text.splitlines() if l.startswith("{")][-1])
      with open(spans_path) as f:
        peer_spans = {tuple(s) for s in json.load(f)}
      runs["peer"].append({"tag": res["tag_seconds"], "wall": wall})
      print(precision, "peer", r, runs["peer"][-1], flush=True)
    med = {s: {k: statistics.median(x[k] for x in v) for k in v[0]}
           for s, v in runs.items()}
    limit = (flops / (peak["bfloat16" if bf16 else "float32"] * 1e9) if peak
             else None)
    table.append((precision, med, len(ours_spans), len(peer_spans),
                  len(ours_spans & peer_spans), limit))

  n_abs, n_sent = len(records), len(sentences)
  print("\n| precision | system | abstracts/s | sentences/s | whole command "
        "(s) | peak RSS (MB) |")
  print("|---|---|---|---|---|---|")
  for precision, med, *_ in table:
    for s in systems:
      print("| %s | %s | %.1f | %.0f | %.1f | %s |" % (
          precision, s, n_abs / med[s]["tag"], n_sent / med[s]["tag"],
          med[s]["wall"], "%.0f" % med[s]["rss_mb"]
          if "rss_mb" in med[s] else "-"))
  if norm_flags:
    print("\n| precision | abstracts/s with IDs / without | added resident "
          "memory (MB) |")
    print("|---|---|---|")
    for precision, med, *_ in table:
      print("| %s | %.2f | %.0f |" % (
          precision, med["ours"]["tag"] / med["ours+norm"]["tag"],
          med["ours+norm"]["rss_mb"] - med["ours"]["rss_mb"]))
  if not args.peer_python:
    return
  print("\n| precision | ours / peer (tagging) | ours / peer (whole command) | "
        "spans ours / peer / shared | arithmetic limit |")
  print("|---|---|---|---|---|")
  for precision, med, n_ours, n_peer, shared, limit in table:
    print("| %s | %.2f× | %.2f× | %d / %d / %d | %.1f s (ours: %.0f %% of "
          "the matmul peak) |" % (
              precision, med["peer"]["tag"] / med["ours"]["tag"],
              med["peer"]["wall"] / med["ours"]["wall"], n_ours, n_peer,
              shared, limit, 100 * limit / med["ours"]["tag"]))
  print("matmul peak GFLOP/s: %s" % json.dumps(peak))


if __name__ == "__main__":
  main()
