"""serve.py: the HTTP API, its limits and errors, and its batching."""

import asyncio
import json
import threading
import time

import pytest

from service import app as app_lib
from service import batcher as batcher_lib
from tests.helpers import run_tool
from tests.helpers import serving


def _fake_annotate(calls):
  """Tags each document with one entity: its first word."""
  def annotate(docs):
    calls.append(len(docs))
    out = []
    for d in docs:
      text = d.passages[0].text
      word = text.split()[0]
      out.append({"id": d.id, "infons": {}, "passages": [
          {"type": "text", "offset": 0, "text": text, "infons": {}}],
                  "annotations": [{"id": "T1", "passage": 0,
                                   "type": "Disease", "offset": 0,
                                   "length": len(word), "text": word,
                                   "model": "m", "score": 0.5}],
                  "relations": []})
    return out
  return annotate


@pytest.fixture
def client():
  from fastapi.testclient import TestClient
  calls = []
  app = app_lib.create_app(_fake_annotate(calls), app_lib.Limits(
      max_body_bytes=2000, max_documents=3, max_characters=500),
                           {"models": ["m"]})
  with TestClient(app) as c:
    c.calls = calls
    yield c


def test_annotate_text_and_documents(client):
  r = client.post("/annotate", json={"text": "Cancer of the breast."})
  assert r.status_code == 200 and len(r.headers["x-request-id"]) == 16
  doc = r.json()["documents"][0]
  assert (doc["id"], doc["annotations"][0]["text"]) == ("1", "Cancer")
  r = client.post("/annotate?format=pubtator", json={"documents": [
      {"id": "7", "text": "Asthma here."}, {"id": 8, "text": "Gout."}]})
  assert r.text == ("7|t|Asthma here.\n7|a|\n7\t0\t6\tAsthma\tDisease\t-\n\n"
                    "8|t|Gout.\n8|a|\n8\t0\t5\tGout.\tDisease\t-\n\n")
  assert r.headers["content-type"].startswith("text/plain")
  r = client.post("/annotate?format=bioc_json", json={"text": "Asthma."})
  assert r.json()["documents"][0]["passages"][0]["annotations"][0][
      "infons"]["type"] == "Disease"


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "the body is not JSON"),
    (b"\xff\xfe{}", 400, "the body is not UTF-8 (byte 0)"),
    (b"[]", 422, 'expected {"text": ...} or {"documents"'),
    (b'{"text": "a", "documents": []}', 422, 'expected {"text": ...}'),
    (b'{"text": 5}', 422, 'text: "text" must be a string'),
    (b'{"text": "  "}', 422, 'text: "text" is empty'),
    (b'{"documents": []}', 422, "a non-empty list"),
    (b'{"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}',
     422, "documents[1]: id 'a' is given twice"),
    (b'{"documents": [{"id": true, "text": "x"}]}', 422,
     'documents[0]: "id" must be a non-empty string or a number'),
    (b'{"documents": [{"id": 1, "text": "x"}, {"id": 2, "text": "x"}, '
     b'{"id": 3, "text": "x"}, {"id": 4, "text": "x"}]}', 413,
     "4 documents, more than the 3 allowed"),
    (json.dumps({"text": "x" * 600}).encode(), 413,
     "600 characters of text, more than the 500 allowed"),
    (json.dumps({"text": "x" * 3000}).encode(), 413,
     "more than the 2000 allowed"),
])
def test_bad_requests_say_what_is_wrong(client, body, status, message):
  r = client.post("/annotate", content=body,
                  headers={"Content-Type": "application/json"})
  assert r.status_code == status, r.text
  assert message in r.json()["error"], r.json()
  assert r.json()["request_id"] == r.headers["x-request-id"]
  assert client.calls == []  # refused before it was queued


