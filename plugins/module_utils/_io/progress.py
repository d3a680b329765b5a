# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How far a long transfer is: a small JSON file the module rewrites, and the line the controller prints from it.

A module run as an async task cannot print anything, so it rewrites ``progress_file`` (atomically: a reader sees
the previous state or the new one, never half a file) and the ``job_progress`` action reads it on the controller.
The file holds one JSON object::

    {"phase": "uploading", "bytes_done": 157286400, "bytes_total": 421527552, "rate_bytes_per_s": 99928883.2,
     "eta_s": 2.6, "started": 1767225600.0, "updated": 1767225601.6}

``phase`` is ``checking`` (before any byte is sent: comparing with the remote file, hashing the local one),
``uploading``, then ``done`` (with ``changed``) or ``failed`` (with ``msg``). ``rate_bytes_per_s`` is measured over
the last few seconds and ``eta_s`` follows from it (both null until there are two samples, ``eta_s`` null at rate
0); ``started`` and ``updated`` are Unix times.

Writing costs one clock read per block; the file is rewritten at most once per ``interval``, without fsync
(it is rebuilt every second, and a crash makes it moot).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from collections.abc import Callable

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, printable
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile

INTERVAL = 1.0
# The rate is measured over this many seconds: long enough to be steady, short enough to show a stall.
RATE_WINDOW = 5.0
PHASES = ('checking', 'uploading', 'done', 'failed')
# A reader never parses more than this: the file is a few hundred bytes.
MAX_SIZE = 64 * 1024


class RateMeter:
    """Bytes done of a transfer, and its rate over the last ``RATE_WINDOW`` seconds: the one home of that arithmetic."""

    def __init__(self, total: int | None, now: float, wall: float):
        self.total = total
        self.done = 0
        self.t0 = now
        self.started = wall
        self._samples = deque([(now, 0)])

    def sample(self, now: float, done: int) -> None:
        self.done = done
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW:
            self._samples.popleft()

    def state(self, now: float) -> dict:
        """The ``uploading`` state (see the module docstring) as of ``now``."""
        t_first, done_first = self._samples[0]
        rate = eta = None
        if now > t_first and len(self._samples) > 1:
            rate = (self.done - done_first) / (now - t_first)
            eta = round((self.total - self.done) / rate, 1) if rate > 0 and self.total is not None else None
            rate = round(rate, 1)
        return {'phase': 'uploading', 'bytes_done': self.done, 'bytes_total': self.total, 'rate_bytes_per_s': rate, 'eta_s': eta, 'started': self.started}


