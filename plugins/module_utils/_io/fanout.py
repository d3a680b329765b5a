# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read, several consumers on other cores: the same buffer hashed by several threads while it is written.

hashlib releases the GIL for more than 2 KiB and zlib.crc32 for more than 5 KiB, so a digest fed from its own
thread runs on another core. :class:`OrderedWorker` applies what it is given in submission order (a digest must see
its bytes in order); :class:`BufferRing` hands out a few preallocated buffers and gives one back only once every
consumer it was lent to is done with it, so memory stays flat however much passes through.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class Slot:
    """One buffer of a :class:`BufferRing`; :meth:`lend` it once per consumer, each consumer calls :meth:`release`."""

    def __init__(self, size: int):
        self.view = memoryview(bytearray(size))
        self._returned = threading.Semaphore(0)
        self._lent = 0

    def lend(self) -> Slot:
        self._lent += 1
        return self

    def release(self) -> None:
        self._returned.release()

    def wait(self) -> None:
        """Until every consumer it was lent to has released it (only the owner calls this)."""
        while self._lent:
            self._returned.acquire()
            self._lent -= 1


class BufferRing:
    """``count`` buffers of ``size`` bytes, handed out in turn; :meth:`take` waits until the next one is free."""

    def __init__(self, count: int, size: int):
        self._slots = [Slot(size) for _slot in range(count)]
        self._next = 0
        self.size = size

    def take(self) -> Slot:
        slot = self._slots[self._next]
        self._next = (self._next + 1) % len(self._slots)
        slot.wait()
        return slot

    def drain(self) -> None:
        """Until no consumer holds any buffer (before the ring is dropped)."""
        for slot in self._slots:
            slot.wait()


class OrderedWorker:
    """A thread that calls ``func(arg)`` for each submitted pair, in order; the first exception is kept for :meth:`sync`.

    A failed call does not stop the worker: later calls are skipped, but every slot is still released, so the
    submitter never waits forever.
    """

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, func: Callable[[object], object], arg: object, slot: Slot | None = None) -> None:
        """Call ``func(arg)`` on the worker; ``slot`` (lent here) is released once the call is done."""
        self._queue.put((func, arg, slot.lend() if slot is not None else None))

    def sync(self) -> None:
        """Until everything submitted so far is done; re-raises what a call raised."""
        done = threading.Event()
        self._queue.put((None, done, None))
        done.wait()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the thread once its queue is done (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            func, arg, slot = item
            if func is None:
                arg.set()  # a sync() marker: runs even after a failure
                continue
            try:
                if self._error is None:
                    func(arg)
            except BaseException as err:  # pylint: disable=broad-except
                # kept for sync(): the submitter decides what it means
                self._error = err
            finally:
                if slot is not None:
                    slot.release()