def test_unknown_format_and_health_and_metrics(client):
  r = client.post("/annotate?format=xml", json={"text": "a"})
  assert r.status_code == 422 and "format=xml" in r.json()["error"]
  assert client.get("/health").json() == {
      "status": "ok", "models": {"models": ["m"]}, "queued_documents": 0}
  client.post("/annotate", json={"text": "Asthma."})
  metrics = client.get("/metrics").text
  assert 'serve_requests_total{path="/annotate",status="200"} 1.0' in metrics
  assert "serve_batch_documents_count 1.0" in metrics
  assert client.get("/openapi.json").json()["paths"]["/annotate"]


def test_our_errors_are_logged_with_an_id_never_shown(caplog):
  from fastapi.testclient import TestClient

  def broken(docs):
    raise RuntimeError("secret internals")
  with TestClient(app_lib.create_app(broken)) as c:
    r = c.post("/annotate", json={"text": "a"})
  assert r.status_code == 500
  assert "secret" not in r.text and "Traceback" not in r.text
  assert r.json()["request_id"] in caplog.text


def test_api_key():
  from fastapi.testclient import TestClient
  app = app_lib.create_app(_fake_annotate([]), app_lib.Limits(api_key="k"))
  with TestClient(app) as c:
    assert c.post("/annotate", json={"text": "a"}).status_code == 401
    assert c.post("/annotate", json={"text": "a"},
                  headers={"X-API-Key": "k"}).status_code == 200
    assert c.get("/health").status_code == 200


def test_concurrent_requests_share_a_batch_and_a_full_queue_is_503():
  calls, release = [], threading.Event()

  def slow(docs):
    release.wait(5)
    return _fake_annotate(calls)(docs)

  async def scenario():
    b = batcher_lib.Batcher(slow, max_batch=8, max_wait_ms=50, max_queue=5)
    b.start()
    from corpus import documents
    doc = lambda i: documents.Document(str(i), [
        documents.Passage("text", 0, "word %d" % i)])
    first = asyncio.ensure_future(b.submit([doc(0)]))
    await asyncio.sleep(0.2)  # the first batch runs (blocked)
    waiting = [asyncio.ensure_future(b.submit([doc(i)])) for i in (1, 2, 3)]
    await asyncio.sleep(0.05)
    with pytest.raises(batcher_lib.QueueFull):
      await b.submit([doc(9), doc(10), doc(11)])
    release.set()
    results = await asyncio.gather(first, *waiting)
    await b.stop()
    return results

  results = asyncio.run(scenario())
  assert [r[0]["id"] for r in results] == ["0", "1", "2", "3"]
  assert calls == [1, 3]  # the three waiting requests in one batch


def test_bad_flags_exit_2(tmp_path):
  result = run_tool(["serve.py", "--models=" + str(tmp_path / "none"),
                     "--vocab_file=" + str(tmp_path / "vocab.txt")],
                    expect_ok=False)
  assert result.returncode == 2
  assert "--vocab_file=%s: file not found" % (tmp_path / "vocab.txt") in (
      result.stderr)
  result = run_tool(["serve.py", "--models=x", "--vocab_file=v",
                     "--max_batch=0"], expect_ok=False)
  assert result.returncode == 2 and "--max_batch=0" in result.stderr


@pytest.fixture(scope="module")
def ner_run(tiny_bert_dir, tmp_path_factory):
  from tests.helpers import train_typed_ner
  root = tmp_path_factory.mktemp("serve")
  return {"ner": train_typed_ner(tiny_bert_dir, root),
          "vocab": tiny_bert_dir["vocab"]}


