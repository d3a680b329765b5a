# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bootable USB/disk image of an ESXi installer ISO (VMware's documented USB layout, built without root).

Layout (esxi-formats.md 1.1, 2.2, 2.3; VMware "Format a USB flash drive to boot the ESXi installation"):

* MBR partition table with one bootable FAT32 (LBA, type 0x0c) partition starting at 1 MiB, running to the
  end of the image; BIOS boot code is syslinux's ``mbr.bin``.
* The partition holds every file of the ISO under the names a mounted ISO shows (Rock Ridge / Joliet name,
  else the ISO 9660 name): FAT lookups are case-insensitive, like isolinux's and mboot's ISO lookups.
* BIOS: ``syslinux --install --offset`` puts ``ldlinux.sys`` in the partition's boot sector chain;
  ``ISOLINUX.CFG`` becomes ``SYSLINUX.CFG`` with ``-p 1`` added to the ``APPEND -c boot.cfg`` lines
  (mboot then loads the modules from partition 1).
* UEFI: the firmware starts ``EFI/BOOT/BOOTX64.EFI`` of the ISO tree (ESXi's mboot.efi), which reads
  ``EFI/BOOT/BOOT.CFG`` beside itself; the module paths there are absolute, so they resolve on the partition.
* A kickstart becomes ``/KS.CFG`` with ``ks=usb:/KS.CFG`` in both boot.cfg (installer syntax, section 2.4).

BIOS compatibility (:mod:`.syslinux`): a syslinux installer of another generation than the ISO's ISOLINUX is an
error (an image that shows "Failed to load COM32 file" is worse than none) unless BIOS boot is turned off.

Contents are streamed from the ISO into ``mcopy`` (mtools) on its standard input, one file at a time, so
nothing is extracted to disk or held in memory. Every timestamp comes from ``SOURCE_DATE_EPOCH`` (the ISO's
volume date), the volume serial and disk signature from the request digest: the same inputs and tools give
a byte-identical image.

Idempotence: the request (source identity, options, tool versions) is stored in the image itself (:mod:`.manifest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat

from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.fat import (
    MIB,
    MIN_SIZE,
    check_fat_path,
    cluster_sectors,
    default_size,
    needed_bytes,
    parent_dirs,
)
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_OFFSET,
    encode_manifest,
    read_image_manifest,
    up_to_date,
)
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.mbr import PARTITION_START, PARTITION_TYPE, SECTOR, mbr_sector
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.syslinux import (
    isolinux_version,
    syslinux_cfg,
    syslinux_compatible,
    syslinux_install_argv,
    version_text,
)
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.tools import CommandRunner, Tools, check_result, run_env
from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._formats.kickstart import PLAINTEXT_ROOTPW_WARNING, plaintext_root_password
from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError, FormatError, UnsupportedError
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import BIOS_BOOTCFG, UEFI_BOOTCFG, EsxiImage, bootcfg_facts
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import file_sha256, remember_sha256, sha256_fd
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile, apply_mode, parse_mode
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_writer import volume_epoch
from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import source_identity

CHUNK = 1024 * 1024
DEFAULT_LABEL = 'ESXI'
DEFAULT_EPOCH = 1262304000  # 2010-01-01, for an ISO without volume dates
KICKSTART_NAME = 'KS.CFG'
KICKSTART_OPTION = 'ks=usb:/KS.CFG'
MAX_KICKSTART = 4 * MIB


def _fat_name_of(entry) -> str:
    """The name a mounted ISO shows: Rock Ridge, else Joliet, else ISO 9660 without ``;1``."""
    return entry.rr_path or entry.joliet_path or entry.path


class DiskImagePlan:
    """Files of the image (FAT path -> IsoEntry or bytes), its geometry and the request digest."""

    def __init__(self):
        self.files = {}  # FAT path -> IsoEntry | bytes
        self.dirs = []  # FAT directory paths, parents first
        self.request = {}
        self.digest = None
        self.size = 0
        self.boot = {}
        self.warnings = []
        self.bios_boot = True
        self.epoch = DEFAULT_EPOCH
        self.syslinux_version = None

    @property
    def file_sizes(self):
        return [item.size if not isinstance(item, bytes) else len(item) for item in self.files.values()]


def usb_kickstart(reader, cfg: BootCfg) -> str | None:
    """``ks=usb:/PATH`` for a boot.cfg whose kickstart is ``cdrom:/PATH`` on the ISO, else None.

    An ISO customized with a kickstart says ``ks=cdrom:/KS.CFG``; booted from the USB image there is no CD-ROM,
    but the same file is on the FAT partition, which the installer reads with ``ks=usb:/PATH``.
    """
    value = cfg.kickstart or ''
    if not value.lower().startswith('cdrom:'):
        return None
    path = value[len('cdrom:') :]
    return 'ks=usb:' + path if path.startswith('/') and reader.find(path) is not None else None


def _edited_bootcfgs(image, kickstart: bool, kernelopt_add):
    """Both boot.cfg with the kickstart option and ``kernelopt_add`` merged into kernelopt; {iso_path: BootCfg}."""
    edited = {}
    for cfg_path, cfg in image.bootcfgs:
        copy = cfg.copy()
        ks_token = KICKSTART_OPTION if kickstart else usb_kickstart(image.reader, cfg)
        try:
            copy.merge_kernelopt(([ks_token] if ks_token else []) + [str(token) for token in kernelopt_add or ()])
        except ValueError as exc:
            raise DiskImageError('invalid kernel option: %s' % exc) from None
        edited[cfg_path] = copy
    return edited


def _check_syslinux_generation(reader, src: str, syslinux_version) -> None:
    iso_version = None
    isolinux_bin = reader.find('/ISOLINUX.BIN')
    if isolinux_bin is not None:
        iso_version = isolinux_version(reader.read(isolinux_bin, max_size=4 * MIB))
    if not syslinux_compatible(iso_version, syslinux_version):
        raise UnsupportedError(
            'the ISO boot menu modules (mboot.c32, menu.c32) are from ISOLINUX %s, but the syslinux installer is %s; '
            'BIOS boot would stop at "Failed to load COM32 file". Give a syslinux installer of the same release '
            '(syslinux option; VMware media need syslinux 3.86) or set bios_boot=false for a UEFI-only image'
            % (version_text(iso_version), version_text(syslinux_version)),
            path=src,
        )


def plan_image(
    image, src, kickstart=None, *, kernelopt_add=(), bios_boot=True, size=None, label=DEFAULT_LABEL, syslinux_version=None, mbr_sha256=None
) -> DiskImagePlan:
    """Decide every file of the image and its size from an opened :class:`EsxiImage`; reads only small files."""
    plan = DiskImagePlan()
    plan.bios_boot = bios_boot
    reader = image.reader
    cfgs = _edited_bootcfgs(image, bool(kickstart), kernelopt_add)
    replaced = {BIOS_BOOTCFG.lower(): cfgs[BIOS_BOOTCFG].serialize()}
    if UEFI_BOOTCFG in cfgs:
        replaced[UEFI_BOOTCFG.lower()] = cfgs[UEFI_BOOTCFG].serialize()
    isolinux_cfg = reader.find('/ISOLINUX.CFG')
    if bios_boot:
        if isolinux_cfg is None:
            raise FormatError('has no ISOLINUX.CFG to make the BIOS boot menu (syslinux.cfg) from; set bios_boot=false for a UEFI-only image', path=src)
        _check_syslinux_generation(reader, src, syslinux_version)
        plan.syslinux_version = version_text(syslinux_version)
    if reader.find('/EFI/BOOT/BOOTX64.EFI') is None:
        plan.warnings.append('%s has no EFI/BOOT/BOOTX64.EFI: the image will not boot in UEFI mode' % src)
    if bios_boot:
        generated_cfg = syslinux_cfg(reader.read(isolinux_cfg, max_size=MIB))
        plan.boot['syslinux_cfg'] = generated_cfg.decode('utf-8', 'replace')
        if re.search(r'(?im)^\s*append\s.*\sks=cdrom:', plan.boot['syslinux_cfg']):
            plan.warnings.append(
                '%s: ISOLINUX.CFG passes ks=cdrom:... on an APPEND line; booted from USB with BIOS, that '
                'kickstart is not found (mboot adds APPEND arguments to kernelopt)' % src
            )
        plan.files['/SYSLINUX.CFG' if _fat_name_of(isolinux_cfg).isupper() else '/syslinux.cfg'] = generated_cfg
    seen = {}
    for entry in reader.files():
        fat_path = check_fat_path(_fat_name_of(entry))
        key = fat_path.lower()
        if key in seen:
            raise DiskImageError('the ISO files %s and %s differ only in case and cannot both be stored on FAT' % (seen[key], fat_path), path=src)
        seen[key] = fat_path
        if bios_boot and key in ('/ldlinux.sys', '/ldlinux.c32'):
            continue  # the syslinux installer writes its own, matching pair
        if bios_boot and key in ('/isolinux.cfg', '/syslinux.cfg'):
            if key == '/syslinux.cfg':
                plan.warnings.append('%s has its own SYSLINUX.CFG; it is replaced by one made from ISOLINUX.CFG' % src)
            continue  # renamed to syslinux.cfg (VMware's USB procedure)
        plan.files[fat_path] = replaced.get(key, entry)
    if kickstart:
        for path in [path for path in plan.files if path.lower() == '/' + KICKSTART_NAME.lower()]:
            del plan.files[path]
        plan.files['/' + KICKSTART_NAME] = _read_kickstart(kickstart)
        if plaintext_root_password(plan.files['/' + KICKSTART_NAME]):
            plan.warnings.append('%s: %s' % (kickstart, PLAINTEXT_ROOTPW_WARNING))
    plan.dirs = parent_dirs(plan.files)
    plan.boot.update({'bios': bootcfg_facts(BIOS_BOOTCFG, cfgs[BIOS_BOOTCFG]), 'uefi': bootcfg_facts(UEFI_BOOTCFG, cfgs.get(UEFI_BOOTCFG))})
    plan.size = _choose_size(plan, size)
    plan.epoch = volume_epoch(reader.iso) or DEFAULT_EPOCH
    plan.request = {
        'source': dict(zip(('size', 'identity_sha256'), source_identity(src, reader.files()))),
        'kickstart_sha256': hashlib.sha256(plan.files['/' + KICKSTART_NAME]).hexdigest() if kickstart else None,
        'kernelopt_add': [str(token) for token in kernelopt_add or ()],
        'bios_boot': bios_boot,
        'syslinux': plan.syslinux_version,
        'mbr_sha256': mbr_sha256 if bios_boot else None,
        'size': plan.size,
        'label': label,
        'format': MANIFEST_FORMAT,
    }
    plan.digest = hashlib.sha256(json.dumps(plan.request, sort_keys=True).encode('utf-8')).hexdigest()
    return plan


def _read_kickstart(path: str) -> bytes:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DiskImageError('is not a regular file', path=path)
        if st.st_size > MAX_KICKSTART:
            raise DiskImageError('is %d bytes; a kickstart file larger than %d bytes is surely not one' % (st.st_size, MAX_KICKSTART), path=path)
        with open(path, 'rb') as stream:
            return stream.read()
    except FileNotFoundError:
        raise DiskImageError('does not exist', path=path) from None
    except OSError as exc:
        raise DiskImageError('cannot be read (%s)' % exc.strerror, path=path) from None


def _choose_size(plan: DiskImagePlan, size) -> int:
    if size is None:
        return default_size(plan.file_sizes, len(plan.dirs))
    size = -(-int(size) // MIB) * MIB
    if size < MIN_SIZE:
        raise DiskImageError('size %d bytes is below the FAT32 minimum of %d MiB' % (size, MIN_SIZE // MIB))
    partition = size // SECTOR - PARTITION_START
    cluster = cluster_sectors(partition) * SECTOR
    need = needed_bytes(plan.file_sizes, len(plan.dirs), cluster)
    if need > partition * SECTOR:
        raise DiskImageError(
            'size %d bytes is too small: the files need about %d MiB of a FAT32 partition (the default size '
            'would be %d MiB)' % (size, -(-(need + PARTITION_START * SECTOR) // MIB), default_size(plan.file_sizes, len(plan.dirs)) // MIB)
        )
    return size


def _entry_chunks(reader, entry, src_fd: int):
    """An ISO file's bytes in chunks: straight from its extent (boot catalog and El Torito images included,
    which pycdlib will not open as files), through pycdlib for a multi-extent file."""
    if entry.extents != 1:
        yield from reader.stream(entry, CHUNK)
        return
    pos, end = entry.extent * reader.logical_block_size, entry.extent * reader.logical_block_size + entry.size
    while pos < end:
        chunk = os.pread(src_fd, min(CHUNK, end - pos), pos)
        if not chunk:
            raise FormatError('is truncated: %s ends %d bytes early' % (entry.path, end - pos), path=reader.path)
        pos += len(chunk)
        yield chunk


def _write_image(tmp: str, plan: DiskImagePlan, reader, *, tools: Tools, dest: str, label: str) -> None:
    runner = tools.runner
    total = plan.size // SECTOR
    partition = total - PARTITION_START
    signature = int(plan.digest[:8], 16)
    with open(tmp, 'r+b') as stream:
        stream.truncate(plan.size)  # sparse: only written clusters take space
        stream.seek(0)
        stream.write(mbr_sector(tools.mbr_code or b'', signature, PARTITION_START, count=partition))
        stream.seek(MANIFEST_OFFSET)
        stream.write(encode_manifest({'format': MANIFEST_FORMAT, 'digest': plan.digest, 'size': plan.size, 'request': plan.request}))
    env = run_env(plan.epoch)
    # The tools run in the image's directory on its bare name: a path holding '@@' (mtools reads file@@offset) stays safe.
    cwd, name = os.path.split(tmp)
    image = '%s@@%d' % (name, PARTITION_START * SECTOR)
    check_result(
        runner.run(
            [
                tools.mkfs,
                '-F',
                '32',
                '-s',
                str(cluster_sectors(partition)),
                '--offset',
                str(PARTITION_START),
                '-h',
                str(PARTITION_START),
                '--invariant',
                '-i',
                plan.digest[8:16],
                '-n',
                label,
                name,
                str(partition * SECTOR // 1024),
            ],
            env=env,
            cwd=cwd,
        ),
        'mkfs.vfat',
        dest,
    )
    for directory in plan.dirs:
        check_result(runner.run([tools.mmd, '-i', image, '::' + directory], env=env, cwd=cwd), 'mmd %s' % directory, dest)
    src_fd = reader.fileobj.fileno()
    for fat_path in sorted(plan.files, key=lambda p: (p.count('/'), p.lower())):
        item = plan.files[fat_path]
        chunks = [item] if isinstance(item, bytes) else _entry_chunks(reader, item, src_fd)
        check_result(runner.run([tools.mcopy, '-i', image, '-o', '-', '::' + fat_path], stdin=chunks, env=env, cwd=cwd), 'copying %s' % fat_path, dest)
    if plan.bios_boot:
        check_result(
            runner.run(syslinux_install_argv(tools.syslinux, tools.syslinux_version, PARTITION_START * SECTOR, image=name), env=env, cwd=cwd),
            'installing syslinux',
            dest,
        )


def _check_dest(src: str, dest: str) -> None:
    if os.path.abspath(src) == os.path.abspath(dest):
        raise DiskImageError('dest must differ from src', path=dest)
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        raise DiskImageError('the directory for the image does not exist', path=parent)
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise DiskImageError('exists and is not a regular file (this module writes image files, not devices or links)', path=dest)


def _free_space_check(dest: str, plan: DiskImagePlan) -> None:
    need = sum(plan.file_sizes) + 4 * MIB
    try:
        vfs = os.statvfs(os.path.dirname(dest))
    except OSError:
        return
    free = vfs.f_bavail * vfs.f_frsize
    if free < need:
        raise DiskImageError('has %d MiB free, the image needs about %d MiB' % (free // MIB, -(-need // MIB)), path=os.path.dirname(dest))


def build_disk_image(
    src,
    dest,
    size=None,
    *,
    kickstart=None,
    kernelopt_add=(),
    bios_boot=True,
    syslinux=None,
    mbr=None,
    label=DEFAULT_LABEL,
    force=False,
    check_mode=False,
    checksum=True,
    runner=None,
    mode=None,
) -> dict:
    """Build (or confirm) the disk image ``dest`` from the ESXi ISO ``src``; returns the module result."""
    src = os.path.abspath(src)
    dest = os.path.abspath(dest)
    mode = parse_mode(mode)
    label = (label or DEFAULT_LABEL).upper()
    if not re.match(r'^[A-Z0-9_\- ]{1,11}$', label):
        raise DiskImageError('label %r must be 1-11 characters A-Z 0-9 _ - or space' % label)
    _check_dest(src, dest)
    runner = runner or CommandRunner()
    tools = Tools(runner, bios_boot, syslinux, mbr=mbr)
    with EsxiImage.open(src) as image:
        plan = plan_image(
            image,
            src,
            kickstart=kickstart,
            kernelopt_add=kernelopt_add,
            bios_boot=bios_boot,
            size=size,
            label=label,
            syslinux_version=tools.syslinux_version,
            mbr_sha256=tools.mbr_sha256,
        )
        warnings = list(plan.warnings) + ['%s: %s' % (src, problem) for problem in image.problems()]
        existing = read_image_manifest(dest)
        dest_size = os.path.getsize(dest) if existing is not None else None
        changed = force or not up_to_date(existing, plan.digest, dest_size)
        result = {
            'changed': changed,
            'dest': dest,
            'size': plan.size,
            'sha256': None,
            'boot': plan.boot,
            'bios_boot': bios_boot,
            'syslinux_version': plan.syslinux_version,
            'esxi_version': image.version,
            'partition': {
                'start': PARTITION_START * SECTOR,
                'size': plan.size - PARTITION_START * SECTOR,
                'type': '0x%02x' % PARTITION_TYPE,
                'filesystem': 'FAT32',
                'label': label,
            },
            'files': len(plan.files),
            'manifest_digest': plan.digest,
            'warnings': warnings,
            'diff': {'before': (existing or {}).get('request'), 'after': plan.request} if changed else None,
        }
        if not changed:
            result['changed'] = apply_mode(dest, mode, check_mode=check_mode)
            result['sha256'] = file_sha256(dest) if checksum else None
            return result
        if check_mode:
            return result
        _free_space_check(dest, plan)
        try:
            out = AtomicFile(dest, mode=mode)  # None: the umask decides (the image may hold a kickstart with a password)
        except OSError as exc:
            raise DiskImageError('cannot create a temporary file there (%s)' % exc.strerror, path=os.path.dirname(dest)) from None
        with out:
            try:
                _write_image(out.tmp_path, plan, image.reader, tools=tools, dest=dest, label=label)
                digest = sha256_fd(out.fd, label=out.tmp_path) if checksum else None
                out.commit()
            except OSError as exc:
                raise DiskImageError(
                    'cannot write the new image (%s); the earlier image was left unchanged' % (exc.strerror or exc), path=exc.filename or dest
                ) from None
        if digest is not None:
            remember_sha256(dest, digest)
        result['sha256'] = digest
        return result
