"""``prepare_image_async``: ``prepare_image`` in a worker thread, at most
``MAX_CONCURRENT_PREPARATIONS`` at a time in the process, whatever the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import weakref

from bot.media.images.prepare import prepare_image
from bot.media.images.prepared import PreparedImage
from bot.media.images.spec import ImageSpec

#: How many images ``prepare_image_async`` prepares at once in this process.
MAX_CONCURRENT_PREPARATIONS = 2


# size, so waiting callers do not hold worker threads.
_running = threading.BoundedSemaphore(MAX_CONCURRENT_PREPARATIONS)
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_queues_lock = threading.Lock()


def _prepare_in_slot(data: bytes, spec: ImageSpec) -> PreparedImage:
    with _running:
        return prepare_image(data, spec)


async def prepare_image_async(data: bytes, spec: ImageSpec) -> PreparedImage:
    """``prepare_image`` in a worker thread, at most MAX_CONCURRENT_PREPARATIONS at once.

    Cancelling the caller does not stop a preparation already running in its thread; its slot
    stays taken until the thread is done, so the limit holds.
    """
    loop = asyncio.get_running_loop()
    with _queues_lock:
        queue = _queues.get(loop)
        if queue is None:
            queue = _queues[loop] = asyncio.Semaphore(MAX_CONCURRENT_PREPARATIONS)
    await queue.acquire()
    try:
        # As asyncio.to_thread does: the thread sees the caller's context variables.
        run = functools.partial(contextvars.copy_context().run, _prepare_in_slot, data, spec)
        future = loop.run_in_executor(None, run)
    except BaseException:
        queue.release()
        raise

    def done(f: asyncio.Future[PreparedImage]) -> None:
        queue.release()
        if not f.cancelled():
            f.exception()  # retrieved, so an abandoned failure is not logged as unhandled

    future.add_done_callback(done)
    return await asyncio.shield(future)
