"""The HTTP API over the tagger's models (serve.py's app).

POST /annotate takes `{"text": ...}` or `{"documents": [{"id", "text"},
...]}` and answers what tag_corpus.py writes for the same text: JSON (the
tagged documents, as its JSON Lines hold them) or, with `?format=`,
`bioc_json`, `pubtator` or `jsonl` in the writers' own bytes. GET /health
answers while a batch runs; GET /metrics is Prometheus's text format;
/docs is FastAPI's OpenAPI page. POST /annotate/file takes a file's bytes
(any format tag_corpus.py reads) and answers the same way; GET / is a page
to try it all in a browser (service/page/, served from here: no CDN).

Requests are checked before they are queued: a body that is not JSON or
not UTF-8 is a 400, wrong fields or empty text a 422 naming them, a body
or a request over the limits a 413, a full queue a 503 with Retry-After.
A request whose client goes away is dropped from the queue. No file path is ever read from a request. Every answer carries an
X-Request-ID; an error that is ours is logged under it and answered with
it, never with a traceback.
"""

import asyncio
import dataclasses
import datetime
import io
import json
import logging
import os
import time
import uuid
from typing import Optional

from corpus import documents
from corpus import writers
from service import batcher as batcher_lib
from service import upload

LOG = logging.getLogger("serve")
PAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "page")
# How often a waiting request checks that its client is still there.
DISCONNECT_POLL_S = 0.25
FORMATS = {"json": "application/json",
           "bioc_json": "application/json",
           "jsonl": "application/x-ndjson",
           "pubtator": "text/plain; charset=utf-8"}


@dataclasses.dataclass(frozen=True)
class Limits:
  """What one request may hold, and how requests are batched."""
  max_body_bytes: int = 1 << 20
  max_documents: int = 100
  max_characters: int = 200_000
  max_batch: int = 32
  max_wait_ms: float = 50.0
  max_queue: int = 1024
  api_key: Optional[str] = None
  batch_workers: int = 1
  batch_gap_ms: float = 5.0


class RequestError(Exception):
  """A request we refuse: its HTTP status and what is wrong."""

  def __init__(self, status, message, headers=None):
    super().__init__(message)
    self.status, self.message, self.headers = status, message, headers


def parse_request(body, limits, text_only=False):
  """[Document] of a request body (bytes); RequestError if it is not one
  (`text_only`: {"text": ...} only, BERN2's form)."""
  if len(body) > limits.max_body_bytes:
    raise RequestError(413, "the body has %d bytes, more than the %d "
                       "allowed" % (len(body), limits.max_body_bytes))
  try:
    text = body.decode("utf-8")
  except UnicodeDecodeError as e:
    raise RequestError(400, "the body is not UTF-8 (byte %d)" % e.start)
  try:
    value = json.loads(text)
  except ValueError as e:
    raise RequestError(400, "the body is not JSON: %s" % e)
  if text_only and not (isinstance(value, dict) and set(value) == {
      "text"}):
    raise RequestError(422, 'expected {"text": ...}')
  if not isinstance(value, dict) or ("text" in value) == (
      "documents" in value):
    raise RequestError(422, 'expected {"text": ...} or {"documents": '
                       '[{"id", "text"}, ...]}')
  if "text" in value:
    items = [{"id": "1", "text": value["text"]}]
  else:
    items = value["documents"]
    if not isinstance(items, list) or not items:
      raise RequestError(422, '"documents": expected a non-empty list of '
                         '{"id", "text"}')
  if len(items) > limits.max_documents:
    raise RequestError(413, "%d documents, more than the %d allowed" %
                       (len(items), limits.max_documents))
  problems, docs, seen = [], [], set()
  for k, item in enumerate(items):
    where = "text" if "text" in value else "documents[%d]" % k
    if not isinstance(item, dict):
      problems.append('%s: expected {"id", "text"}' % where)
      continue
    doc_id, text = item.get("id"), item.get("text")
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or (
        doc_id == ""):
      problems.append('%s: "id" must be a non-empty string or a number' %
                      where)
    elif str(doc_id) in seen:
      problems.append('%s: id %r is given twice' % (where, doc_id))
    if not isinstance(text, str):
      problems.append('%s: "text" must be a string' % where)
    elif not text.strip():
      problems.append('%s: "text" is empty' % where)
    if not problems:
      seen.add(str(doc_id))
      docs.append(documents.Document(str(doc_id), [
          documents.Passage("text", 0, text)]))
  if problems:
    raise RequestError(422, "; ".join(problems))
  characters = sum(len(d.passages[0].text) for d in docs)
  if characters > limits.max_characters:
    raise RequestError(413, "%d characters of text, more than the %d "
                       "allowed" % (characters, limits.max_characters))
  return docs