def test_the_same_bytes_as_tag_corpus(ner_run, tmp_path):
  """The service's answer for some documents is tag_corpus.py's output for
  the same documents given as JSON Lines, in each format."""
  import serve
  from fastapi.testclient import TestClient
  docs = [{"id": "a1", "text": "aspirin induced renal failure in BRCA1 "
           "carriers. The disease was acute."},
          {"id": "a2", "text": "acute renal failure and the disease"}]
  corpus = tmp_path / "docs.jsonl"
  corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
  args = serve.parse(["--models=" + ner_run["ner"],
                      "--vocab_file=" + ner_run["vocab"]])
  annotate, describe = serve.build(args)
  with TestClient(app_lib.create_app(annotate, app_lib.Limits(),
                                     describe)) as c:
    for fmt, ext in (("bioc_json", ".bioc.json"), ("pubtator", ".pubtator"),
                     ("jsonl", ".jsonl")):
      out = tmp_path / fmt
      run_tool(["tag_corpus.py", "--input=" + str(corpus),
                "--models=" + ner_run["ner"], "--vocab_file=" +
                ner_run["vocab"], "--output_dir=" + str(out),
                "--format=" + fmt])
      answer = c.post("/annotate?format=" + fmt, json={"documents": docs})
      assert answer.status_code == 200
      assert answer.content == (out / ("docs" + ext)).read_bytes(), fmt


def test_bern2_plain(client):
  r = client.post("/plain", json={"text": "Asthma in children."})
  answer = r.json()
  assert answer["text"] == "Asthma in children."
  assert answer["annotations"] == [{
      "id": ["CUI-less"], "is_neural_normalized": False, "prob": 0.5,
      "mention": "Asthma", "obj": "disease", "span": {"begin": 0, "end": 6}}]
  assert client.post("/plain", json={"documents": []}).status_code == 422
  assert app_lib.bern2({"passages": [{"text": "x"}], "annotations": [{
      "score": 0.9, "text": "x", "type": "Disease", "offset": 0,
      "length": 1, "concept": {"ids": ["MESH:D1", "OMIM:2"]}}]})[
          "annotations"][0]["id"] == ["mesh:D1", "omim:2"]


