# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line for the fixture generator, meant to be run by path (integration targets, benchmarks):

    python tests/fixturegen/cli.py iso DEST [--style 70] [--joliet-rock-ridge] [--breakage NAME] [--extra-vib PATH]
    python tests/fixturegen/cli.py vib DEST [--name net-demo] [--version 1.0.0-1] [--acceptance-level community] ...
    python tests/fixturegen/cli.py bundle DEST --vib PATH [--vib PATH] [--layout vmware|flat] [--component]
    python tests/fixturegen/cli.py legacy-tgz DEST [--module r8169] [--omit ids] [--legacy4x] [--vmkapi 2_2_0_0]
    python tests/fixturegen/cli.py boot IMAGE [--firmware bios|uefi] [--medium cdrom|disk] [--marker TEXT]
    python tests/fixturegen/cli.py shared-fixtures      (where the real third-party fixtures are; exit 1 if nowhere)

Every sub-command prints one JSON document on stdout; ``boot`` exits 1 when a marker was not seen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

if __package__ in (None, ''):
    # run by path: make the fixturegen package importable from its parent directory
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fixturegen import bootcheck, iso, packages, shared  # pylint: disable=import-error
else:
    from . import bootcheck, iso, packages, shared


def _write(dest: str, data: bytes) -> dict:
    dest = os.path.abspath(dest)
    tmp = dest + '.tmp'
    with open(tmp, 'wb') as stream:
        stream.write(data)
    os.replace(tmp, dest)
    return {'path': dest, 'size': len(data), 'sha256': hashlib.sha256(data).hexdigest()}


def _pci_ids(values):
    return [tuple(v.lower().split(':', 1)) for v in values] if values else None


def cmd_iso(args) -> dict:
    extra = []
    for path in args.extra_vib or ():
        with open(path, 'rb') as stream:
            extra.append(stream.read())
    kw = {}
    if args.kernelopt is not None:
        kw['kernelopt'] = args.kernelopt
    if args.big_payload_bytes:
        kw['big_payload_bytes'] = args.big_payload_bytes
    if args.patch:
        kw['patch'] = True
    facts = iso.build_esxi_iso(args.dest, args.style, args.joliet_rock_ridge, extra, args.breakage, **kw)
    facts['sha256'] = _sha256_file(facts['path'])
    return facts


def cmd_vib(args) -> dict:
    kw = {
        'payload_type': args.payload_type,
        'style': args.driver_style,
        'gnu_style': args.gnu_style,
        'checksum_order': args.checksum_order,
        'vmkapi': args.vmkapi,
    }
    if args.pci_id:
        kw['pci_ids'] = _pci_ids(args.pci_id)
    if args.module:
        kw['module'] = args.module
    signature = b'-----BEGIN PKCS7-----\nZml4dHVyZQ==\n-----END PKCS7-----\n' if args.signed else b''
    data = packages.build_vib(args.name, args.version, vendor=args.vendor, acceptance_level=args.acceptance_level, signature=signature, **kw)
    out = _write(args.dest, data)
    facts = packages.vib_facts(data)
    out.update(
        {
            'id': facts['id'],
            'name': facts['name'],
            'version': facts['version'],
            'vendor': facts['vendor'],
            'acceptance_level': facts['acceptance_level'],
            'payloads': [{'name': n, 'type': t, 'size': len(d)} for n, t, d in facts['payloads']],
        }
    )
    return out


def cmd_bundle(args) -> dict:
    vibs = []
    for path in args.vib:
        with open(path, 'rb') as stream:
            vibs.append(stream.read())
    data = packages.build_offline_bundle(vibs, layout=args.layout, component=bool(args.component))
    out = _write(args.dest, data)
    out['vib_ids'] = [packages.vib_facts(v)['id'] for v in vibs]
    return out


def cmd_legacy_tgz(args) -> dict:
    kw = {'module': args.module, 'map_dir': args.map_dir, 'omit': args.omit, 'legacy4x': args.legacy4x, 'vmkapi': args.vmkapi}
    if args.pci_id:
        kw['pci_ids'] = _pci_ids(args.pci_id)
    return _write(args.dest, packages.build_legacy_tgz(**kw))


def cmd_boot(args) -> dict:
    result = bootcheck.boot(args.image, args.firmware, args.medium, args.marker, args.timeout, args.accel)
    out = result.as_dict()
    out['bootcfg'] = bootcheck.bootcfg_from_log(result.log)
    return out