def render(tagged, fmt, date):
  """(body, media type) of tagged documents in `fmt`."""
  if fmt == "json":
    return (json.dumps({"documents": tagged}, ensure_ascii=False) + "\n",
            FORMATS[fmt])
  out = io.StringIO()
  writers.write(fmt, tagged, out, date)
  return out.getvalue(), FORMATS[fmt]


def _bern2_id(concept):
  """`MESH:D003924` as BERN2 writes it: `mesh:D003924`."""
  prefix, sep, rest = concept.partition(":")
  return prefix.lower() + ":" + rest if sep else concept


def bern2(tagged):
  """BERN2's /plain answer of one tagged text document: its annotations
  as {id, is_neural_normalized, prob, mention, obj, span}.

  Differences from BERN2: `obj` is the model's type in lower case
  (`disease`, or a typed model's own, e.g. `geneorgeneproduct`); `id` is
  ["CUI-less"] below the normalizer's threshold or without a normalizer,
  else the concept's IDs as BERN2 spells them (`mesh:D003924`,
  `omim:222100`); `prob` is the NER score; relations are not part of it.
  """
  text = tagged["passages"][0]["text"] if tagged["passages"] else ""
  out = []
  for a in tagged["annotations"]:
    concept = a.get("concept")
    ids = ([_bern2_id(c) for c in concept["ids"]] if concept else
           ["CUI-less"])
    out.append({"id": ids, "is_neural_normalized": bool(concept),
                "prob": a["score"], "mention": a["text"],
                "obj": a["type"].lower(),
                "span": {"begin": a["offset"],
                         "end": a["offset"] + a["length"]}})
  return {"annotations": out, "text": text,
          "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime(
              "%a %b %d %H:%M:%S +0000 %Y")}


