# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders for ESXi driver packages: ar VIBs, vmtar/tgz payloads, offline bundles, legacy driver tgz.

Written from ``shared/reference/esxi-formats.md`` (section numbers in the docstrings), never from the
collection's own readers, so that the readers are tested against an independent writer.
Every builder is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile
import zipfile
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

# A fixed "real-looking" mtime for the ESXi-CPT style ar headers and tar entries (2011-09-01).
FIXED_MTIME = 1314835200
RELEASE_DATE = '2024-06-25T00:00:00.000001+00:00'

VENDOR_NAMES = {
    '10ec': 'Realtek Semiconductor Co., Ltd.',
    '8086': 'Intel Corporation',
    '14e4': 'Broadcom Inc. and subsidiaries',
    '15ad': 'VMware',
}


# --- ar (VIB container, section 4.1) -------------------------------------------------------------


def ar_archive(members: list[tuple[str, bytes]], gnu_style: bool = False) -> bytes:
    """Unix ar archive: VMware style (zero mtime/uid/gid/mode) or ESXi-CPT/GNU style (``name/``)."""
    out = [b'!<arch>\n']
    for name, data in members:
        arname = name + '/' if gnu_style else name
        if len(arname) > 16:
            raise ValueError('ar member name too long: %r' % arname)
        mtime, mode = (FIXED_MTIME, '100000') if gnu_style else (0, '0')
        header = '%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (arname, mtime, 0, 0, mode, len(data))
        out.append(header.encode('ascii'))
        out.append(data)
        if len(data) % 2:
            out.append(b'\n')
    return b''.join(out)


def ar_members(data: bytes) -> list[tuple[str, bytes]]:
    """Split an ar archive built by :func:`ar_archive` (used by the bundle builder)."""
    if not data.startswith(b'!<arch>\n'):
        raise ValueError('not an ar archive')
    pos, members = 8, []
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode('ascii').rstrip(' ').rstrip('/')
        size = int(header[48:58].decode('ascii').strip())
        members.append((name, data[pos + 60 : pos + 60 + size]))
        pos += 60 + size + (size % 2)
    return members


# --- compression and tar dialects (sections 3.2, 6) ------------------------------------------------


