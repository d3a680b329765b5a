# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the `make run` demo inputs: ``python tests/fixturegen/demo.py OUTDIR``.

OUTDIR gets esxi-demo.iso (ESXi 7.0-style installer), demo-driver.vib (community driver VIB),
demo-bundle.zip (the same VIB as a 7.x component offline bundle), demo-legacy.tgz (5.0-style
3-file driver tgz) and SHA256SUMS (sha256sum format, used as the get_url checksum file).
Paths and sha256 are printed one per line.
"""

from __future__ import annotations

import hashlib
import os
import sys

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fixturegen import iso, packages  # pylint: disable=import-error
else:
    from . import iso, packages

DEMO_ISO = 'esxi-demo.iso'
DEMO_VIB = 'demo-driver.vib'
DEMO_BUNDLE = 'demo-bundle.zip'
DEMO_LEGACY = 'demo-legacy.tgz'


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _write(path: str, data: bytes) -> None:
    with open(path + '.tmp', 'wb') as stream:
        stream.write(data)
    os.replace(path + '.tmp', path)


def write_demo(outdir: str) -> dict:
    """Write the demo inputs into ``outdir``; return {file name: sha256}."""
    os.makedirs(outdir, exist_ok=True)
    iso.build_esxi_iso(os.path.join(outdir, DEMO_ISO), '70')
    vib = packages.build_vib(
        'net-r8168',
        '8.045a-1demo',
        vendor='ESXCUST',
        acceptance_level='community',
        pci_ids=[('10ec', '8168'), ('10ec', '8161')],
        vmkapi='2_6_0_0',
        summary='Realtek RTL8111/8168 driver (esxi.customizer demo)',
    )
    _write(os.path.join(outdir, DEMO_VIB), vib)
    _write(os.path.join(outdir, DEMO_BUNDLE), packages.build_offline_bundle([vib], component=True))
    _write(os.path.join(outdir, DEMO_LEGACY), packages.build_legacy_tgz())
    sums = {name: _sha256(os.path.join(outdir, name)) for name in (DEMO_ISO, DEMO_VIB, DEMO_BUNDLE, DEMO_LEGACY)}
    _write(os.path.join(outdir, 'SHA256SUMS'), ''.join('%s  %s\n' % (h, n) for n, h in sums.items()).encode('ascii'))
    return sums


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print('usage: demo.py OUTDIR', file=sys.stderr)
        return 2
    outdir = os.path.abspath(argv[0])
    for name, digest in write_demo(outdir).items():
        print('%s  sha256:%s' % (os.path.join(outdir, name), digest))
    return 0


if __name__ == '__main__':
    sys.exit(main())