def cmd_shared_fixtures(args) -> dict:
    path = shared.shared_fixtures()
    return {'path': str(path) if path else None, 'tried': shared.candidates()}


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description='ESXi-shaped test fixtures (esxi.customizer tests/fixturegen)')
    sub = top.add_subparsers(dest='command', required=True)

    p_iso = sub.add_parser('iso', help='build an ESXi installer-shaped ISO')
    p_iso.add_argument('dest')
    p_iso.add_argument('--style', choices=sorted(iso.STYLES), default='70')
    p_iso.add_argument('--joliet-rock-ridge', action='store_true')
    p_iso.add_argument('--breakage', action='append', choices=iso.BREAKAGES)
    p_iso.add_argument('--extra-vib', action='append', help='a .vib to integrate into the image')
    p_iso.add_argument('--kernelopt')
    p_iso.add_argument('--big-payload-bytes', type=int, default=0)
    p_iso.add_argument('--patch', action='store_true', help="the style's fixture patch: newer VIBs, loaders printing the PATCH markers")
    p_iso.set_defaults(func=cmd_iso)

    p_vib = sub.add_parser('vib', help='build a driver VIB')
    p_vib.add_argument('dest')
    p_vib.add_argument('--name', default='net-demo')
    p_vib.add_argument('--version', default='1.0.0-1')
    p_vib.add_argument('--vendor', default='ESXCUST')
    p_vib.add_argument('--acceptance-level', default='community', choices=('certified', 'accepted', 'partner', 'community'))
    p_vib.add_argument('--payload-type', default='vgz', choices=('vgz', 'tgz', 'vzstd'))
    p_vib.add_argument('--driver-style', default='native', choices=('native', 'linux'))
    p_vib.add_argument('--module')
    p_vib.add_argument('--pci-id', action='append', help='VVVV:DDDD (repeatable)')
    p_vib.add_argument('--vmkapi', default='2_5_0_0')
    p_vib.add_argument('--gnu-style', action='store_true', help='ESXi-CPT style ar headers')
    p_vib.add_argument('--checksum-order', default='vmware', choices=('vmware', 'legacy', 'plain-first'))
    p_vib.add_argument('--signed', action='store_true', help='non-empty (fake) sig.pkcs7')
    p_vib.set_defaults(func=cmd_vib)

    p_bundle = sub.add_parser('bundle', help='build an offline bundle / component zip from VIBs')
    p_bundle.add_argument('dest')
    p_bundle.add_argument('--vib', action='append', required=True)
    p_bundle.add_argument('--layout', default='vmware', choices=('vmware', 'flat'))
    p_bundle.add_argument('--component', action='store_true')
    p_bundle.set_defaults(func=cmd_bundle)

    p_tgz = sub.add_parser('legacy-tgz', help='build an ESXi 5.0 style 3-file driver tgz')
    p_tgz.add_argument('dest')
    p_tgz.add_argument('--module', default='r8169')
    p_tgz.add_argument('--pci-id', action='append')
    p_tgz.add_argument('--map-dir', default='etc/vmware')
    p_tgz.add_argument('--omit', choices=('module', 'map', 'ids'))
    p_tgz.add_argument('--legacy4x', action='store_true')
    p_tgz.add_argument('--vmkapi', default='2_0_0_0', help='vmkapi level of the module (2_0_0_0 = ESXi 5.0; 6.7 provides 2_2 to 2_5)')
    p_tgz.set_defaults(func=cmd_legacy_tgz)

    p_boot = sub.add_parser('boot', help='boot an image in QEMU and wait for the fixture markers')
    p_boot.add_argument('image')
    p_boot.add_argument('--firmware', choices=('bios', 'uefi'), default='bios')
    p_boot.add_argument('--medium', choices=('cdrom', 'disk'), default='cdrom')
    p_boot.add_argument('--marker', action='append')
    p_boot.add_argument('--timeout', type=float, default=120)
    p_boot.add_argument('--accel', choices=('auto', 'kvm', 'tcg'), default='auto')
    p_boot.set_defaults(func=cmd_boot)

    p_shared = sub.add_parser('shared-fixtures', help='print where the shared third-party fixtures are')
    p_shared.set_defaults(func=cmd_shared_fixtures)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    out = args.func(args)
    print(json.dumps(out, indent=2, sort_keys=True))
    if args.command == 'boot':
        return 0 if out['ok'] else 1
    if args.command == 'shared-fixtures':
        return 0 if out['path'] else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