def test_a_real_server_answers_and_stops_on_sigterm(ner_run):
  """serve.py on a loopback port: ready within a bound, answers, and on
  SIGTERM finishes and exits 0 (a bounded number of requests, loopback
  only)."""
  import os
  import signal
  import socket
  import subprocess
  import sys
  import urllib.request
  from tests.conftest import ROOT
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  proc = subprocess.Popen(
      [sys.executable, "serve.py", "--models=" + ner_run["ner"],
       "--vocab_file=" + ner_run["vocab"], "--port=%d" % port], cwd=ROOT,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  try:
    base = "http://127.0.0.1:%d" % port
    deadline = time.time() + 120
    while True:
      assert proc.poll() is None, proc.communicate()
      try:
        with urllib.request.urlopen(base + "/health", timeout=2) as r:
          assert json.load(r)["status"] == "ok"
        break
      except OSError:
        assert time.time() < deadline, "not ready in 120 s"
        time.sleep(0.5)
    request = urllib.request.Request(
        base + "/annotate", data=json.dumps({"text": "acute renal failure"}
                                            ).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
      assert r.headers["X-Request-ID"]
      assert json.load(r)["documents"][0]["id"] == "1"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Serving ner on http://127.0.0.1:%d" % port in out
    assert "Stopped by SIGTERM: the requests in flight were answered" in out
    assert "Traceback" not in err
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()


PUBMED_XML = b"""<?xml version="1.0"?>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>101</PMID><Article>
<ArticleTitle>BRCA1 and breast cancer.</ArticleTitle><Abstract>
<AbstractText>Women took tamoxifen.</AbstractText></Abstract></Article>
</MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


@pytest.fixture
def upload_client():
  from fastapi.testclient import TestClient
  from tests.helpers import term_tagger
  calls = []
  app = app_lib.create_app(term_tagger(calls), app_lib.Limits(
      max_body_bytes=4000, max_documents=2, max_characters=300,
      api_key="k"))
  with TestClient(app, headers={"X-API-Key": "k"}) as c:
    c.calls = calls
    yield c


def _upload(client, body, query):
  return client.post("/annotate/file?" + query, content=body,
                     headers={"Content-Type": "application/octet-stream"})


def test_upload_pubmed_xml_and_gz(upload_client):
  import gzip
  r = _upload(upload_client, PUBMED_XML, "filename=pubmed24n0001.xml")
  assert r.status_code == 200, r.text
  doc = r.json()["documents"][0]
  assert (doc["id"], [p["type"] for p in doc["passages"]]) == (
      "101", ["title", "abstract"])
  assert [(a["offset"], a["text"]) for a in doc["annotations"]] == [
      (0, "BRCA1"), (10, "breast cancer"), (17, "cancer"), (36, "tamoxifen")]
  assert r.json()["skipped"] == [] and r.headers["x-skipped-records"] == "0"
  r = _upload(upload_client, gzip.compress(PUBMED_XML),
              "filename=pubmed24n0001.xml.gz&format=pubtator")
  assert r.text.startswith("101|t|BRCA1 and breast cancer.\n101|a|Women "
                           "took tamoxifen.\n101\t0\t5\tBRCA1\tGene\t-\n")


def test_upload_skips_bad_records_and_says_where(upload_client):
  body = (b"5|t|BRCA1 title\n5|a|text\n\n"
          b"6|t|one\n7|a|two\n\n")
  r = _upload(upload_client, body, "filename=mine.pubtator")
  assert r.status_code == 200, r.text
  assert [d["id"] for d in r.json()["documents"]] == ["5"]
  assert r.json()["skipped"] == [{
      "where": "mine.pubtator:4", "id": "6", "problem": "two PMIDs in one "
      "record (6 and 7): a blank line is missing"}]
  assert r.headers["x-skipped-records"] == "1"


@pytest.mark.parametrize("body, query, status, message", [
    (b"<html>no</html>", "filename=page.xml", 422,
     "page.xml: an XML file that is neither PubMed nor BioC; say "
     "input_format="),
    (b"abc", "filename=x.txt&input_format=word", 422,
     "input_format=word: expected auto or one of pubmed, bioc_xml, "
     "bioc_json, pubtator, jsonl, text"),
    (b"not gzip", "filename=x.txt.gz", 422,
     "x.txt.gz cannot be read: not the gzip file its name says, or "
     "damaged"),
    (b"\n\n", "filename=empty.txt", 422,
     "empty.txt holds no document that can be read as text"),
    (b"a\nb\nc\n", "filename=three.txt", 413,
     "three.txt holds more than the 2 documents allowed"),
    (b"x" * 301, "filename=long.txt", 413,
     "long.txt holds more than the 300 characters of text allowed"),
    (b"x" * 4001, "filename=big.txt", 413,
     "the body has 4001 bytes, more than the 4000 allowed"),
    (b"a", "filename=x.txt&format=xml", 422, "format=xml: expected one of"),
])
def test_bad_uploads_say_what_is_wrong(upload_client, body, query, status,
                                       message):
  r = _upload(upload_client, body, query)
  assert r.status_code == status, r.text
  assert r.json()["error"].startswith(message), r.json()
  assert upload_client.calls == []


def test_an_upload_never_names_a_file_to_read(upload_client):
  """The name's extension chooses the format; nothing is read from it."""
  r = _upload(upload_client, b"BRCA1 here\n", "filename=/etc/passwd")
  assert r.status_code == 200
  assert r.json()["documents"][0]["passages"][0]["text"] == "BRCA1 here"
  r = _upload(upload_client, b'{"id": "q", "text": "BRCA1"}\n',
              "filename=../../../etc/x.jsonl")
  assert r.json()["documents"][0]["id"] == "q"


def test_every_post_asks_for_the_api_key(upload_client):
  for path in ("/annotate", "/plain", "/annotate/file"):
    r = upload_client.post(path, json={"text": "a"},
                           headers={"X-API-Key": "wrong"})
    assert r.status_code == 401, path
  assert upload_client.get("/").status_code == 200


def test_one_bad_document_fails_alone():
  """A batch that makes the model raise is tagged again request by
  request: only the request with the bad document fails."""
  from corpus import documents
  calls = []
  good = _fake_annotate(calls)

  def annotate(docs):
    if any("boom" in d.passages[0].text for d in docs):
      calls.append(-len(docs))
      raise ValueError("cannot tag")
    return good(docs)

  async def scenario():
    b = batcher_lib.Batcher(annotate, max_batch=8, max_wait_ms=100)
    b.start()
    doc = lambda i, text: documents.Document(str(i), [
        documents.Passage("text", 0, text)])
    results = await asyncio.gather(
        b.submit([doc(1, "fine one")]), b.submit([doc(2, "boom here")]),
        b.submit([doc(3, "fine two")]), return_exceptions=True)
    await b.stop()
    return results

  first, second, third = asyncio.run(scenario())
  assert first[0]["id"] == "1" and third[0]["id"] == "3"
  assert isinstance(second, ValueError)
  assert calls == [-3, 1, -1, 1]  # the batch, then each request alone


def _send_raw(port, doc_id):
  """A socket that has sent one /annotate request of one document (its
  answer is read, or the connection closed, by the caller)."""
  import socket
  body = json.dumps({"documents": [{"id": doc_id, "text": "x y"}]})
  sock = socket.create_connection(("127.0.0.1", port), timeout=20)
  sock.sendall(("POST /annotate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                "application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body), body)).encode())
  return sock


