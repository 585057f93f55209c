#!/usr/bin/env python
"""serve.py under load, against tag_corpus.py on the same abstracts.

    python bench/serve_speed.py --models=disease=$NER_RUN \
      [--normalizers=disease=$NORM_RUN] [--re_model=$RE_RUN] \
      --vocab_file=$MINILM_TF/vocab.txt [--abstracts=200 --soak=10000]

Starts serve.py on a loopback port (all traffic stays on 127.0.0.1, each
request with a timeout, their number bounded by the flags), then:
- latency of one abstract on the idle service (p50, p99 of --idle requests);
- throughput and latency at each --concurrency (clients sending single
  abstracts, --abstracts of them per level), and with --ceilings the
  models' own rate as many abstracts at a time;
- tag_corpus.py's abstracts/s on the same abstracts and models (its
  tagging time and its whole command), for the ratio;
- resident memory of the service after loading, after the load, and, with
  --soak=N, after N more requests: errors and growth.
"""

import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import run_measured  # noqa: E402
from bench.tag_speed import pseudo_abstracts  # noqa: E402


def rss_mb(pid):
  """(resident, peak resident) MB of a process, from /proc."""
  values = {}
  with open("/proc/%d/status" % pid) as f:
    for line in f:
      key, _, rest = line.partition(":")
      if key in ("VmRSS", "VmHWM"):
        values[key] = int(rest.split()[0]) / 1024.0
  return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def post(base, record, timeout=60):
  """(seconds, ok) of one /annotate request of one abstract."""
  data = json.dumps({"documents": [record]}).encode()
  request = urllib.request.Request(base + "/annotate", data=data, headers={
      "Content-Type": "application/json"})
  started = time.time()
  try:
    with urllib.request.urlopen(request, timeout=timeout) as r:
      ok = r.status == 200 and json.load(r)["documents"][0]["id"] == (
          record["id"])
  except OSError:
    ok = False
  return time.time() - started, ok


def load(base, records, clients):
  """(abstracts/s, latencies, errors) of `records` sent by `clients`."""
  started = time.time()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    results = list(pool.map(lambda r: post(base, r), records))
  seconds = time.time() - started
  return (len(records) / seconds, [s for s, _ in results],
          sum(1 for _, ok in results if not ok))


def batches(base):
  """(documents, batches) the service has tagged so far (its /metrics)."""
  with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
    text = r.read().decode()
  values = dict(line.split() for line in text.splitlines()
                if line.startswith("serve_batch_documents_"))
  return (float(values["serve_batch_documents_sum"]),
          float(values["serve_batch_documents_count"]))


def tag_corpus_rate(corpus, part_size, model_flags, out):
  """(abstracts/s of tagging, whole command's seconds) of tag_corpus.py on
  `corpus`, tagging `part_size` documents at a time."""
  _, wall, _ = run_measured(
      [sys.executable, "tag_corpus.py", "--input=" + corpus,
       "--output_dir=" + out, "--format=jsonl", "--workers=1",
       "--part_size=%d" % part_size] + model_flags, log_path=out + ".log")
  with open(os.path.join(out, "manifest.json")) as f:
    manifest = json.load(f)
  return manifest["counts"]["documents"] / manifest["tagging_seconds"], wall


