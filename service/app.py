"""The HTTP API over the tagger's models (serve.py's app).

POST /annotate takes `{"text": ...}` or `{"documents": [{"id", "text"},
...]}` and answers what tag_corpus.py writes for the same text: JSON (the
tagged documents, as its JSON Lines hold them) or, with `?format=`,
`bioc_json`, `pubtator` or `jsonl` in the writers' own bytes. GET /health
answers while a batch runs; GET /metrics is Prometheus's text format;
/docs is FastAPI's OpenAPI page.

Requests are checked before they are queued: a body that is not JSON or
not UTF-8 is a 400, wrong fields or empty text a 422 naming them, a body
or a request over the limits a 413, a full queue a 503 with Retry-After.
No file path is ever read from a request. Every answer carries an
X-Request-ID; an error that is ours is logged under it and answered with
it, never with a traceback.
"""

import dataclasses
import datetime
import io
import json
import logging
import time
import uuid
from typing import Optional

from corpus import documents
from corpus import writers
from service import batcher as batcher_lib

LOG = logging.getLogger("serve")
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
  max_wait_ms: float = 5.0
  max_queue: int = 1024
  api_key: Optional[str] = None


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
      observe=lambda n, _: batch_sizes.observe(n))
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

  @app.middleware("http")
  async def request_id(request: Request, call_next):
    rid = uuid.uuid4().hex[:16]
    request.state.request_id = rid
    started = time.time()
    if limits.api_key and request.url.path in ("/annotate",) and (
        request.headers.get("x-api-key") != limits.api_key):
      response = error(401, "a valid X-API-Key header is required", rid)
    else:
      try:
        response = await call_next(request)
      except Exception:  # pylint: disable=broad-except
        LOG.exception("request %s failed", rid)
        errors.inc()
        response = error(500, "internal error (request id %s)" % rid, rid)
    response.headers["X-Request-ID"] = rid
    requests.labels(request.url.path, str(response.status_code)).inc()
    latency.labels(request.url.path).observe(time.time() - started)
    return response

  async def tag(request, text_only=False):
    """The tagged documents of a request's body, or the error Response
    that refuses it (checked before it is queued)."""
    rid = request.state.request_id
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(
        declared) > limits.max_body_bytes:
      return error(413, "the body has %s bytes, more than the %d allowed" %
                   (declared, limits.max_body_bytes), rid)
    body = await request.body()
    try:
      return await batcher.submit(parse_request(body, limits, text_only))
    except RequestError as e:
      return error(e.status, e.message, rid, e.headers)
    except batcher_lib.QueueFull:
      return error(503, "the service is busy: %d documents are waiting; "
                   "try again shortly" % batcher.queued, rid,
                   {"Retry-After": "1"})

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
      return error(422, "format=%s: expected one of %s" % (
          format, ", ".join(FORMATS)), rid)
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

  app.state.batcher = batcher
  return app
