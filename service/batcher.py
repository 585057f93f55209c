"""Dynamic batching: concurrent requests' documents tagged in one call.

Requests put their documents in a bounded queue; one task takes what is
waiting (at most `max_batch` documents, waiting for more once the first
has come while they keep coming: at most `max_wait_ms`, and no longer
than `gap_ms` after the last) and tags it in one call of `annotate`, on a
thread of its own, so that the event loop keeps answering (health checks,
other requests) while a batch runs; with `workers` > 1, that many batches
may run at once (one's Python steps overlap another's model). A full queue is refused at once
(`QueueFull`), never waited on without bound. A request whose waiter is
cancelled (its client went away) is dropped before its batch runs. When
`annotate` raises on a batch of several requests, each request is tagged
again on its own, so that the one that fails fails alone.
"""

import asyncio
import dataclasses
import time
from typing import Callable, List


class QueueFull(Exception):
  """The queue holds `max_queue` documents already."""


@dataclasses.dataclass
class _Pending:
  documents: list
  future: asyncio.Future


class Batcher(object):
  """Gathers documents of concurrent requests into prediction batches.

  annotate(documents) -> one result per document, called on a worker
  thread. `observe(batch_size, seconds)`: told after each batch (metrics).
  """

  def __init__(self, annotate: Callable[[List], List], max_batch=32,
               max_wait_ms=5.0, max_queue=1024, observe=None, workers=1,
               gap_ms=None):
    self.annotate = annotate
    self.max_batch = max_batch
    self.max_wait = max_wait_ms / 1000.0
    self.gap = (max_wait_ms if gap_ms is None else gap_ms) / 1000.0
    self.max_queue = max_queue
    self.observe = observe
    self.waiting = []  # _Pending, in arrival order
    self.queued = 0  # documents waiting
    self.workers = workers
    self.wake = None
    self.tasks = []

  def start(self):
    """Starts the batching tasks on the running loop."""
    self.wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    self.tasks = [loop.create_task(self._run()) for _ in range(self.workers)]

  async def stop(self):
    """Stops the batching tasks (after the requests in flight: uvicorn
    answers them before the app's lifespan ends)."""
    for task in self.tasks:
      task.cancel()
    for task in self.tasks:
      try:
        await task
      except asyncio.CancelledError:
        pass

  async def submit(self, documents):
    """The results of `documents`, tagged in some batch; QueueFull if the
    queue cannot take them."""
    if self.queued + len(documents) > self.max_queue:
      raise QueueFull()
    future = asyncio.get_running_loop().create_future()
    self.waiting.append(_Pending(list(documents), future))
    self.queued += len(documents)
    self.wake.set()
    return await future

  def _take(self):
    """The requests of the next batch: whole requests, in order, up to
    max_batch documents (a larger request alone)."""
    taken, n = [], 0
    while self.waiting and (not taken or n + len(
        self.waiting[0].documents) <= self.max_batch):
      p = self.waiting.pop(0)
      if p.future.cancelled():  # the client went away
        self.queued -= len(p.documents)
        continue
      taken.append(p)
      n += len(p.documents)
    self.queued -= n
    return taken

  async def _gather(self, loop):
    """Waits while documents keep coming: until max_batch are waiting,
    max_wait has passed, or none has come for `gap` (so that a lone
    request goes at once, and a burst of answered clients coming back
    goes in one batch)."""
    started = loop.time()
    seen, last = self.queued, started
    while self.queued < self.max_batch:
      now = loop.time()
      if self.queued != seen:
        seen, last = self.queued, now
      if now - started >= self.max_wait or now - last >= self.gap:
        return
      await asyncio.sleep(0.001)

  async def _run(self):
    loop = asyncio.get_running_loop()
    while True:
      await self.wake.wait()
      self.wake.clear()
      while self.waiting:
        await self._gather(loop)
        taken = self._take()
        if not taken:
          continue
        started = time.time()
        n = await self._tag(loop, taken)
        if self.observe and n:
          self.observe(n, time.time() - started)

  async def _tag(self, loop, taken):
    """Tags the requests `taken` in one call; on an error, each alone.
    The number of documents tagged in that one call (0 if it failed)."""
    docs = [d for p in taken for d in p.documents]
    try:
      results = await loop.run_in_executor(None, self.annotate, docs)
    except Exception as e:  # pylint: disable=broad-except
      if len(taken) == 1:
        if not taken[0].future.done():
          taken[0].future.set_exception(e)
      else:
        for p in taken:
          await self._tag(loop, [p])
      return 0
    k = 0
    for p in taken:
      part = results[k:k + len(p.documents)]
      k += len(p.documents)
      if not p.future.done():
        p.future.set_result(part)
    return len(docs)