def create_app(annotate, limits=Limits(), describe=None):
  """The ASGI app. annotate([Document]) -> tagged documents (called on a
  worker thread, batched); describe: what /health says of the models."""
  from fastapi import FastAPI  # pylint: disable=g-import-not-at-top
  from fastapi import Request  # pylint: disable=g-import-not-at-top
  from fastapi.responses import JSONResponse  # pylint: disable=g-import-not-at-top
  from fastapi.responses import Response  # pylint: disable=g-import-not-at-top
  from starlette.concurrency import run_in_threadpool  # pylint: disable=g-import-not-at-top
  import prometheus_client as prom  # pylint: disable=g-import-not-at-top

  registry = prom.CollectorRegistry()
  requests = prom.Counter("serve_requests", "Requests answered",
                          ["path", "status"], registry=registry)
  latency = prom.Histogram("serve_request_seconds", "Request latency",
                           ["path"], registry=registry)
  batch_sizes = prom.Histogram(
      "serve_batch_documents", "Documents per prediction batch",
      buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=registry)
  errors = prom.Counter("serve_errors", "Requests that failed on our side",
                        registry=registry)
  queue = prom.Gauge("serve_queue_documents", "Documents waiting",
                     registry=registry)

  batcher = batcher_lib.Batcher(
      annotate, limits.max_batch, limits.max_wait_ms, limits.max_queue,
      observe=lambda n, _: batch_sizes.observe(n),
      workers=limits.batch_workers, gap_ms=limits.batch_gap_ms)
  queue.set_function(lambda: batcher.queued)

  async def lifespan(_):
    batcher.start()
    yield
    await batcher.stop()

  app = FastAPI(title="BioBERT tagging service", lifespan=lifespan,
                description="Entities, concept IDs and relations of "
                "biomedical text, as tag_corpus.py writes them.")

  def error(status, message, request_id, headers=None):
    return JSONResponse({"error": message, "request_id": request_id},
                        status_code=status, headers=headers)

  async def request_ids(inner, scope, receive, send):
    """Every HTTP answer gets an X-Request-ID; the API key is checked on
    every POST; an exception of ours is logged under the id and answered
    as a 500 without its traceback; requests and latency are counted.
    Plain ASGI (not BaseHTTPMiddleware), so that a route still sees its
    client go away (request.is_disconnected)."""
    if scope["type"] != "http":
      await inner(scope, receive, send)
      return
    rid = uuid.uuid4().hex[:16]
    scope.setdefault("state", {})["request_id"] = rid
    started, answered = time.time(), {}

    async def send_with_id(message):
      if message["type"] == "http.response.start":
        answered["status"] = message["status"]
        message["headers"] = list(message.get("headers", [])) + [
            (b"x-request-id", rid.encode())]
      await send(message)

    key = dict(scope["headers"]).get(b"x-api-key", b"").decode("latin-1")
    if limits.api_key and scope["method"] == "POST" and key != limits.api_key:
      await error(401, "a valid X-API-Key header is required", rid)(
          scope, receive, send_with_id)
    else:
      try:
        await inner(scope, receive, send_with_id)
      except Exception:  # pylint: disable=broad-except
        LOG.exception("request %s failed", rid)
        errors.inc()
        if "status" not in answered:
          await error(500, "internal error (request id %s)" % rid, rid)(
              scope, receive, send_with_id)
    requests.labels(scope["path"], str(answered.get("status", 500))).inc()
    latency.labels(scope["path"]).observe(time.time() - started)

  def unknown_format(fmt, rid):
    return error(422, "format=%s: expected one of %s" % (
        fmt, ", ".join(FORMATS)), rid)

  async def read_body(request):
    """The body, or the 413 Response of one over the limit (refused on its
    Content-Length before it is read, when it gives one)."""
    declared = request.headers.get("content-length")
    size = int(declared) if declared and declared.isdigit() else 0
    body = b"" if size > limits.max_body_bytes else await request.body()
    size = max(size, len(body))
    if size > limits.max_body_bytes:
      return error(413, "the body has %d bytes, more than the %d allowed" %
                   (size, limits.max_body_bytes), request.state.request_id)
    return body

  async def tagged_or_error(request, docs):
    """The tagged documents, or the error Response: a full queue is a 503
    at once; a client that goes away while its documents wait has them
    dropped from the queue (its answer is never sent)."""
    rid = request.state.request_id
    waiter = asyncio.ensure_future(batcher.submit(docs))
    while True:
      done, _ = await asyncio.wait({waiter}, timeout=DISCONNECT_POLL_S)
      if done:
        break
      if await request.is_disconnected():
        waiter.cancel()
        LOG.info("request %s: the client went away; its %d documents are "
                 "dropped", rid, len(docs))
        return error(499, "the client closed the request", rid)
    try:
      return waiter.result()
    except batcher_lib.QueueFull:
      return error(503, "the service is busy: %d documents are waiting; "
                   "try again shortly" % batcher.queued, rid,
                   {"Retry-After": "1"})

  async def tag(request, text_only=False):
    """The tagged documents of a request's body, or the error Response
    that refuses it (checked before it is queued)."""
    body = await read_body(request)
    if isinstance(body, Response):
      return body
    try:
      docs = parse_request(body, limits, text_only)
    except RequestError as e:
      return error(e.status, e.message, request.state.request_id, e.headers)
    return await tagged_or_error(request, docs)

  @app.get("/health")
  async def health():
    """Answers while batches run: the models and the queue."""
    return {"status": "ok", "models": describe or {},
            "queued_documents": batcher.queued}

  @app.get("/metrics")
  async def metrics():
    """Prometheus: requests, latency, batch sizes, queue, errors."""
    return Response(prom.generate_latest(registry),
                    media_type=prom.CONTENT_TYPE_LATEST)

  @app.post("/annotate")
  async def annotate_route(request: Request, format: str = "json"):  # pylint: disable=redefined-builtin
    """Entities (type, offsets, score, concept) and relations of the text
    or documents of the JSON body, in `format`: json, bioc_json,
    pubtator or jsonl."""
    rid = request.state.request_id
    if format not in FORMATS:
      return unknown_format(format, rid)
    tagged = await tag(request)
    if isinstance(tagged, Response):
      return tagged
    body, media = render(tagged, format,
                         datetime.date.today().strftime("%Y%m%d"))
    return Response(body, media_type=media)

  @app.post("/plain")
  async def plain(request: Request):
    """BERN2's request and answer: {"text": ...} in, {"annotations": [{id,
    is_neural_normalized, prob, mention, obj, span}], "text", "timestamp"}
    out, so that a BERN2 client works unchanged."""
    tagged = await tag(request, text_only=True)
    if isinstance(tagged, Response):
      return tagged
    return JSONResponse(bern2(tagged[0]))

  @app.post("/annotate/file")
  async def annotate_file(request: Request, filename: str = "upload",
                          input_format: str = "auto",
                          format: str = "json"):  # pylint: disable=redefined-builtin
    """A file's bytes as the body (PubMed XML, BioC XML or JSON, PubTator,
    JSON Lines or text; .gz too), read as tag_corpus.py reads a file of
    that `filename` (only its extension is looked at; no path is opened)
    or as `input_format`; answered as /annotate answers. Records that
    cannot be read are skipped and listed (`skipped` in JSON, the
    X-Skipped-Records header in every format)."""
    rid = request.state.request_id
    if format not in FORMATS:
      return unknown_format(format, rid)
    body = await read_body(request)
    if isinstance(body, Response):
      return body
    try:
      docs, skipped = await run_in_threadpool(
          upload.read_upload, body, filename, input_format,
          limits.max_documents, limits.max_characters)
    except upload.UploadError as e:
      return error(e.status, e.message, rid)
    tagged = await tagged_or_error(request, docs)
    if isinstance(tagged, Response):
      return tagged
    headers = {"X-Skipped-Records": str(len(skipped))}
    if format == "json":
      return JSONResponse({"documents": tagged,
                           "skipped": upload.skipped_json(skipped)},
                          headers=headers)
    body, media = render(tagged, format,
                         datetime.date.today().strftime("%Y%m%d"))
    return Response(body, media_type=media, headers=headers)

  def asset(name, media):
    with open(os.path.join(PAGE_DIR, name), "rb") as f:
      content = f.read()
    return lambda: Response(content, media_type=media)

  app.get("/", include_in_schema=False)(asset("index.html",
                                              "text/html; charset=utf-8"))
  app.get("/page.js", include_in_schema=False)(asset(
      "page.js", "text/javascript; charset=utf-8"))
  app.get("/page.css", include_in_schema=False)(asset(
      "page.css", "text/css; charset=utf-8"))
  app.state.batcher = batcher
  app.add_middleware(_Wrapped, around=request_ids)
  return app


class _Wrapped(object):
  """An ASGI middleware of a function around(inner, scope, receive, send)."""

  def __init__(self, app, around):
    self.app, self.around = app, around

  async def __call__(self, scope, receive, send):
    await self.around(self.app, scope, receive, send)
