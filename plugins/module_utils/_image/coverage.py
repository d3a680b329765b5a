# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of a server's PCI devices an image (and driver packages) drive: the claims of every driver map, matched.

An installer ISO's VIBs are read as packages whose payloads are files of the ISO (:func:`image_vibs`), so every
payload kind the package reader knows (vgz, tgz, vzstd, xz inside gzip) is read the same streaming way. What a payload
claims is cached by its descriptor sha-256 (``~/.cache/esxi-customizer/coverage``): the same stock payload in the next
ISO, or the next query of the same ISO, reads nothing but the image database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import PciId
from ansible_collections.esxi.customizer.plugins.module_utils._formats.pcilist import Device, claims
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import parse_descriptor
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.source_image import open_source_image
from ansible_collections.esxi.customizer.plugins.module_utils._image.image_vibs import image_vib
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import CONTENT_PAYLOAD_TYPES, PackageVib, is_ids, is_map, load_package
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import write_bytes_atomic
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import cache_dir

CACHE_FORMAT = 1
PACKAGE_SUFFIXES = ('.vib', '.zip', '.tgz')


@dataclass(frozen=True)
class Claim:
    entry: PciId
    vib_id: str
    vib_name: str
    component: str | None
    origin: str  # 'inbox' (the image) or 'package'
    path: str


def image_vibs(image: EsxiImage) -> list[PackageVib]:
    """The image profile's driver-carrying VIBs as packages, their payloads read from the ISO file (esxio ones aside)."""
    found = []
    for vib_id in image.profile.vibs:
        record = image.imgdb.vibs.get(vib_id)
        if record is None or record.is_esxio:
            continue
        descriptor = parse_descriptor(record.orig or record.xml, '%s: VIB %s' % (image.path, vib_id))
        if descriptor.files and not any(is_map(f.lstrip('/')) or is_ids(f.lstrip('/')) for f in descriptor.files):
            continue  # its file list names no driver map: the base tardisks and tools need not be read
        vib = image_vib(image, record, payload_types=CONTENT_PAYLOAD_TYPES)
        if vib is not None and vib.descriptor.payloads:
            found.append(vib)
    return found


def _cache_key(vib: PackageVib) -> str | None:
    sums = []
    for payload in vib.descriptor.payloads:
        plain = [c.value.lower() for c in payload.checksums if c.checksum_type.lower() == 'sha-256' and not c.verify_process]
        if not plain:
            return None
        sums.append('%s-%d' % (plain[0], payload.size))
    return '-'.join(sorted(sums))


def _cached_entries(vib: PackageVib) -> list[PciId]:
    key = _cache_key(vib)
    path = os.path.join(cache_dir('coverage'), '%s.json' % key[:64]) if key else None
    if path:
        try:
            with open(path, encoding='utf-8') as stream:
                doc = json.load(stream)
            if doc.get('format') == CACHE_FORMAT and doc.get('key') == key:
                return [PciId(**fields) for fields in doc['entries']]
        except (OSError, ValueError, TypeError, KeyError):
            pass
    entries = vib.pci_ids
    if path:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            doc = {'format': CACHE_FORMAT, 'key': key, 'entries': [e.__dict__ for e in entries]}
            write_bytes_atomic(path, json.dumps(doc).encode('utf-8'), mode=0o600, durable=False)
        except OSError:
            pass  # no writable cache: the next query reads the payloads again
    return entries


def _package_files(paths: Iterable[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files += [os.path.join(root, name) for name in sorted(names) if name.lower().endswith(PACKAGE_SUFFIXES)]
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise EsxiCustomizerError('does not exist (packages lists files and directories of .vib, .zip and .tgz packages)', path=path)
    return files


def _component_of(components: dict, vib_id: str) -> str | None:
    for name, vib_ids in components.items():
        if vib_id in vib_ids:
            return name
    return None


def collect_claims(src: str | None, packages: Iterable[str], *, profile: str | None = None) -> tuple[list[Claim], dict, list[str]]:
    """Every PCI claim of ``src`` (inbox; an ISO, or a depot's ``profile``) and the ``packages``; device names; warnings."""
    found, names, warnings = [], {}, []
    if src:
        with open_source_image(src, profile) as (image, _depot):
            if image.imgdb is None or image.profile is None:
                raise FormatError('has no image database with an image profile to read drivers from', path=src)
            components = {c.name: set(c.vib_ids) for c in image.imgdb.components.values() if c.name and not c.reserved}
            for vib in image_vibs(image):
                try:
                    entries = _cached_entries(vib)
                except EsxiCustomizerError as err:
                    warnings.append('%s: not read (%s)' % (vib.vib_id, err))
                    continue
                found += [Claim(e, vib.vib_id, vib.name, _component_of(components, vib.vib_id), 'inbox', src) for e in entries]
    for path in _package_files(packages):
        with load_package(path) as package:
            components = {c.name: set(c.vib_ids) for c in package.components}
            for vib in package.vibs:
                found += [Claim(e, vib.vib_id, vib.name, _component_of(components, vib.vib_id), 'package', path) for e in vib.pci_ids]
                warnings += ['%s: %s' % (vib.vib_id, w) for w in vib.all_warnings()]
    for claim in found:
        entry = claim.entry
        if entry.vendor and entry.device and entry.device_name and '.' not in entry.vendor + entry.device:
            names.setdefault((entry.vendor, entry.device), (entry.vendor_name, entry.device_name))
    return found, names, warnings


def coverage(devices: list[Device], *, src: str | None = None, profile: str | None = None, packages: Iterable[str] = ()) -> dict:
    """The answer for each of ``devices``: supported, by which driver, VIB and component, inbox or from a package."""
    if not src and not list(packages):
        raise EsxiCustomizerError('give src (an installer ISO), packages, or both: there is nothing to read drivers from')
    found, names, warnings = collect_claims(src, packages, profile=profile)
    answers = []
    for device in devices:
        drivers = []
        for claim in found:
            how = claims(claim.entry, device)
            if how is None:
                continue
            drivers.append(
                {
                    'driver': claim.entry.driver,
                    'vib': claim.vib_id,
                    'vib_name': claim.vib_name,
                    'component': claim.component,
                    'origin': claim.origin,
                    'file': claim.path,
                    'match': how,
                    'map': claim.entry.source,
                }
            )
        drivers = [dict(t) for t in sorted({tuple(sorted(d.items(), key=lambda kv: kv[0])) for d in drivers}, key=str)]
        vendor_name, device_name = names.get((device.vendor, device.device), (None, None))
        answer = {
            'id': device.key,
            'address': device.address,
            'name': device.name or device_name,
            'vendor_name': vendor_name,
            'supported': any(d['match'] == 'match' for d in drivers),
            'drivers': drivers,
            'warnings': [],
        }
        claiming = sorted({d['driver'] for d in drivers if d['match'] == 'match'})
        if len(claiming) > 1:
            answer['warnings'].append(
                '%s is claimed by %d drivers (%s): which one loads depends on ESXi\'s order' % (device.key, len(claiming), ', '.join(claiming))
            )
        if not answer['supported'] and drivers:
            answer['warnings'].append(
                '%s may be driven by %s: the map entry needs the subsystem or class, which the device list does not give (lspci -n gives the class)'
                % (device.key, ', '.join(sorted({d['driver'] for d in drivers})))
            )
        answers.append(answer)
    return {
        'devices': answers,
        'supported': [a['id'] for a in answers if a['supported']],
        'unsupported': [a['id'] for a in answers if not a['supported']],
        'warnings': warnings,
    }