def _answer(sock):
  """The whole HTTP answer on `sock` (headers, then Content-Length
  bytes), as text."""
  data = b""
  while b"\r\n\r\n" not in data:
    data += sock.recv(65536)
  head, _, body = data.partition(b"\r\n\r\n")
  length = int(next(l.split(b":")[1] for l in head.split(b"\r\n")
                    if l.lower().startswith(b"content-length:")))
  while len(body) < length:
    body += sock.recv(65536)
  return (head + b"\r\n\r\n" + body).decode()


def test_a_client_that_goes_away_is_dropped_from_the_queue():
  """A request whose client closes the connection while it waits is
  never tagged (a real server on a loopback port, two requests)."""
  seen, release = [], threading.Event()

  def annotate(docs):
    seen.extend(d.id for d in docs)
    release.wait(10)
    return _fake_annotate([])(docs)

  try:
    with serving(app_lib.create_app(annotate, app_lib.Limits(
        max_wait_ms=0))) as base:
      port = int(base.rsplit(":", 1)[1])
      first = _send_raw(port, "kept")
      while seen != ["kept"]:  # the first batch runs, blocked
        time.sleep(0.01)
      gone = _send_raw(port, "gone")
      time.sleep(0.2)
      gone.close()  # the client gives up while its document waits
      time.sleep(4 * app_lib.DISCONNECT_POLL_S)
      release.set()
      assert first.recv(65536).decode().startswith("HTTP/1.1 200")
      first.close()
      third = _send_raw(port, "later")
      assert third.recv(65536).decode().startswith("HTTP/1.1 200")
      third.close()
      assert seen == ["kept", "later"]
  finally:
    release.set()


def test_a_full_queue_is_a_503_with_retry_after():
  """Over HTTP: while one request's batch runs, the queue holds one more
  document at most; the next request is refused at once."""
  release, started = threading.Event(), threading.Event()

  def annotate(docs):
    started.set()
    release.wait(10)
    return _fake_annotate([])(docs)

  try:
    with serving(app_lib.create_app(annotate, app_lib.Limits(
        max_queue=1, max_wait_ms=0))) as base:
      port = int(base.rsplit(":", 1)[1])
      running = _send_raw(port, "a")
      assert started.wait(10)  # its batch runs: the queue is empty
      waiting = _send_raw(port, "b")  # takes the one place
      time.sleep(0.3)
      refused = _answer(_send_raw(port, "c"))
      assert refused.startswith("HTTP/1.1 503"), refused
      assert "retry-after: 1" in refused.lower()
      assert refused.endswith('"error":"the service is busy: 1 documents '
                              'are waiting; try again shortly","request_id":'
                              '"%s"}' % refused.split("x-request-id: ")[1][:16])
      release.set()
      for sock in (running, waiting):
        assert sock.recv(65536).decode().startswith("HTTP/1.1 200")
        sock.close()
  finally:
    release.set()