class ProgressFile:
    """The writer of one progress file at ``path``; see the module docstring for its content."""

    def __init__(self, path: str, *, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.path = path
        self.interval = interval
        self._clock = clock
        self._wall = wall
        self._next = 0.0
        self._meter = None
        self.total = None
        self.done = 0
        self._written = False

    def phase(self, name: str, **fields: object) -> None:
        """Write ``name`` (``checking``...) now, with ``fields``; a first write that fails raises, naming the file."""
        self._write(dict({'phase': name, 'bytes_done': self.done, 'bytes_total': self.total}, **fields))

    def start(self, total: int) -> None:
        """The transfer of ``total`` bytes begins now."""
        self.total = total
        self.done = 0
        self._meter = RateMeter(total, self._clock(), self._wall())
        self._next = self._meter.t0 + self.interval
        self._write(self._meter.state(self._meter.t0))

    def update(self, done: int) -> None:
        """``done`` bytes are through; rewrites the file when ``interval`` has passed since the last write."""
        self.done = done
        now = self._clock()
        if now < self._next and done != self.total:  # the last block is always shown: then comes the wait for the answer
            return
        self._next = now + self.interval
        self._meter.sample(now, done)
        self._write(self._meter.state(now))

    def finish(self, **fields: object) -> None:
        """Phase ``done``: the whole-transfer average rate, and ``fields`` (``changed``...)."""
        state = {'phase': 'done', 'bytes_done': self.done, 'bytes_total': self.total, 'eta_s': 0}
        if self._meter is not None:
            elapsed = self._clock() - self._meter.t0
            state.update(rate_bytes_per_s=round(self.done / elapsed, 1) if elapsed > 0 else None, started=self._meter.started, seconds=round(elapsed, 3))
        state.update(fields)
        self._write(state)

    def _write(self, state):
        state['updated'] = round(self._wall(), 3)
        data = json.dumps(state, sort_keys=True).encode('utf-8') + b'\n'
        try:
            # the first write clears temps a killed writer left; then no directory listing per write
            with AtomicFile(self.path, sweep=not self._written) as out:
                view = memoryview(data)
                while view:
                    view = view[os.write(out.fd, view) :]
                out.commit(durable=False)
        except OSError as exc:
            if not self._written:
                message = 'cannot write the progress file: %s; progress_file must be in a writable directory' % exc.strerror
                raise EsxiCustomizerError(message, self.path) from exc
            return  # a progress file that cannot be refreshed must not stop the transfer it reports on
        self._written = True


class DirectoryWatch:
    """The progress of a download that writes into a directory of its own (get_url's ``tmp_dest``): no file to read,
    so the bytes done are the sizes of the files in it, measured from outside without touching the transfer."""

    def __init__(self, path: str, *, total: int | None = None, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.path = path
        self._clock = clock
        self._meter = RateMeter(total, clock(), wall())

    def state(self) -> dict:
        done = 0
        try:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    try:
                        if entry.is_file(follow_symlinks=False):
                            done += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue  # renamed into place between listing and stat: the download is over
        except OSError:
            pass
        now = self._clock()
        self._meter.sample(now, done)
        return self._meter.state(now)


def read_progress(path: str) -> dict | None:
    """The state in a progress file, or None when there is none (not written yet, not ours, unreadable)."""
    try:
        with open(path, 'rb') as f:
            data = f.read(MAX_SIZE + 1)
    except OSError:
        return None
    if len(data) > MAX_SIZE:
        return None
    try:
        state = json.loads(data.decode('utf-8'))
    except ValueError:
        return None
    return state if isinstance(state, dict) and state.get('phase') in PHASES else None


def human_size(n: float) -> str:
    """``157286400`` -> ``150.0 MiB``."""
    for unit, size in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if n >= size:
            return '%.1f %s' % (n / size, unit)
    return '%d B' % n


def human_duration(seconds: float) -> str:
    """``3.4`` -> ``3 s``, ``150`` -> ``2 min 30 s``, ``4000`` -> ``1 h 6 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return '%d s' % seconds
    if seconds < 3600:
        return '%d min %d s' % divmod(seconds, 60) if seconds % 60 else '%d min' % (seconds // 60)
    return '%d h %d min' % (seconds // 3600, seconds % 3600 // 60)


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def progress_line(label: str, state: dict | None, *, now: float | None = None, running_for: float | None = None) -> str:
    """One line for the play: ``datastore upload: 150.0 MiB of 402.0 MiB (37 %), 95.3 MiB/s, about 3 s left``.

    ``now`` (Unix time) adds how long the file has not changed when that is a while; ``running_for`` is shown when
    there is no state yet.
    """
    if not state:
        return '%s: running%s' % (label, ' for %s' % human_duration(running_for) if running_for is not None else '')
    phase = state.get('phase')
    done, total = _number(state.get('bytes_done')), _number(state.get('bytes_total'))
    rate, eta = _number(state.get('rate_bytes_per_s')), _number(state.get('eta_s'))
    if phase == 'checking':
        return '%s: comparing with the remote file and checksumming the local one' % label
    if phase == 'failed':
        return '%s: failed: %s' % (label, printable(str(state.get('msg', '')), 300))
    if phase == 'done':
        if not done:
            return '%s: done, nothing sent' % label
        seconds = _number(state.get('seconds'))
        took = ' in %s' % human_duration(seconds) if seconds is not None else ''
        return '%s: done, %s%s%s' % (label, human_size(done), took, ' (%s/s)' % human_size(rate) if rate else '')
    parts = ['%s of %s' % (human_size(done or 0), human_size(total)) if total else human_size(done or 0)]
    if total:
        parts[0] += ' (%d %%)' % (100 * (done or 0) // total)
    if total and done is not None and done >= total:
        parts.append('all sent, waiting for the host')
    elif rate is not None:
        parts.append('%s/s' % human_size(rate))
        # rounded up: "about 0 s left" would say it is over
        parts.append('about %s left' % human_duration(math.ceil(eta)) if eta is not None else 'stalled' if rate == 0 else '')
    updated = _number(state.get('updated'))
    if now is not None and updated is not None and now - updated >= 10:
        parts.append('no news for %s' % human_duration(now - updated))
    return '%s: %s' % (label, ', '.join(p for p in parts if p))
