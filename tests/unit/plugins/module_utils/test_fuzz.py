"""Every parser, fed mutated real inputs: only the collection's own errors may escape (issue 14).

Seeds are real artifacts (the shared fixtures) and the fixture generator's output; hypothesis flips, cuts, inserts
and splices bytes. ``ESXI_FUZZ_EXAMPLES`` sets the examples per parser (1,000 in make test, 20,000 in make fuzz).

Each example must also end within a time and a memory bound: a bomb or a quadratic loop that only our own limits can
stop is a failure even when it ends in one of our errors. The bounds are far above what a healthy parser needs (a few
milliseconds and a few MiB, the 64 MiB expansion limit at most), so a loaded machine does not make them flaky; the
memory is what Python allocates while the example runs (tracemalloc), not the process's RSS.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.ar import read_members
from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import parse_ids, parse_map
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import MAX_EXPANDED_SIZE, ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import parse_descriptor
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmkmod import inspect_module
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmtar import list_payload, scan_payload
from ansible_collections.esxi.customizer.plugins.module_utils._formats.legacy_tgz import read_legacy_tgz
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

EXAMPLES = int(os.environ.get('ESXI_FUZZ_EXAMPLES', '1000'))
FIXTURES = shared_fixtures()
LIMITS = Limits(max_uncompressed_size=64 * 1024 * 1024, max_metadata_size=4 * 1024 * 1024)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
TIME_BOUND = float(os.environ.get('ESXI_FUZZ_SECONDS', '10'))
# Three times the expansion a parser allows itself (tarfile joins what it reads, a copy or two follow): the fuzz limits
# here, the image database's own cap for a whole ISO (EsxiImage reads IMGDB.TGZ with it).
MEMORY_BOUNDS = {'ISO metadata': 3 * MAX_EXPANDED_SIZE}
MEMORY_BOUND = 3 * LIMITS.max_uncompressed_size


def _real(relative: str) -> bytes | None:
    if FIXTURES is None:
        return None
    path = FIXTURES / relative
    return path.read_bytes() if path.is_file() else None


def _seeds_bootcfg() -> list[bytes]:
    found = sorted((FIXTURES / 'bootcfg-isolinux-samples').glob('*boot.cfg')) if FIXTURES else []
    return [path.read_bytes() for path in found] or [b'bootstate=0\ntitle=x\nkernel=/b.b00\nkernelopt=runweasel\nmodules=/b.b00 --- /s.v00\n']


def _seed_vib() -> bytes:
    return packages.build_vib('net-fuzz', '1.0-1', vmkapi='2_5_0_0')


def _seed_descriptor() -> bytes:
    real = sorted((FIXTURES / 'esxi67-imgdb-ljvblfz/var/db/esximg/vibs').glob('esx-base-*.xml')) if FIXTURES else []
    return real[0].read_bytes() if real else packages.descriptor_xml('net-x', '1.0-1')


def _seed_imgdb() -> bytes:
    if FIXTURES is None:
        return packages.tar_gz({'var/db/esximg/vibs/x.xml': packages.descriptor_xml('net-x', '1.0-1')})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for path in sorted((FIXTURES / 'esxi67-imgdb-ljvblfz/var/db/esximg').rglob('*'))[:40]:
            if path.is_file():
                tar.add(str(path), arcname=str(path.relative_to(FIXTURES / 'esxi67-imgdb-ljvblfz')))
    return buf.getvalue()


def _seed_vgz() -> bytes:
    files = packages.driver_files('net_fuzz', [('8086', '10d3')], 'native', vmkapi='2_5_0_0')
    return packages.gzip_bytes(packages.vmtar(files))


def _seed_zstd() -> bytes:
    """The zstd frame of a vzstd payload: mutated below the gzip layer, where a gzip CRC cannot catch the edits."""
    files = packages.driver_files('net_fuzz', [('8086', '10d3')], 'native', vmkapi='3_0_0_0')
    return packages.zstd_bytes(packages.vmtar(files))


def _scan_vzstd(data: bytes) -> None:
    scan_payload(io.BytesIO(packages.gzip_bytes(data)), 'vzstd', 'x.v00', limits=LIMITS, want=lambda e: True, consume=lambda e, s: s.read())


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed with a few random edits: byte changes, a cut, an insertion, a duplicated slice."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _edit in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(['flip', 'cut', 'insert', 'splice', 'zero']))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == 'flip' and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == 'cut':
            data = data[:pos]
        elif kind == 'insert':
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == 'splice' and data:
            end = min(len(data), pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end]
        elif kind == 'zero' and data:
            end = min(len(data), pos + draw(st.integers(1, 512)))
            data[pos:end] = bytes(end - pos)
    return bytes(data)


def _as_file(suffix: str, reader):
    """Run ``reader(path)`` on the bytes written to a temp file (the readers that take paths)."""

    def parse(data: bytes):
        with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
            handle.write(data)
            handle.flush()
            return reader(handle.name)

    return parse


def _load(path):
    with load_package(path, LIMITS) as package:
        for vib in package.vibs:
            vib.all_warnings()


def _image(path):
    with EsxiImage.open(path) as image:
        image.problems()


def _seed_iso() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'seed.iso')
        fixiso.build_esxi_iso(path, style='70')
        with open(path, 'rb') as handle:
            return handle.read()


def _only_our_errors(parse, data: bytes, memory_bound: int = MEMORY_BOUND) -> None:
    tracemalloc.reset_peak()
    # what is alive already (hypothesis keeps earlier examples) is not this example's
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        parse(data)
    except EsxiCustomizerError:
        pass
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - before
    assert elapsed < TIME_BOUND, 'one example took %.1f s (bound %.0f s): %r' % (elapsed, TIME_BOUND, data[:64])
    assert peak < memory_bound, 'one example allocated %d MiB (bound %d MiB): %r' % (peak >> 20, memory_bound >> 20, data[:64])


@pytest.fixture()
def traced():
    tracemalloc.start(1)
    try:
        yield
    finally:
        tracemalloc.stop()


PARSERS = {
    'bootcfg': (_seeds_bootcfg, lambda data: BootCfg.parse(data, path='boot.cfg').problems()),
    'ar / VIB members': (lambda: [_seed_vib()], lambda data: read_members(io.BytesIO(data), label='x.vib', total_size=len(data), limits=LIMITS)),
    'descriptor XML': (lambda: [_seed_descriptor()], lambda data: parse_descriptor(data, label='descriptor.xml')),
    'driver map': (
        lambda: [b'regtype=native,bus=pci,id=808610d3..............,driver=ne1000\n', b'10de 0001 0000 0000 network nvidia\n'],
        lambda data: parse_map(data, source='x.map'),
    ),
    'pci ids': (lambda: [b'8086  Intel\n\t10d3  82574L Gigabit Network Connection\n'], lambda data: parse_ids(data, source='x.ids')),
    'vmkernel module': (lambda: [packages.vmkmod_elf('net_fuzz')], lambda data: inspect_module(io.BytesIO(data), 'net_fuzz')),
    'vmtar payload': (lambda: [_seed_vgz()], lambda data: list_payload(io.BytesIO(data), 'vgz', 'x.v00', limits=LIMITS)),
    'vzstd payload (zstd layer)': (lambda: [_seed_zstd()], _scan_vzstd),
    'image database': (lambda: [_seed_imgdb()], lambda data: ImageDatabase.from_tgz(data, path='IMGDB.TGZ', max_size=64 * 1024 * 1024)),
    'whole VIB': (lambda: [_seed_vib()], _as_file('.vib', _load)),
    'offline bundle': (
        lambda: [packages.build_offline_bundle([_seed_vib()]), packages.build_offline_bundle([_seed_vib()], component=True)],
        _as_file('.zip', _load),
    ),
    'legacy tgz': (lambda: [packages.build_legacy_tgz()], _as_file('.tgz', lambda path: read_legacy_tgz(path, limits=LIMITS))),
    'ISO metadata': (lambda: [_seed_iso()], _as_file('.iso', _image)),
}


@pytest.mark.parametrize('name', sorted(PARSERS))
def test_only_our_errors_escape_a_parser(name, traced):
    seeds_of, parse = PARSERS[name]
    seeds = seeds_of()

    @FUZZ
    @given(mutated(seeds))
    def run(data):
        _only_our_errors(parse, data, MEMORY_BOUNDS.get(name, MEMORY_BOUND))

    run()


def test_the_bounds_fail_a_slow_or_greedy_example(traced, monkeypatch):
    with pytest.raises(AssertionError, match='allocated'):
        _only_our_errors(lambda data: bytearray(8 * 1024 * 1024), b'x', memory_bound=1024 * 1024)
    monkeypatch.setitem(globals(), 'TIME_BOUND', 0.01)
    with pytest.raises(AssertionError, match='took'):
        _only_our_errors(lambda data: time.sleep(0.05), b'x')