def test_the_dockerfile_says_what_it_does(tmp_path):
  """Docker cannot run here: what can be checked without it. Its sed
  swaps TensorFlow for the GPU build (it would no-op silently if
  requirements.txt changed), its entry point's flags parse, and the
  .dockerignore keeps venvs, data and checkpoints out of the image."""
  import os
  import re
  import subprocess
  import serve
  from tests.conftest import ROOT
  with open(os.path.join(ROOT, "Dockerfile")) as f:
    dockerfile = f.read()
  sed = re.search(r'RUN sed -i "(.*?)" requirements.txt', dockerfile).group(1)
  for tensorflow in ("tensorflow-cpu==2.15.1",
                     "tensorflow[and-cuda]==2.15.1"):
    copy = tmp_path / "requirements.txt"
    copy.write_text(open(os.path.join(ROOT, "requirements.txt")).read())
    subprocess.run(["sed", "-i", sed.replace("${TENSORFLOW}", tensorflow),
                    str(copy)], check=True)
    lines = copy.read_text().splitlines()
    assert tensorflow in lines and sum(
        l.startswith("tensorflow") for l in lines) == 1
  entry = json.loads(re.search(r"^ENTRYPOINT (.*)$", dockerfile,
                               re.M).group(1))
  assert entry[:2] == ["python", "serve.py"]
  args = serve.parse(entry[2:] + ["--models=disease=/runs/a",
                                  "--vocab_file=/runs/vocab.txt"])
  assert (args.host, args.port) == ("0.0.0.0", 8000)
  assert "/health" in dockerfile
  for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
    assert os.path.exists(os.path.join(ROOT, source)), source
  with open(os.path.join(ROOT, ".dockerignore")) as f:
    ignored = set(f.read().split())
  assert {".git", ".venv*", "datasets", "demo_output", "model.ckpt*"} <= ignored


def test_two_batch_workers_run_two_batches_at_once():
  from corpus import documents
  inside, both = [], threading.Event()

  def annotate(docs):
    inside.append(docs[0].id)
    if len(inside) == 2:
      both.set()
    assert both.wait(5), "the second batch did not start meanwhile"
    return _fake_annotate([])(docs)

  async def scenario():
    b = batcher_lib.Batcher(annotate, max_batch=1, max_wait_ms=0,
                            workers=2)
    b.start()
    doc = lambda i: documents.Document(str(i), [
        documents.Passage("text", 0, "word %d" % i)])
    results = await asyncio.gather(b.submit([doc(1)]), b.submit([doc(2)]))
    await b.stop()
    return results

  assert [r[0]["id"] for r in asyncio.run(scenario())] == ["1", "2"]
  assert sorted(inside) == ["1", "2"]


def test_a_batch_waits_while_documents_keep_coming():
  """A lone request goes after the gap, not the whole wait; requests that
  keep coming closer than the gap go in one batch."""
  from corpus import documents
  calls = []

  async def scenario():
    b = batcher_lib.Batcher(_fake_annotate(calls), max_batch=32,
                            max_wait_ms=3000, gap_ms=100)
    b.start()
    doc = lambda i: documents.Document(str(i), [
        documents.Passage("text", 0, "word %d" % i)])
    started = time.time()
    await b.submit([doc(0)])
    lone = time.time() - started
    waiting = []
    for i in range(1, 6):  # five requests 30 ms apart
      waiting.append(asyncio.ensure_future(b.submit([doc(i)])))
      await asyncio.sleep(0.03)
    await asyncio.gather(*waiting)
    await b.stop()
    return lone

  assert asyncio.run(scenario()) < 1.5  # not the 3 s wait
  assert calls == [1, 5]
