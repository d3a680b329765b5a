# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publish an ESXi installer ISO as a network-boot tree (TFTP/PXE, UEFI, iPXE, HTTP).

Layout written below the server root ``dest`` (rules: shared/reference/esxi-formats.md section 2.6)::

    <name>/...                      every ISO file, lower-case names (TFTP/HTTP are case-sensitive)
    <name>/boot.cfg                 prefix=<name> (or the http_url), no leading '/', no cdromBoot, ks=
    <name>/efi/boot/boot.cfg        the same rewrite of the UEFI copy
    <name>/mboot.efi                efi/boot/bootx64.efi (UEFI DHCP boot file), + crypto64.efi (7.0U3+)
    <name>/boot.ipxe                iPXE script for any host
    <name>/01-<mac>/boot.cfg        per host: found by mboot.efi itself (it tries <bootdir>/01-<mac>/boot.cfg)
    <name>/01-<mac>/boot.ipxe       per host iPXE script
    pxelinux.cfg/<name>.menu        pxelinux entry (KERNEL <name>/mboot.c32, APPEND -c <name>/boot.cfg, IPAPPEND 2)
    pxelinux.cfg/01-<mac>           per host pxelinux config pointing at <name>/01-<mac>/boot.cfg

Per-host files only reference the shared tree, so N hosts cost N small files.  The files are synced by
:class:`~.treesync.TreeSync` with a manifest in ``<name>/``; the manifest also caches the ISO listing and
digests under the ISO's identity, so a re-run with an unchanged ISO opens neither pycdlib nor the data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._formats.kickstart import PLAINTEXT_ROOTPW_WARNING, plaintext_root_password
from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError, PxeError
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import (
    BIOS_BOOTCFG,
    MAX_BOOTCFG_SIZE,
    UEFI_BOOTCFG,
    EsxiImage,
    bounded_names,
    product_name,
    read_bootcfg,
)
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import compact_bootcfg
from ansible_collections.esxi.customizer.plugins.module_utils._publish.netboot import (
    BOOTX64,
    TOOL,
    _strip_root,
    ipxe_script,
    network_base,
    personalise,
    pxelinux_host,
    pxelinux_menu,
    referenced_files,
)
from ansible_collections.esxi.customizer.plugins.module_utils._publish.sources import BytesSource, Container, ExtentSource, StreamSource
from ansible_collections.esxi.customizer.plugins.module_utils._publish.treesync import PublishError, TreeSync, check_relpath

MANIFEST = '.esxi-customizer-pxe.json'
BOOTLOADERS = ('bios', 'uefi', 'ipxe')
BIOS_CFG = 'boot.cfg'
UEFI_CFG = 'efi/boot/boot.cfg'
MBOOT_C32 = 'mboot.c32'
CRYPTO64 = 'efi/boot/crypto64.efi'
PXELINUX_DIR = 'pxelinux.cfg'
SECTOR = 2048
CACHE_VERSION = 1
HASH_ON_COPY = False
"""ISO files are copied by the kernel without hashing: sha256 runs at ~1.4 GB/s, 2-3 times slower than a
warm-cache copy, and the manifest does not need it while the ISO stays the same (the stat of every file
and the ISO identity decide); digests are computed and recorded when a different ISO must be compared."""

_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$')
_MAC_RE = re.compile(r'^[0-9a-f]{12}$')
_HOSTNAME_RE = re.compile(r'^[^\x00-\x1f\x7f]{1,253}$')
"""Only shown (boot loader title, comments): any single line, inventory names like esx_01 included."""
_URL_RE = re.compile(r'^https?://[^\s/]+(/\S*)?$')


# -- input validation ------------------------------------------------------------------------------


def normalize_mac(mac) -> str:
    """``AA:BB:CC:DD:EE:FF`` / ``aa-bb-..`` / ``aabb.ccdd.eeff`` / ``aabbccddeeff`` -> ``aa-bb-cc-dd-ee-ff``."""
    text = str(mac).strip().lower()
    digits = re.sub(r'[:\-.]', '', text)
    separators = set(re.sub(r'[0-9a-f]', '', text))
    if not _MAC_RE.match(digits) or len(separators) > 1 or (separators and not _separated_evenly(text)):
        raise PxeError('invalid MAC address %r: expected six hex bytes such as 00:50:56:01:02:03' % (mac,))
    return '-'.join(digits[i : i + 2] for i in range(0, 12, 2))


