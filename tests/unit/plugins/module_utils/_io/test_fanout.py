# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OrderedWorker keeps order and its first error; BufferRing gives a buffer back only once every consumer let go."""

from __future__ import annotations

import hashlib
import threading

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._io.fanout import BufferRing, OrderedWorker


def test_workers_hash_one_buffer_stream_in_order():
    ring = BufferRing(2, 4096)
    workers = [OrderedWorker('test-%d' % n) for n in range(3)]
    digests = [hashlib.sha256() for _worker in workers]
    expected = hashlib.sha256()
    try:
        for n in range(50):
            slot = ring.take()  # waits until all three released the buffer two chunks ago
            slot.view[:] = bytes([n]) * len(slot.view)
            expected.update(slot.view)
            for worker, digest in zip(workers, digests):
                worker.submit(digest.update, slot.view, slot)
        for worker in workers:
            worker.sync()
        ring.drain()
    finally:
        for worker in workers:
            worker.close()
    assert {d.hexdigest() for d in digests} == {expected.hexdigest()}


def test_an_error_is_kept_and_slots_are_still_released():
    ring = BufferRing(1, 16)
    worker = OrderedWorker('test-error')
    seen = []

    def fail(_arg):
        raise OSError('disk on fire')

    try:
        slot = ring.take()
        worker.submit(fail, None, slot)
        worker.submit(seen.append, 'skipped', slot)
        ring.take()  # does not hang: both calls released the one buffer
        with pytest.raises(OSError, match='disk on fire'):
            worker.sync()
    finally:
        worker.close()
        worker.close()
    assert seen == [] and not any(t.name == 'test-error' for t in threading.enumerate())
