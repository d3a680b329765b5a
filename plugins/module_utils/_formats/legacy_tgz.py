# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed tool's legacy 3-file driver tgz → an equivalent community VIB (esxi-formats.md section 7.1).

The tgz holds exactly a vmkernel module ``usr/lib/vmware/vmkmod/<module>``, a map
``etc/vmware/driver.map.d/<name>.map`` (the FAQ's ``etc/vmware/<name>.map`` and the native drivers'
``etc/vmware/default.map.d/`` and siblings are accepted too) and ``usr/share/hwdata/driver.pciids.d/<name>.ids``
(or ``default.pciids.d/``...), plus their parent directories. Names may start with ``./`` or ``/``. It becomes a VIB
(vendor ``OEM``, version ``1.0``, acceptance ``community``) whose single ``tgz`` payload is the tgz
file unchanged, as ESXi-Customizer did; its checksums are computed in the same pass that checks the
contents. A tgz carrying ``etc/vmware/simple.map`` is an ESX 4.x package and is refused with the FAQ's
explanation.
"""

from __future__ import annotations

import datetime
import io
import os
import posixpath
import re
import tarfile
import tempfile
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import parse_map
from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    CompatibilityError,
    FormatError,
    UnsafeArchiveError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK, HashingReader, gunzip_stream, read_capped
from ansible_collections.esxi.customizer.plugins.module_utils._formats.tarstream import open_tar_stream
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS, Limits, safe_member_path
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import Checksum, Constraint, Descriptor, Payload, SystemRequires
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmkmod import ESX4_EXPLANATION, inspect_module

MODULE_DIR = 'usr/lib/vmware/vmkmod/'
IDS_DIR = 'usr/share/hwdata/driver.pciids.d/'
MAP_DIRS = ('etc/vmware/driver.map.d/', 'etc/vmware/')
SIMPLE_MAP = 'etc/vmware/simple.map'
DEFAULT_VENDOR = 'OEM'
DEFAULT_VERSION = '1.0'
KIND_TEXT = {
    'module': 'the vmkernel module (usr/lib/vmware/vmkmod/<module>)',
    'map': 'the driver map (etc/vmware/driver.map.d/<name>.map)',
    'ids': 'the PCI ID file (usr/share/hwdata/driver.pciids.d/<name>.ids)',
}
_VIB_NAME = re.compile(r'[^A-Za-z0-9_.-]')
# Native drivers (6.0+) keep maps and ids in default/ihv/fallback/oem.map.d and .pciids.d (section 7.2, 7.3).
_NATIVE_MAP = re.compile(r'^etc/vmware/[a-z]+\.map\.d/[^/]+\.map$')
_NATIVE_IDS = re.compile(r'^usr/share/hwdata/[a-z]+\.pciids\.d/[^/]+\.ids$')

_MAX_MTIME = 253402300799  # 9999-12-31T23:59:59Z, the last instant datetime can show


@dataclass
class LegacyDriver:
    """What the tgz holds, and the VIB descriptor built from it."""

    descriptor: Descriptor
    module_path: str
    map_path: str
    ids_path: str
    map_bytes: bytes
    ids_bytes: bytes
    module_info: object
    files: list
    warnings: list = field(default_factory=list)


def _kind(path):
    if path == SIMPLE_MAP:
        return 'simple.map'
    if path.startswith(MODULE_DIR) and '/' not in path[len(MODULE_DIR) :]:
        return 'module'
    if _NATIVE_IDS.match(path) or (path.startswith(IDS_DIR) and path.endswith('.ids') and '/' not in path[len(IDS_DIR) :]):
        return 'ids'
    if _NATIVE_MAP.match(path):
        return 'map'
    for directory in MAP_DIRS:
        if path.startswith(directory) and path.endswith('.map') and '/' not in path[len(directory) :]:
            return 'map'
    return None


def _missing_and_extra(found, extras, label):
    problems = []
    for kind in ('module', 'map', 'ids'):
        count = len(found[kind])
        if count == 0:
            problems.append('missing %s' % KIND_TEXT[kind])
        elif count > 1:
            problems.append('more than one %s: %s' % (kind, ', '.join(found[kind])))
    if extras:
        problems.append('unexpected extra file(s): %s' % ', '.join(extras))
    if problems:
        raise FormatError('not a legacy driver tgz (it must hold exactly a vmkernel module, a .map and a .ids file): %s' % '; '.join(problems), path=label)


def read_legacy_tgz(
    path: str,
    limits: Limits = DEFAULT_LIMITS,
    name: str | None = None,
    *,
    version: str = DEFAULT_VERSION,
    vendor: str = DEFAULT_VENDOR,
    payload_name: str | None = None,
) -> LegacyDriver:
    """Check a legacy driver tgz and describe it as a community VIB. One streaming pass over the file."""
    label = path
    found = {'module': [], 'map': [], 'ids': []}
    extras, dirs, small = [], set(), {}
    rooted = []  # member names written with a leading "/" (tar -P), read as relative
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as module_spool:
        mtime, hashes = _scan(path, label, limits, found=found, extras=extras, dirs=dirs, small=small, module_spool=module_spool, rooted=rooted)
        _missing_and_extra(found, extras, label)
        module_spool.seek(0)
        info = inspect_module(module_spool, found['module'][0])
    legacy = _describe(path, label, found, dirs=dirs, small=small, info=info, mtime=mtime, hashes=hashes, naming=(name, version, vendor, payload_name))
    if rooted:
        legacy.warnings.append(
            'the tgz stores absolute member names (%s%s); they were read as relative to /, but '
            'rebuild the tgz with relative names (tar -C root -czf x.tgz usr etc) to be safe' % (', '.join(rooted[:3]), ', ...' if len(rooted) > 3 else '')
        )
    return legacy


def _scan(path, label, limits, *, found, extras, dirs, small, module_spool, rooted):
    """One pass: sort members into kinds, keep .map/.ids bytes, spool the module.

    Returns (newest member mtime, (tgz size, sha-256 of the tgz, sha-256 and sha-1 of the tar))."""
    mtime = 0
    with open(path, 'rb') as handle:
        raw = HashingReader(handle)
        if handle.read(2) != b'\x1f\x8b':
            raise FormatError('not a gzip file, so not a legacy driver tgz', path=label)
        handle.seek(0)
        tee = HashingReader(gunzip_stream(raw, limits, label), ('sha256', 'sha1'))
        try:
            with open_tar_stream(io.BufferedReader(tee, COPY_CHUNK), label=label) as tar:
                for member in tar:
                    member_path = safe_member_path(member.name, label, 'tgz member', strip_root=True)
                    if member.name.startswith('/') and member_path:
                        rooted.append(member.name)
                    if member.issym() or member.islnk():
                        raise UnsafeArchiveError('tgz member %s is a link (to %r); links are refused' % (member_path, member.linkname), path=label)
                    if member.isdir():
                        dirs.add(member_path)
                        continue
                    if not member.isreg():
                        raise UnsafeArchiveError('tgz member %s is a device or fifo' % member_path, path=label)
                    if not 0 <= (member.mtime or 0) <= _MAX_MTIME:
                        raise FormatError('tgz member %s has an impossible modification time (%r)' % (member_path, member.mtime), path=label)
                    mtime = max(mtime, int(member.mtime or 0))
                    kind = _kind(member_path)
                    if kind == 'simple.map':
                        raise CompatibilityError(
                            '%s contains %s: this driver package was %s' % (posixpath.basename(path), SIMPLE_MAP, ESX4_EXPLANATION), path=label
                        )
                    if kind is None:
                        extras.append(member_path)
                        continue
                    found[kind].append(member_path)
                    stream = tar.extractfile(member)
                    if kind == 'module':
                        _copy(stream, module_spool)
                    else:
                        small[member_path] = read_capped(stream, limits.max_metadata_size, label, what=member_path)
                # the end-of-archive blocks are not hashed until read: drain so the gunzip hashes cover everything
                while tee.read(COPY_CHUNK):
                    pass
        except tarfile.TarError as err:
            raise FormatError('not a valid tar archive inside the gzip (%s)' % err, path=label) from None
        while raw.read(COPY_CHUNK):
            pass
    return mtime, (raw.length, raw.hashes['sha256'].hexdigest(), tee.hashes['sha256'].hexdigest(), tee.hashes['sha1'].hexdigest())


def _describe(path, label, found, *, dirs, small, info, mtime, hashes, naming):
    warnings = []
    name, version, vendor, payload_name = naming
    module_path, map_path, ids_path = found['module'][0], found['map'][0], found['ids'][0]
    size, sha256_raw, sha256_plain, sha1_plain = hashes
    if info.problem and not info.esx4:
        raise FormatError('%s: %s' % (module_path, info.problem), path=label)
    if info.esx4:
        warnings.append('%s is %s' % (module_path, ESX4_EXPLANATION))
    if not _NATIVE_MAP.match(map_path):
        warnings.append('%s: ESXi 5.x+ reads driver maps from etc/vmware/driver.map.d/; a map directly in etc/vmware/ may be ignored' % map_path)
    module_name = posixpath.basename(module_path)
    drivers = sorted({e.driver for e in parse_map(small[map_path], '%s: %s' % (label, map_path))})
    if drivers and module_name not in drivers:
        warnings.append(
            '%s binds its devices to driver %s but the module file is %s; ESXi loads the module the map '
            'names, so these devices would get no driver' % (map_path, ', '.join(drivers), module_name)
        )
    files = sorted(found['module'] + found['map'] + found['ids'])
    missing_dirs = sorted(_parent_dirs(files) - dirs)
    if missing_dirs:
        warnings.append('the tgz lacks directory entries for %s; ESXi expects every parent directory as its own entry' % ', '.join(missing_dirs))
    vib_name = name or _VIB_NAME.sub('-', module_name)
    depends = []
    if info.vmkapi:
        depends.append(Constraint('vmkapi_%s' % '_'.join(str(n) for n in info.vmkapi)))
    depends += [Constraint(ns.replace('#', '-')) for ns in info.ns_required if ns.startswith('com.vmware.driverAPI#')]
    release = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).isoformat()
    payload = Payload(
        name=(payload_name or vib_name)[:15],
        type='tgz',
        size=size,
        checksums=[Checksum('sha-256', sha256_plain, 'gunzip'), Checksum('sha-256', sha256_raw), Checksum('sha-1', sha1_plain, 'gunzip')],
    )
    descriptor = Descriptor(
        type='bootbank',
        name=vib_name,
        version=version,
        vendor=vendor,
        summary='%s driver (converted from a legacy driver tgz)' % module_name,
        description='vmkernel module %s%s, converted from %s' % (module_name, (' version %s' % info.version) if info.version else '', os.path.basename(path)),
        release_date=release,
        depends=depends,
        software_tags=['driver', 'module'],
        system_requires=SystemRequires(maintenance_mode=True),
        files=files,
        acceptance_level='community',
        live_install_allowed=False,
        live_remove_allowed=False,
        cimom_restart=False,
        stateless_ready=True,
        overlay=False,
        payloads=[payload],
    )
    if info.vmkapi is None and not info.esx4:
        warnings.append('%s declares no vmkapi namespace; the VIB has no vmkapi dependency' % module_path)
    return LegacyDriver(
        descriptor=descriptor,
        module_path=module_path,
        map_path=map_path,
        ids_path=ids_path,
        map_bytes=small[map_path],
        ids_bytes=small[ids_path],
        module_info=info,
        files=files,
        warnings=warnings,
    )


def _parent_dirs(paths):
    dirs = set()
    for path in paths:
        parts = path.split('/')[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add('/'.join(parts[:i]))
    return dirs


def _copy(stream, out):
    while True:
        chunk = stream.read(COPY_CHUNK)
        if not chunk:
            break
        out.write(chunk)