def gzip_bytes(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name, so output is reproducible."""
    return gzip.compress(data, compresslevel=6, mtime=0)


ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'


def zstd_bytes(data: bytes, level: int = 18) -> bytes:
    """One zstd frame (with its content size), as ESXi 9.0 writes them (level 18)."""
    try:
        from compression import zstd  # pylint: disable=import-outside-toplevel

        return zstd.compress(data, level)
    except ImportError:
        import zstandard  # pylint: disable=import-outside-toplevel

        return zstandard.ZstdCompressor(level=level).compress(data)


def zstd_decompress(data: bytes) -> bytes:
    try:
        from compression import zstd  # pylint: disable=import-outside-toplevel

        return zstd.decompress(data)
    except ImportError:
        import zstandard  # pylint: disable=import-outside-toplevel

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def vzstd_bytes(data: bytes) -> bytes:
    """An ESXi 9.0 ``vzstd`` payload: gzip (no name, mtime 0) around one zstd frame around ``data``."""
    return gzip_bytes(zstd_bytes(data))


def unpack_payload(data: bytes) -> bytes:
    """The payload's innermost stream: gzip undone, and a zstd frame inside it too (vzstd)."""
    plain = gzip.decompress(data)
    return zstd_decompress(plain) if plain.startswith(ZSTD_MAGIC) else plain


def _parent_dirs(paths) -> list[str]:
    dirs = set()
    for path in paths:
        parts = path.strip('/').split('/')[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add('/'.join(parts[:i]))
    return sorted(dirs)


def tar_gz(files: dict[str, bytes], mtime: int = FIXED_MTIME) -> bytes:
    """GNU-format tar.gz, every parent directory as its own entry, uid/gid 0, sorted, deterministic."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for dirname in _parent_dirs(files):
            info = tarfile.TarInfo(dirname)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            info.uname = info.gname = 'root'
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path.strip('/'))
            info.size, info.mode, info.mtime = len(files[path]), 0o644, mtime
            info.uname = info.gname = 'root'
            tar.addfile(info, io.BytesIO(files[path]))
    return gzip_bytes(raw.getvalue())


VMTAR_MAGIC = b'visor  \x00'
VMTAR_ALIGN = 4096


def _octal(value: int, width: int) -> bytes:
    return ('%0*o' % (width - 1, value)).encode('ascii') + b'\x00'


def vmtar_header(name: str, typeflag: bytes, mode: int, size: int, offset: int, mtime: int = 0) -> bytes:
    """One 512-byte vmtar header (section 6.1) with a correct ustar-style checksum."""
    encoded = name.encode('utf-8')
    if len(encoded) > 99:
        raise ValueError('vmtar name too long for this generator: %s' % name)
    header = bytearray(512)
    header[0 : len(encoded)] = encoded
    header[100:108] = _octal(mode, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(mtime, 12)
    header[148:156] = b' ' * 8
    header[156:157] = typeflag
    header[257:265] = VMTAR_MAGIC
    header[265:269] = b'root'
    header[297:301] = b'root'
    header[496:512] = struct.pack('<IIII', offset, 0, 0, 0)
    checksum = sum(header)
    header[148:156] = ('%06o' % checksum).encode('ascii') + b'\x00 '
    return bytes(header)


def vmtar(files: dict[str, bytes]) -> bytes:
    """Uncompressed vmtar (sections 6.1/6.2): all headers first, data 4096-aligned at header offset 496.

    Module binaries under ``usr/lib/vmware/vmkmod/`` get typeflag ``7`` (shared file) like VMware's.
    """
    dirs = _parent_dirs(files)
    paths = sorted(p.strip('/') for p in files)
    data_by_path = {p.strip('/'): d for p, d in files.items()}
    header_bytes = 512 * (len(dirs) + len(paths)) + 1024  # headers + two zero blocks
    offset = -(-header_bytes // VMTAR_ALIGN) * VMTAR_ALIGN
    headers, blobs = [], []
    for dirname in dirs:
        headers.append(vmtar_header(dirname + '/', b'5', 0o755, 0, 0))
    for path in paths:
        data = data_by_path[path]
        typeflag = b'7' if path.startswith('usr/lib/vmware/vmkmod/') else b'0'
        headers.append(vmtar_header(path, typeflag, 0o644, len(data), offset))
        padded = -(-len(data) // VMTAR_ALIGN) * VMTAR_ALIGN
        blobs.append(data + b'\x00' * (padded - len(data)))
        offset += padded
    head = b''.join(headers) + b'\x00' * 1024
    head += b'\x00' * (-(-len(head) // VMTAR_ALIGN) * VMTAR_ALIGN - len(head))
    body = head + b''.join(blobs)
    return body + b'\x00' * (-len(body) % 512)


def vmtar_names(data: bytes) -> list[str]:
    """Entry names of an uncompressed vmtar (headers until the first zero block)."""
    names, pos = [], 0
    while pos + 512 <= len(data) and data[pos : pos + 512] != b'\x00' * 512:
        names.append(data[pos : pos + 100].split(b'\x00', 1)[0].decode('utf-8'))
        pos += 512
    return names


# --- vmkernel module ELF (section 7.4) ------------------------------------------------------------


def vmkmod_elf(name: str, license: str | None = 'GPL', vmkapi: str = '2_5_0_0', vmklinux: bool = False, version: str = '1.0.0') -> bytes:
    """A small ELF64 relocatable (e_type 1, e_machine 62) shaped like a 5.x+ vmkernel module.

    ``license=None`` gives a 4.x-style module: no ``.vmkmodinfo`` and no ``.vmkrequiredns``.
    """
    namespaces = ['com.vmware.vmkapi#v%s' % vmkapi]
    if vmklinux:
        namespaces.append('com.vmware.driverAPI#9.2.1.0')
    text = b'\x55\x48\x89\xe5\x31\xc0\x5d\xc3' + name.encode('ascii')[:32]  # push rbp; ...; ret + tag
    sections = [('.text', 1, 6, text)]
    if license is not None:
        info = ['license=%s' % license, 'version=%s' % version] + ['nsRequired=%s' % ns for ns in namespaces]
        sections.append(('.vmkmodinfo', 1, 2, b''.join(s.encode('ascii') + b'\x00' for s in info)))
        sections.append(('.vmkrequiredns', 1, 2, b''.join(ns.encode('ascii') + b'\x00' for ns in namespaces)))
    shstrtab = b'\x00'
    name_offsets = []
    for sec_name, _type, _flags, _data in sections + [('.shstrtab', 3, 0, b'')]:
        name_offsets.append(len(shstrtab))
        shstrtab += sec_name.encode('ascii') + b'\x00'
    sections.append(('.shstrtab', 3, 0, shstrtab))
    body, offsets = b'', []
    for _name, _type, _flags, data in sections:
        pad = -(64 + len(body)) % 16
        body += b'\x00' * pad
        offsets.append(64 + len(body))
        body += data
    body += b'\x00' * (-(64 + len(body)) % 8)
    shoff = 64 + len(body)
    ident = b'\x7fELF' + bytes([2, 1, 1, 0]) + b'\x00' * 8
    ehdr = ident + struct.pack('<HHIQQQIHHHHHH', 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, len(sections) + 1, len(sections))
    shdrs = b'\x00' * 64
    for (sec_name, sec_type, flags, data), name_off, off in zip(sections, name_offsets, offsets):
        shdrs += struct.pack('<IIQQQQIIQQ', name_off, sec_type, flags, 0, off, len(data), 0, 0, 16 if sec_type == 1 else 1, 0)
    return ehdr + body + shdrs


# --- driver metadata files (section 7) -------------------------------------------------------------


def ids_text(module: str, pci_ids) -> bytes:
    """pci.ids-syntax ``.ids`` file, TAB-indented (section 7.3)."""
    lines = ['# This file is mechanically generated. Any changes you make will be lost.', '']
    by_vendor: dict[str, list[str]] = {}
    for vendor, device in pci_ids:
        by_vendor.setdefault(vendor.lower(), []).append(device.lower())
    for vendor in sorted(by_vendor):
        lines.append('%s  %s' % (vendor, VENDOR_NAMES.get(vendor, 'Vendor %s' % vendor)))
        for device in by_vendor[vendor]:
            lines.append('\t%s  %s %s controller' % (device, module, device))
    return ('\n'.join(lines) + '\n').encode('ascii')


def map_text(module: str, pci_ids, style: str = 'native', device_class: str = 'network') -> bytes:
    """Driver ``.map`` lines: ``regtype=native`` (6.0+) or ``regtype=linux`` (vmklinux), section 7.2."""
    lines = []
    for vendor, device in pci_ids:
        if style == 'native':
            lines.append('regtype=native,bus=pci,id=%s%s%s,driver=%s' % (vendor.lower(), device.lower(), '.' * 14, module))
        elif style == 'linux':
            lines.append('regtype=linux,bus=pci,id=%s:%s 0000:0000,driver=%s,class=%s' % (vendor.lower(), device.lower(), module, device_class))
        else:
            raise ValueError('unknown driver style %r' % style)
    return ('\n'.join(lines) + '\n').encode('ascii')


def driver_files(module: str, pci_ids: list[tuple[str, str]], style: str = 'native', **kw) -> dict[str, bytes]:
    """Module binary + ``.map`` + ``.ids`` as a path -> bytes dict (paths relative to ``/``).

    style 'native': etc/vmware/default.map.d/, usr/share/hwdata/default.pciids.d/;
    style 'linux' (vmklinux): etc/vmware/driver.map.d/, usr/share/hwdata/driver.pciids.d/.
    Extra keywords go to :func:`vmkmod_elf` (license, vmkapi, version) and ``device_class``.
    """
    device_class = kw.pop('device_class', 'network')
    linux = style == 'linux'
    kw.setdefault('vmklinux', linux)
    map_dir = 'etc/vmware/driver.map.d' if linux else 'etc/vmware/default.map.d'
    ids_dir = 'usr/share/hwdata/driver.pciids.d' if linux else 'usr/share/hwdata/default.pciids.d'
    return {
        'usr/lib/vmware/vmkmod/%s' % module: vmkmod_elf(module, **kw),
        '%s/%s.map' % (map_dir, module): map_text(module, pci_ids, style, device_class),
        '%s/%s.ids' % (ids_dir, module): ids_text(module, pci_ids),
    }


# --- VIB descriptor and VIB (sections 4.1, 4.2) ---------------------------------------------------


def _constraints(tag: str, items) -> str:
    if not items:
        return '<%s/>' % tag
    parts = []
    for item in items:
        if isinstance(item, str):
            parts.append('<%s name=%s/>' % ('provide' if tag == 'provides' else 'constraint', quoteattr(item)))
        elif len(item) == 2:  # (name, version): a versioned <provide>
            parts.append('<provide name=%s version=%s/>' % (quoteattr(item[0]), quoteattr(item[1])))
        else:
            name, relation, version = item
            parts.append('<constraint name=%s relation=%s version=%s/>' % (quoteattr(name), quoteattr(relation), quoteattr(version)))
    return '<%s>%s</%s>' % (tag, ''.join(parts), tag)


class PayloadDigest:
    """Size and hashes of a payload that was streamed to disk instead of held in memory."""

    def __init__(
        self,
        size: int,
        sha256: str,
        sha256_gunzip: str | None = None,
        sha1_gunzip: str | None = None,
        uncompressed_size: int | None = None,
        *,
        sha256_gunzip1: str | None = None,
    ):
        self.size, self.sha256 = size, sha256
        self.sha256_gunzip, self.sha1_gunzip, self.uncompressed_size = sha256_gunzip, sha1_gunzip, uncompressed_size
        self.sha256_gunzip1 = sha256_gunzip1

    @classmethod
    def of(cls, data: bytes) -> PayloadDigest:
        if data[:2] == b'\x1f\x8b':
            layer1 = gzip.decompress(data)
            # vzstd: "gunzip" is the fully decompressed payload, gunzip1 the zstd frame (esxi-semantics 7.1)
            zstd = layer1.startswith(ZSTD_MAGIC)
            plain = zstd_decompress(layer1) if zstd else layer1
            return cls(
                len(data),
                hashlib.sha256(data).hexdigest(),
                hashlib.sha256(plain).hexdigest(),
                hashlib.sha1(plain).hexdigest(),
                len(plain),
                sha256_gunzip1=hashlib.sha256(layer1).hexdigest() if zstd else None,
            )
        return cls(len(data), hashlib.sha256(data).hexdigest())


def payload_checksums(data, order: str = 'vmware') -> list[tuple[str, str | None, str]]:
    """(checksum-type, verify-process, hex) in VMware's order: sha-256 gunzip, sha-256, sha-1 gunzip.

    ``data`` is the payload bytes or a :class:`PayloadDigest`. Payloads that are not gzip get only the
    plain sha-256. order='legacy' gives only sha-256 + sha-1 gunzip (what pre-8.0 community VIBs carry);
    order='plain-first' puts plain sha-256 first (the ordering pitfall of section 4.2).
    """
    digest = data if isinstance(data, PayloadDigest) else PayloadDigest.of(data)
    sha256 = ('sha-256', None, digest.sha256)
    if digest.sha256_gunzip is None:
        return [sha256]
    sha256_gunzip = ('sha-256', 'gunzip', digest.sha256_gunzip)
    sha1_gunzip = ('sha-1', 'gunzip', digest.sha1_gunzip)
    if order == 'legacy':
        return [sha256, sha1_gunzip]
    if order == 'plain-first':
        return [sha256, sha256_gunzip, sha1_gunzip]
    if digest.sha256_gunzip1 is not None:
        return [sha256_gunzip, sha256, sha1_gunzip, ('sha-256-gunzip1', None, digest.sha256_gunzip1)]
    return [sha256_gunzip, sha256, sha1_gunzip]


def descriptor_xml(
    name: str,
    version: str,
    vendor: str = 'ESXCUST',
    acceptance_level: str = 'community',
    payloads=(),
    files=(),
    depends=(),
    conflicts=(),
    replaces=(),
    provides=(),
    vib_type: str = 'bootbank',
    summary: str | None = None,
    description: str | None = None,
    software_tags=('driver', 'module'),
    platform_version: str | None = None,
    product_line: str = 'embeddedEsx',
    checksum_order: str = 'vmware',
    uncompressed_size: bool = False,
    release_date: str = RELEASE_DATE,
    extra_payload_attrs=None,
) -> bytes:
    """descriptor.xml (section 4.2). ``payloads`` = list of (payload_name, payload_type, bytes or PayloadDigest)."""
    summary = summary if summary is not None else '%s driver for ESXi' % name
    description = description if description is not None else 'Test fixture driver package %s' % name
    tags = ''.join('<tag>%s</tag>' % escape(t) for t in software_tags)
    platform = ''
    if platform_version:
        platform = '<softwarePlatform version=%s locale="" productLineID=%s/>' % (quoteattr(platform_version), quoteattr(product_line))
    payload_xml = []
    for pname, ptype, pdata in payloads:
        digest = pdata if isinstance(pdata, PayloadDigest) else PayloadDigest.of(pdata)
        attrs = 'name=%s type=%s size="%d"' % (quoteattr(pname), quoteattr(ptype), digest.size)
        if uncompressed_size and digest.uncompressed_size is not None:
            attrs += ' uncompressed-size="%d"' % digest.uncompressed_size
        for key, value in (extra_payload_attrs or {}).get(pname, {}).items():
            attrs += ' %s=%s' % (key, quoteattr(value))
        sums = []
        for ctype, process, hexdigest in payload_checksums(digest, checksum_order):
            proc = ' verify-process="%s"' % (process,) if process else ''
            sums.append('<checksum checksum-type="%s"%s>%s</checksum>' % (ctype, proc, hexdigest))
        payload_xml.append('<payload %s>%s</payload>' % (attrs, ''.join(sums)))
    file_list = ''.join('<file>%s</file>' % escape(f) for f in files)
    text = (
        '<vib version="5.0">'
        '<type>%s</type><name>%s</name><version>%s</version><vendor>%s</vendor>'
        '<summary>%s</summary><description>%s</description><release-date>%s</release-date><urls/>'
        '<relationships>%s%s%s%s<compatibleWith/></relationships>'
        '<software-tags>%s</software-tags>'
        '<system-requires><maintenance-mode>true</maintenance-mode>%s</system-requires>'
        '<file-list>%s</file-list>'
        '<acceptance-level>%s</acceptance-level>'
        '<live-install-allowed>false</live-install-allowed><live-remove-allowed>false</live-remove-allowed>'
        '<cimom-restart>false</cimom-restart><stateless-ready>true</stateless-ready><overlay>false</overlay>'
        '<payloads>%s</payloads></vib>'
    ) % (
        escape(vib_type),
        escape(name),
        escape(version),
        escape(vendor),
        escape(summary),
        escape(description),
        escape(release_date),
        _constraints('depends', depends),
        _constraints('conflicts', conflicts),
        _constraints('replaces', replaces),
        _constraints('provides', provides),
        tags,
        platform,
        file_list,
        escape(acceptance_level),
        ''.join(payload_xml),
    )
    return text.encode('utf-8')


def payload_file_list(payload_type: str, data: bytes) -> list[str]:
    """Regular files inside a vgz/tgz payload (for descriptor file-list); other types have none listed."""
    if data[:2] != b'\x1f\x8b':
        return []
    plain = unpack_payload(data)
    if payload_type in ('vgz', 'vzstd') or plain[257:262] == b'visor':
        return [n for n in vmtar_names(plain) if not n.endswith('/')]
    with tarfile.open(fileobj=io.BytesIO(plain), mode='r:') as tar:
        return [m.name for m in tar.getmembers() if m.isfile()]


def vib_id(vendor: str, vib_type: str, name: str, version: str) -> str:
    return '%s_%s_%s_%s' % (vendor, vib_type, name, version)


def build_vib(
    name: str,
    version: str,
    vendor: str = 'ESXCUST',
    acceptance_level: str = 'community',
    payloads=None,
    depends=(),
    conflicts=(),
    replaces=(),
    provides=(),
    signature: bytes = b'',
    vib_type: str = 'bootbank',
    **kw,
) -> bytes:
    """A complete .vib (ar: descriptor.xml, sig.pkcs7, payload members).

    Default payload: one ``vgz`` (gzip of :func:`vmtar`) of :func:`driver_files`, named ``name[:15]``.
    Keywords: module, pci_ids, style (driver_files); payload_name, payload_type ('vgz'|'vzstd'|'tgz') for the default
    payload; gnu_style (ar flavour); vmkapi, license; and any :func:`descriptor_xml` keyword.
    """
    module = kw.pop('module', name.replace('-', '_'))
    pci_ids = kw.pop('pci_ids', [('10ec', '8168')])
    style = kw.pop('style', 'native')
    gnu_style = kw.pop('gnu_style', False)
    payload_name = kw.pop('payload_name', name[:15])
    payload_type = kw.pop('payload_type', 'vgz')
    elf_kw = {k: kw.pop(k) for k in ('license', 'vmkapi', 'vmklinux') if k in kw}
    if payloads is None:
        files = driver_files(module, pci_ids, style, **elf_kw)
        pdata = {'vgz': lambda: gzip_bytes(vmtar(files)), 'vzstd': lambda: vzstd_bytes(vmtar(files))}.get(payload_type, lambda: tar_gz(files))()
        payloads = [(payload_name, payload_type, pdata)]
    if not depends:
        depends = ('vmkapi_%s' % elf_kw.get('vmkapi', '2_5_0_0'),)
    file_list = kw.pop('files', None)
    if file_list is None:
        file_list = [f for pname, ptype, pdata in payloads for f in payload_file_list(ptype, pdata)]
    if 'software_tags' not in kw:
        kw['software_tags'] = ['driver', 'module'] + ['PCIID %s%s' % (v, d) for v, d in pci_ids]
    descriptor = descriptor_xml(name, version, vendor, acceptance_level, payloads, file_list, depends, conflicts, replaces, provides, vib_type, **kw)
    members = [('descriptor.xml', descriptor), ('sig.pkcs7', signature)]
    members += [(pname, pdata) for pname, _ptype, pdata in payloads]
    return ar_archive(members, gnu_style=gnu_style)


def vib_descriptor(vib: bytes) -> ElementTree.Element:
    """Parsed descriptor.xml of a VIB (our own bytes; used by the bundle and ISO builders)."""
    return ElementTree.fromstring(dict(ar_members(vib))['descriptor.xml'])


def vib_facts(vib: bytes) -> dict:
    """name, version, vendor, type, id, acceptance_level, payloads [(name, type, bytes)], signature, descriptor."""
    members = ar_members(vib)
    by_name = dict(members)
    root = ElementTree.fromstring(by_name['descriptor.xml'])
    facts = {key: root.findtext(key) for key in ('name', 'version', 'vendor', 'type')}
    facts['acceptance_level'] = root.findtext('acceptance-level')
    facts['id'] = vib_id(facts['vendor'], facts['type'], facts['name'], facts['version'])
    facts['payloads'] = [(p.get('name'), p.get('type'), by_name[p.get('name')]) for p in root.iter('payload')]
    facts['signature'] = by_name.get('sig.pkcs7', b'')
    facts['descriptor'] = by_name['descriptor.xml']
    return facts


# --- offline bundle (section 5) ------------------------------------------------------------------


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, 'w', zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries:
            info = zipfile.ZipInfo(path, date_time=(2024, 6, 25, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return raw.getvalue()


def _vendor_index(versions) -> bytes:
    items = ''.join(
        '<metadata><productId>embeddedEsx</productId><version>%s</version><locale></locale>'
        '<url>metadata.zip</url><channelName>default</channelName></metadata>' % escape(v)
        for v in versions
    )
    return ('<metaList>%s</metaList>\n' % items).encode('utf-8')


INDEX_XML = (
    b'<vendorList><vendor><name>VMware</name><code>VMX</code><indexfile>vendor-index.xml</indexfile>'
    b'<patchUrl></patchUrl><relativePath></relativePath><content><name>VMware ESX</name>'
    b'<type>http://www.vmware.com/depotmanagement/esx</type></content></vendor></vendorList>\n'
)


def _vib_summary(facts: dict, relpath: str, vib: bytes) -> str:
    root = ElementTree.fromstring(facts['descriptor'])
    rel = root.find('relationships')
    tags = ''.join('<tag>%s</tag>' % escape(t.text or '') for t in root.iter('tag'))
    return (
        '<vib><vibVersion>1.4.5</vibVersion><vibID>%s</vibID><name>%s</name><version>%s</version><vendor>%s</vendor>'
        '<vibType>%s</vibType><summary>%s</summary><systemReqs><maintenanceMode>true</maintenanceMode>'
        '<swPlatform locale="" version="" productLineID="embeddedEsx"/></systemReqs>%s'
        '<postInstall><rebootRequired>true</rebootRequired><hostdRestart>false</hostdRestart></postInstall>'
        '<softwareTags>%s</softwareTags><vibFile><sourceUrl></sourceUrl><relativePath>%s</relativePath>'
        '<packedSize>%d</packedSize><checksum><checksumType>sha-256</checksumType><checksum>%s</checksum></checksum>'
        '</vibFile></vib>'
    ) % (
        escape(facts['id']),
        escape(facts['name']),
        escape(facts['version']),
        escape(facts['vendor']),
        escape(facts['type']),
        escape(root.findtext('summary') or ''),
        ElementTree.tostring(rel, encoding='unicode'),
        tags,
        escape(relpath),
        len(vib),
        hashlib.sha256(vib).hexdigest(),
    )


def _metadata_vib_xml(facts: dict, relpath: str, vib: bytes) -> bytes:
    """Descriptor plus relative-path/packed-size/checksum inserted after software-tags (section 5)."""
    text = facts['descriptor'].decode('utf-8')
    extra = ('<relative-path>%s</relative-path><packed-size>%d</packed-size><checksum checksum-type="sha-256">%s</checksum>') % (
        escape(relpath),
        len(vib),
        hashlib.sha256(vib).hexdigest(),
    )
    return text.replace('</software-tags>', '</software-tags>' + extra, 1).encode('utf-8')


def build_offline_bundle(
    vibs: list[bytes], layout: str = 'vmware', component: dict | bool | None = None, versions=('7.0.0',), bulletin_id: str | None = None
) -> bytes:
    """Offline bundle zip (section 5). layout 'vmware' = vib20/<name>/<id>.vib, 'flat' = <name>.x86_64.vib.

    ``component`` truthy makes the bulletin a 7.x component; a dict may give name, version, ui_name.
    """
    facts_list = [vib_facts(v) for v in vibs]
    first = facts_list[0]
    if layout == 'vmware':
        relpaths = ['vib20/%s/%s.vib' % (f['name'], f['id']) for f in facts_list]
    elif layout == 'flat':
        relpaths = ['%s.x86_64.vib' % f['name'] for f in facts_list]
    else:
        raise ValueError('unknown bundle layout %r' % layout)
    comp = None
    if component:
        comp = dict(component) if isinstance(component, dict) else {}
        comp.setdefault('name', '%s-%s' % (first['vendor'], first['name']))
        comp.setdefault('version', first['version'])
        comp.setdefault('ui_name', '%s driver component' % first['name'])
    bid = bulletin_id or (('%s_%s' % (comp['name'], comp['version'])) if comp else '%s-%s-%s' % (first['vendor'], first['name'], first['version']))
    comp_xml = ''
    if comp:
        comp_xml = '<componentNameSpec uiString=%s name=%s/><componentVersionSpec uiString=%s version=%s/>' % (
            quoteattr(comp['ui_name']),
            quoteattr(comp['name']),
            quoteattr(comp['version']),
            quoteattr(comp['version']),
        )
    head = (
        '<id>%s</id><vendor>%s</vendor><summary>%s</summary><severity>general</severity><category>enhancement</category>'
        '<urgency>important</urgency><releaseType>extension</releaseType><description>%s</description>'
        '<kbUrl></kbUrl><contact></contact>%s<releaseDate>%s</releaseDate>'
        '<platforms><softwarePlatform locale="" version="%s" productLineID="embeddedEsx"/></platforms>'
    ) % (
        escape(bid),
        escape(first['vendor']),
        escape('%s driver' % first['name']),
        escape('%s driver' % first['name']),
        comp_xml,
        RELEASE_DATE,
        escape(versions[0]),
    )
    bulletin = '<bulletin>%s<vibList>%s</vibList></bulletin>' % (head, ''.join('<vibID>%s</vibID>' % escape(f['id']) for f in facts_list))
    summaries = ''.join(_vib_summary(f, r, v) for f, r, v in zip(facts_list, relpaths, vibs))
    vmware_xml = (
        '<metadataResponse><version>3.0</version><timestamp>2024-06-25T00:00:00</timestamp><bulletin>%s<vibList>%s</vibList></bulletin></metadataResponse>\n'
    ) % (head, summaries)
    vendor_index = _vendor_index(versions)
    meta_entries = [('vendor-index.xml', vendor_index), ('vmware.xml', vmware_xml.encode('utf-8'))]
    for number, (facts, relpath, vib) in enumerate(zip(facts_list, relpaths, vibs), start=1):
        meta_entries.append(('vibs/%s-%d.xml' % (facts['name'], 1000000000 + number), _metadata_vib_xml(facts, relpath, vib)))
    meta_entries.append(('bulletins/%s.xml' % bid, bulletin.encode('utf-8')))
    entries = [('index.xml', INDEX_XML), ('vendor-index.xml', vendor_index), ('metadata.zip', _zip(meta_entries))]
    entries += list(zip(relpaths, vibs))
    return _zip(entries)


# --- legacy 3-file driver tgz (section 7.1) ------------------------------------------------------


def build_legacy_tgz(
    module: str = 'r8169',
    pci_ids=(('10ec', '8169'),),
    map_dir: str = 'etc/vmware',
    extra: dict | None = None,
    omit: str | None = None,
    legacy4x: bool = False,
    vmkapi: str = '2_0_0_0',
) -> bytes:
    """The ESXi 5.0 OEM-style driver tgz: module, .map and .ids (vmklinux flavour).

    omit: 'module' | 'map' | 'ids' drops that file; extra: more path -> bytes; legacy4x: an ESX 4.x package
    (``etc/vmware/simple.map`` and a module without ``.vmkmodinfo``).
    """
    files = {
        'usr/lib/vmware/vmkmod/%s' % module: vmkmod_elf(module, license=None if legacy4x else 'GPL', vmkapi=vmkapi, vmklinux=True),
        '%s/%s.map' % (map_dir.strip('/'), module): map_text(module, pci_ids, 'linux'),
        'usr/share/hwdata/driver.pciids.d/%s.ids' % module: ids_text(module, pci_ids),
    }
    if legacy4x:
        del files['%s/%s.map' % (map_dir.strip('/'), module)]
        files['etc/vmware/simple.map'] = ''.join('%s:%s 0000:0000 network %s\n' % (v, d, module) for v, d in pci_ids).encode('ascii')
    if omit:
        suffix = {'module': '/vmkmod/%s' % module, 'map': '.map', 'ids': '.ids'}[omit]
        files = {p: d for p, d in files.items() if not p.endswith(suffix)}
    files.update(extra or {})
    return tar_gz(files)