def percentile(values, q):
  ordered = sorted(values)
  return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--models", required=True)
  p.add_argument("--normalizers", default=None)
  p.add_argument("--re_model", default=None)
  p.add_argument("--vocab_file", required=True)
  p.add_argument("--abstracts", type=int, default=200)
  p.add_argument("--concurrency", default="1,4,16")
  p.add_argument("--idle", type=int, default=50)
  p.add_argument("--soak", type=int, default=0,
                 help="then this many more requests (4 clients), resident "
                 "memory read every --soak_every")
  p.add_argument("--soak_every", type=int, default=1000)
  p.add_argument("--ceilings", action="store_true",
                 help="also tag_corpus.py N abstracts at a time for each "
                 "concurrency N: the most N clients can get, since N "
                 "clients waiting for their answers never have more than N "
                 "abstracts in the service")
  p.add_argument("--tag_corpus_rate", type=float, default=None,
                 help="tag_corpus.py's abstracts/s measured before on the "
                 "same abstracts and models (skips measuring it again)")
  p.add_argument("--serve_flags", default="",
                 help="more serve.py flags, space-separated")
  p.add_argument("--work", default=tempfile.mkdtemp(prefix="serve-bench-"))
  args = p.parse_args()
  os.makedirs(args.work, exist_ok=True)
  records = pseudo_abstracts(args.abstracts)
  model_flags = ["--models=" + args.models, "--vocab_file=" + args.vocab_file]
  if args.normalizers:
    model_flags.append("--normalizers=" + args.normalizers)
  if args.re_model:
    model_flags.append("--re_model=" + args.re_model)

  # tag_corpus.py on the same abstracts.
  corpus = os.path.join(args.work, "abstracts.jsonl")
  with open(corpus, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in records)
  if args.tag_corpus_rate:
    batch_rate, wall = args.tag_corpus_rate, float("nan")
  else:
    batch_rate, wall = tag_corpus_rate(corpus, len(records), model_flags,
                                       os.path.join(args.work, "tag_corpus"))
  levels = [int(c) for c in args.concurrency.split(",")]
  # The most N clients can get: the models' rate N abstracts at a time
  # (tag_corpus.py with parts of N documents).
  ceilings = {n: tag_corpus_rate(corpus, n, model_flags, os.path.join(
      args.work, "tag_corpus_%d" % n))[0] for n in sorted(set(levels))
              if args.ceilings}

  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  base = "http://127.0.0.1:%d" % port
  server = subprocess.Popen(
      [sys.executable, "serve.py", "--port=%d" % port] + model_flags +
      args.serve_flags.split(), cwd=ROOT, stdout=subprocess.DEVNULL,
      stderr=open(os.path.join(args.work, "serve.log"), "w"),
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  try:
    deadline = time.time() + 600
    while True:
      if server.poll() is not None:
        sys.exit("serve.py exited; see %s" % os.path.join(args.work,
                                                          "serve.log"))
      try:
        urllib.request.urlopen(base + "/health", timeout=2).read()
        break
      except OSError:
        if time.time() > deadline:
          sys.exit("serve.py was not ready in 600 s")
        time.sleep(0.5)
    loaded = rss_mb(server.pid)
    load(base, records[:8], 1)  # warm-up
    idle = [post(base, records[i % len(records)])[0]
            for i in range(args.idle)]
    rows = []
    for clients in levels:
      before = batches(base)
      rate, latencies, errors = load(base, records, clients)
      after = batches(base)
      rows.append((clients, rate, percentile(latencies, 0.5),
                   percentile(latencies, 0.99), errors,
                   (after[0] - before[0]) / max(after[1] - before[1], 1)))
    after_load = rss_mb(server.pid)
    soak = None
    if args.soak:
      memory, errors, started = [], 0, time.time()
      for start in range(0, args.soak, args.soak_every):
        n = min(args.soak_every, args.soak - start)
        chunk = [records[(start + i) % len(records)] for i in range(n)]
        errors += load(base, chunk, 4)[2]
        memory.append((start + n, rss_mb(server.pid)[0]))
      soak = (args.soak, errors, args.soak / (time.time() - started),
              memory)
  finally:
    server.terminate()
    server.wait(timeout=60)

  print("work: %d abstracts; tag_corpus.py %.1f abstracts/s (tagging; "
        "whole command %.1f s)" % (len(records), batch_rate, wall))
  for n, rate in sorted(ceilings.items()):
    print("tag_corpus.py %d abstracts at a time: %.1f abstracts/s (%.0f %% "
          "of its rate %d at a time)" % (n, rate, 100 * rate / batch_rate,
                                         len(records)))
  print("idle latency of one abstract: p50 %.3f s, p99 %.3f s (%d requests)"
        % (percentile(idle, 0.5), percentile(idle, 0.99), len(idle)))
  print("\n| clients | abstracts/s | of tag_corpus.py's | of its rate N at "
        "a time | p50 (s) | p99 (s) | errors | abstracts a batch |")
  print("|---|---|---|---|---|---|---|---|")
  for clients, rate, p50, p99, errors, per_batch in rows:
    print("| %d | %.1f | %.0f %% | %s | %.3f | %.3f | %d | %.1f |" % (
        clients, rate, 100 * rate / batch_rate,
        "%.0f %%" % (100 * rate / ceilings[clients]) if clients in ceilings
        else "-", p50, p99, errors, per_batch))
  print("\nresident memory (MB): after loading %.0f, after the load %.0f "
        "(peak %.0f)" % (loaded[0], after_load[0], after_load[1]))
  if soak:
    n, errors, rate, memory = soak
    print("soak: %d requests, %d errors, %.1f abstracts/s; resident MB "
          "after each %d: %s" % (n, errors, rate, args.soak_every,
                                 " ".join("%.0f" % m for _, m in memory)))
    print("growth: %.0f MB since the load, %.0f MB over the second half" % (
        memory[-1][1] - after_load[0],
        memory[-1][1] - memory[(len(memory) - 1) // 2][1]))
  print(json.dumps({"rows": rows, "idle": [percentile(idle, 0.5),
                                           percentile(idle, 0.99)],
                    "tag_corpus_rate": batch_rate,
                    "ceilings": ceilings, "loaded_mb": loaded[0],
                    "after_load_mb": after_load[0], "soak": soak}))


if __name__ == "__main__":
  main()