def _separated_evenly(text: str) -> bool:
    return bool(re.match(r'^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$', text) or re.match(r'^([0-9a-f]{4}\.){2}[0-9a-f]{4}$', text))


def check_name(name: str) -> str:
    """The tree's directory name: one path component, safe in boot.cfg, pxelinux and URLs."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in (PXELINUX_DIR,) or '..' in name:
        raise PxeError('invalid name %r: use letters, digits, ".", "_", "+" and "-" (one directory, no "..", not starting with a dot or dash)' % (name,))
    return name


def default_name(version: str | None, build: str | None) -> str:
    """``esxi-<version>-<build number>``, e.g. ``esxi-6.7.0-8169922`` from build ``6.7.0-0.0.8169922``."""
    number = re.split(r'[.-]', build)[-1] if build else None
    if not version or not number or not number.isdigit():
        raise PxeError('cannot derive a name from the ISO (version %r, build %r): set the name option' % (version, build))
    return check_name('esxi-%s-%s' % (version, number))


def check_url(url: str, what: str) -> str:
    url = str(url).strip()
    if not _URL_RE.match(url):
        raise PxeError('%s %r must be an absolute http:// or https:// URL without spaces' % (what, url))
    return url.rstrip('/')


def check_token(value: str, what: str) -> str:
    value = str(value).strip()
    if not value or len(value.split()) != 1:
        raise PxeError('%s %r must be a single word without spaces' % (what, value))
    return value


@dataclass
class Host:
    mac: str
    kickstart_url: str | None = None
    kernelopt_add: list = field(default_factory=list)
    hostname: str | None = None
    kickstart: str | None = field(default=None, repr=False)  # contents to publish as <name>/01-<mac>/ks.cfg

    @classmethod
    def from_dict(cls, spec: dict) -> Host:
        hostname = spec.get('hostname')
        if hostname is not None and not _HOSTNAME_RE.match(str(hostname)):
            raise PxeError('invalid hostname %r for host %s' % (hostname, spec.get('mac')))
        ks = spec.get('kickstart_url')
        return cls(
            normalize_mac(spec.get('mac')),
            check_token(ks, 'kickstart_url') if ks else None,
            [check_token(opt, 'kernelopt_add item') for opt in spec.get('kernelopt_add') or []],
            hostname,
            kickstart=spec.get('kickstart'),
        )

    @property
    def dirname(self) -> str:
        """``01-<mac>``: 01 is the ARP hardware type of Ethernet, as in pxelinux and mboot BOOTIF."""
        return '01-' + self.mac


# -- the ISO side ----------------------------------------------------------------------------------


def tree_path(iso_path: str) -> str:
    """ISO path -> path in the tree: lower case, no ``;1`` version, no trailing dot, checked for escapes."""
    parts = []
    for part in iso_path.replace('\\', '/').split('/'):
        if not part:
            continue
        if ';' in part:
            part = part.rsplit(';', 1)[0]
        part = part.rstrip('.') if part not in ('.', '..') else part
        parts.append(part.lower())
    path = '/'.join(parts)
    try:
        check_relpath(path, 'ISO path')
    except PublishError as err:
        raise FormatError('unsafe file name on the ISO: %s' % err) from None
    return path


def volume_key(container: Container) -> dict:
    """Identity of the ISO: file identity plus a hash of its volume descriptors (read: a few KB)."""
    digest = hashlib.sha256()
    for sector in range(16, 16 + 64):
        offset = sector * SECTOR
        if offset + SECTOR > container.stat.st_size:
            break
        descriptor = container.pread(offset, SECTOR)
        digest.update(descriptor)
        if descriptor[0] == 255 or descriptor[1:6] != b'CD001':
            break
    key = container.identity()
    key['descriptors'] = digest.hexdigest()
    key['cache'] = CACHE_VERSION
    return key


class IsoSnapshot:
    """What publishing needs from the ISO: files with extents, both boot.cfg texts, version and build."""

    def __init__(self, files: list, bootcfg_bios: bytes, bootcfg_uefi: bytes | None, *, version, build, streams=None):
        self.files = files  # [[tree_path, size, byte offset or None]]
        self.bootcfg_bios = bootcfg_bios
        self.bootcfg_uefi = bootcfg_uefi
        self.version = version
        self.build = build
        self.streams = streams or {}  # tree_path -> opener, for multi-extent files
        self.by_path = {}
        for path, size, offset in files:
            if path in self.by_path:
                raise FormatError('has two files that are both %s once lower-cased; a case-sensitive server cannot serve both' % path)
            self.by_path[path] = (size, offset)

    @classmethod
    def from_image(cls, image) -> IsoSnapshot:
        """From an open :class:`~.._image.model.EsxiImage` (pycdlib metadata only, no file data read)."""
        reader = image.reader
        block = reader.logical_block_size
        files, streams = [], {}
        for entry in reader.files():
            # Rock Ridge / Joliet keep the real name where ISO 9660 mangles it (.discinfo -> _DISCINFO)
            path = tree_path(entry.rr_path or entry.joliet_path or entry.path)
            if entry.extents == 1:
                files.append([path, entry.size, entry.extent * block])
            else:
                files.append([path, entry.size, None])
                streams[path] = lambda entry=entry: reader.open_file(entry)
        uefi = image.bootcfg_uefi.serialize() if image.bootcfg_uefi is not None else None
        return cls(files, image.bootcfg_bios.serialize(), uefi, version=image.version, build=image.build, streams=streams)

    def to_meta(self) -> dict | None:
        """JSON form cached in the manifest (None when a file needs pycdlib to read: never cached then)."""
        if self.streams:
            return None
        return {
            'files': self.files,
            'bootcfg_bios': self.bootcfg_bios.decode('utf-8', 'surrogateescape'),
            'bootcfg_uefi': self.bootcfg_uefi.decode('utf-8', 'surrogateescape') if self.bootcfg_uefi is not None else None,
            'version': self.version,
            'build': self.build,
        }

    @classmethod
    def from_meta(cls, meta: dict) -> IsoSnapshot:
        uefi = meta.get('bootcfg_uefi')
        return cls(
            [list(item) for item in meta['files']],
            meta['bootcfg_bios'].encode('utf-8', 'surrogateescape'),
            uefi.encode('utf-8', 'surrogateescape') if uefi is not None else None,
            version=meta.get('version'),
            build=meta.get('build'),
        )

    def source(self, container: Container, path: str):
        size, offset = self.by_path[path]
        if offset is None:
            return StreamSource(size, self.streams[path], cache_key=path)
        return ExtentSource(container, offset, size, cache_key=path, hash_on_copy=HASH_ON_COPY)


# -- the publication -------------------------------------------------------------------------------


@dataclass
class Request:
    src: str | None
    dest: str | None  # None when the publication goes into an archive instead
    name: str | None = None
    http_url: str | None = None
    kickstart_url: str | None = None
    kernelopt_add: list = field(default_factory=list)
    hosts: list = field(default_factory=list)
    bootloaders: list | None = None  # None: all of BOOTLOADERS (None also tells "not given" from a choice)

    def validated(self) -> Request:
        if self.dest is not None:
            self.dest = os.path.abspath(self.dest)
        if self.name is not None:
            check_name(self.name)
        if self.http_url:
            self.http_url = check_url(self.http_url, 'http_url')
        if self.kickstart_url:
            self.kickstart_url = check_token(self.kickstart_url, 'kickstart_url')
        self.kernelopt_add = [check_token(opt, 'kernelopt_add item') for opt in self.kernelopt_add or []]
        hosts = [spec if isinstance(spec, Host) else Host.from_dict(spec) for spec in self.hosts or []]
        seen = set()
        for host in hosts:
            if host.mac in seen:
                raise PxeError('MAC address %s is listed twice in hosts' % host.mac)
            seen.add(host.mac)
        self.hosts = hosts
        with_kickstart = [host.mac for host in hosts if host.kickstart is not None]
        if with_kickstart and not self.http_url:
            raise PxeError(
                'host kickstarts (hosts %s) need http_url: the installer fetches a kickstart over HTTP, not TFTP; set http_url to '
                'the URL of <dest>/<name>' % ', '.join(with_kickstart[:5])
            )
        if self.bootloaders is None:
            self.bootloaders = list(BOOTLOADERS)
        unknown = sorted(set(self.bootloaders) - set(BOOTLOADERS))
        if unknown or not self.bootloaders:
            raise PxeError('bootloaders must be a non-empty list of %s (got %s)' % (', '.join(BOOTLOADERS), self.bootloaders))
        return self


def _owner(name: str) -> dict:
    return {'tool': TOOL, 'name': name}


def _open_image(path: str):
    """Parse the ISO's metadata with pycdlib: only needed when the manifest cache does not match the ISO.

    When ``/BOOT.CFG`` carries ``build=`` (7.0 and later) version and build come from it, so the image
    database is not parsed (a third of the fixed cost of a first publish); otherwise the full model is read.
    """
    reader = IsoReader(path)
    try:
        bios, uefi = (read_bootcfg(reader, name) for name in (BIOS_BOOTCFG, UEFI_BOOTCFG))
        if bios is not None and bios.build:
            return EsxiImage(reader, bios, uefi, imgdb=None, imgdb_entry=None)
    except BaseException:
        reader.close()
        raise
    reader.close()
    return EsxiImage.open(path)


class Publication:
    """Computes the wanted files of one request (see the module docstring for the layout)."""

    def __init__(self, request: Request, snapshot: IsoSnapshot, container: Container, *, name: str):
        self.request = request
        self.snapshot = snapshot
        self.container = container
        self.name = name
        self.prefix = request.http_url or name
        self.wanted = {}
        self.hosts = {}
        self.warnings = []
        self.bootcfg_text = None
        self._bases = {}

    def _add(self, path: str, source) -> str:
        if path in self.wanted:
            raise FormatError('%s would be written twice (an ISO file collides with a generated file)' % path, path=self.request.src)
        self.wanted[path] = source
        return path

    def _bootcfg(self, data: bytes, iso_name: str, kickstart_url, *, kernelopt_add=(), title=None) -> BootCfg:
        """The network form of one ISO boot.cfg; the shared part is computed once for all hosts."""
        base = self._bases.get(iso_name)
        if base is None:
            original = BootCfg.parse(data, path='%s:%s' % (self.request.src, iso_name))
            base = self._bases[iso_name] = network_base(original, self.prefix, self.request.kernelopt_add)
            missing = [path for path in referenced_files(base) if _strip_root(path) not in self.snapshot.by_path]
            if missing:
                raise FormatError(
                    '%s names %s, which the ISO does not contain: the network boot would fail' % (iso_name, bounded_names(missing)), path=self.request.src
                )
        cfg = personalise(base, kickstart_url, kernelopt_add, title=title)
        if (cfg.kickstart or '').lower().startswith('cdrom:'):
            warning = '%s keeps ks=%s, which a network-booted host cannot read; set kickstart_url' % (iso_name, cfg.kickstart)
            if warning not in self.warnings:
                self.warnings.append(warning)
        return cfg

    def _require(self, path: str, loader: str) -> None:
        if path not in self.snapshot.by_path:
            hint = ''
            if path == BOOTX64:
                # 5.0 GA and other BIOS-only media have no EFI/ tree at all
                hint = '; this ISO cannot boot UEFI hosts: publish it with bootloaders: [bios]'
            raise FormatError('has no %s, which the %s boot loader needs%s' % (path.upper(), loader, hint), path=self.request.src)

    def build(self) -> dict:
        req, name, snap = self.request, self.name, self.snapshot
        for path, _size, _offset in snap.files:
            if path in (BIOS_CFG, UEFI_CFG):
                continue
            self._add('%s/%s' % (name, path), snap.source(self.container, path))
        cfg = self._bootcfg(snap.bootcfg_bios, '/BOOT.CFG', req.kickstart_url)
        self.bootcfg_text = cfg.serialize().decode('utf-8', 'surrogateescape')
        self._add('%s/%s' % (name, BIOS_CFG), BytesSource(cfg.serialize()))
        if snap.bootcfg_uefi is not None:
            uefi = self._bootcfg(snap.bootcfg_uefi, '/EFI/BOOT/BOOT.CFG', req.kickstart_url)
            self._add('%s/%s' % (name, UEFI_CFG), BytesSource(uefi.serialize()))
        product = product_name(snap.version)
        label = '%s %s installer (%s)' % (product, snap.version, name) if snap.version else 'ESXi installer (%s)' % name
        if 'bios' in req.bootloaders:
            self._require(MBOOT_C32, 'BIOS (pxelinux)')
            self._add('%s/%s.menu' % (PXELINUX_DIR, name), BytesSource(pxelinux_menu(name, label)))
        if 'uefi' in req.bootloaders:
            self._require(BOOTX64, 'UEFI')
            self._add('%s/mboot.efi' % name, snap.source(self.container, BOOTX64))
            if CRYPTO64 in snap.by_path:
                self._add('%s/crypto64.efi' % name, snap.source(self.container, CRYPTO64))
        base = self.request.http_url or 'tftp://${next-server}/%s' % name
        if 'ipxe' in req.bootloaders:
            self._require(MBOOT_C32, 'iPXE (BIOS)')
            self._require(BOOTX64, 'iPXE (UEFI)')
            self._add('%s/boot.ipxe' % name, BytesSource(ipxe_script(base, BIOS_CFG, name, bootif='01-${mac:hexhyp}')))
        for host in req.hosts:
            self.hosts[host.mac] = self._host_files(host, base)
        return self.wanted

    def _host_files(self, host: Host, base: str) -> list:
        req, name = self.request, self.name
        title = 'Loading %s installer for %s' % (product_name(self.snapshot.version), host.hostname) if host.hostname else None
        files = []
        kickstart_url = host.kickstart_url or req.kickstart_url
        if host.kickstart is not None:
            # published beside the host's boot.cfg, served by the same HTTP server as the tree
            data = host.kickstart.encode('utf-8')
            files.append(self._add('%s/%s/ks.cfg' % (name, host.dirname), BytesSource(data)))
            kickstart_url = host.kickstart_url or '%s/%s/ks.cfg' % (req.http_url, host.dirname)
            if plaintext_root_password(data):
                warning = 'host kickstarts: %s' % PLAINTEXT_ROOTPW_WARNING
                if warning not in self.warnings:
                    self.warnings.append(warning)
        cfg = self._bootcfg(self.snapshot.bootcfg_bios, '/BOOT.CFG', kickstart_url, kernelopt_add=host.kernelopt_add, title=title)
        files.append(self._add('%s/%s/boot.cfg' % (name, host.dirname), BytesSource(cfg.serialize())))
        if 'bios' in req.bootloaders:
            files.append(self._add('%s/%s' % (PXELINUX_DIR, host.dirname), BytesSource(pxelinux_host(name, host))))
        if 'ipxe' in req.bootloaders:
            comment = '%s host %s%s' % (name, host.mac, ' (%s)' % host.hostname if host.hostname else '')
            script = ipxe_script(base, '%s/boot.cfg' % host.dirname, comment, bootif=host.dirname)
            files.append(self._add('%s/%s/boot.ipxe' % (name, host.dirname), BytesSource(script)))
        return files


def _is_bootcfg(path: str) -> bool:
    return path.endswith('/boot.cfg')


def _diff(sync: TreeSync, plan, wanted: dict) -> list:
    """before/after texts of the boot.cfg files the plan writes (Ansible's list-of-diffs form), one module a line."""
    diffs = []
    for path, source, _reason in plan.writes:
        if not _is_bootcfg(path) or not isinstance(source, BytesSource):
            continue
        try:
            before = sync.read(path, MAX_BOOTCFG_SIZE)
        except (EsxiCustomizerError, OSError):
            before = None
        diffs.append(
            {
                'before_header': path if before is not None else '%s (absent)' % path,
                'after_header': path,
                'before': compact_bootcfg(before.decode('utf-8', 'replace')) if before is not None else '',
                'after': compact_bootcfg(source.data.decode('utf-8', 'replace')),
            }
        )
    return diffs


def _owning_publication(dest: str, relpath: str) -> str | None:
    """Name of another publication in ``dest`` whose manifest lists ``relpath`` (error messages only)."""
    try:
        entries = sorted(os.scandir(dest), key=lambda entry: entry.name)
    except OSError:
        return None
    for entry in entries:
        manifest = os.path.join(dest, entry.name, MANIFEST)
        if entry.is_dir(follow_symlinks=False) and os.path.isfile(manifest):
            try:
                with open(manifest, encoding='utf-8') as handle:
                    if relpath in json.load(handle).get('files', {}):
                        return entry.name
            except (OSError, ValueError, AttributeError):
                continue
    return None


def _plan(sync: TreeSync, wanted: dict, dest: str):
    try:
        return sync.plan(wanted)
    except PublishError as err:
        relpath = os.path.relpath(err.path, dest) if err.path else None
        owner = _owning_publication(dest, relpath) if relpath else None
        if owner is None:
            raise
        raise PublishError(
            'is published by %r; remove the host from that publication (or take it down with state=absent) before publishing it under another name' % owner,
            path=err.path,
        ) from None


def publish(request: Request, check_mode: bool = False) -> dict:
    """Publish (or, in check mode, plan) ``request``; returns the module result fields."""
    req = request.validated()
    if not req.src:
        raise PxeError('src (the ISO to publish) is required when state is present')
    if not req.dest:
        raise PxeError('dest (the server root to publish into) is required, or archive to write the publication into a tar file')
    image = None
    try:
        with Container(req.src) as container:
            key = volume_key(container)
            name = req.name
            if name is None:
                image = _open_image(req.src)
                name = default_name(image.version, image.build)
            with TreeSync(req.dest, '%s/%s' % (name, MANIFEST), _owner(name), source_key=key) as sync:
                meta = sync.cached_meta()
                if meta is not None:
                    snapshot = IsoSnapshot.from_meta(meta)
                else:
                    if image is None:
                        image = _open_image(req.src)
                    snapshot = IsoSnapshot.from_image(image)
                sync.source_meta = snapshot.to_meta()
                publication = Publication(req, snapshot, container, name=name)
                wanted = publication.build()
                plan = _plan(sync, wanted, req.dest)
                diff = _diff(sync, plan, wanted)
                if not check_mode:
                    sync.apply(plan, wanted)
    finally:
        if image is not None:
            image.close()
    return {
        'changed': plan.changed,
        'name': name,
        'path': os.path.join(req.dest, name),
        'prefix': publication.prefix,
        'version': snapshot.version,
        'build': snapshot.build,
        'files_written': [path for path, _source, _reason in plan.writes],
        'files_removed': list(plan.removes),
        'files_kept': list(plan.kept_foreign),
        'hosts': publication.hosts,
        'boot_cfg': publication.bootcfg_text,
        'diff': diff,
        'warnings': publication.warnings + ['%s was changed since it was published and is left in place' % path for path in plan.kept_foreign],
    }


def unpublish(request: Request, check_mode: bool = False) -> dict:
    """Remove exactly what an earlier publish of ``name`` wrote (per its manifest)."""
    req = request
    if not req.dest:
        raise PxeError('state absent needs dest (the server root the publication is in)')
    req.dest = os.path.abspath(req.dest)
    name = req.name
    if name is None:
        if not req.src:
            raise PxeError('state absent needs name (or src, to derive the name from the ISO)')
        image = _open_image(req.src)
        try:
            name = default_name(image.version, image.build)
        finally:
            image.close()
    check_name(name)
    with TreeSync(req.dest, '%s/%s' % (name, MANIFEST), _owner(name)) as sync:
        if not sync.published:
            return {
                'changed': False,
                'name': name,
                'path': os.path.join(req.dest, name),
                'files_written': [],
                'files_removed': [],
                'files_kept': [],
                'hosts': {},
                'diff': [],
                'warnings': [],
            }
        plan = sync.plan_removal()
        if not check_mode:
            sync.remove(plan)
    return {
        'changed': True,
        'name': name,
        'path': os.path.join(req.dest, name),
        'files_written': [],
        'files_removed': list(plan.removes),
        'files_kept': list(plan.kept_foreign),
        'hosts': {},
        'diff': [],
        'warnings': ['%s was changed since it was published and is left in place' % path for path in plan.kept_foreign],
    }
