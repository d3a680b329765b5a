# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a diff shows of an image: both boot.cfg, the profile identity, its VIB list, the kickstart's digest.

iso_customize compares the views of the image it would write with those of the current dest (else of the
source) and shows only the parts that differ; a kickstart is shown as its sha256, never its contents
(it usually holds a root password).
"""

from __future__ import annotations

import hashlib

from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.profile_identity import describe

KICKSTART_PATH = '/KS.CFG'
MAX_KICKSTART_SIZE = 1024 * 1024


def kickstart_digest(reader: IsoReader) -> str | None:
    """sha256 of the ISO's embedded kickstart, None without one (diffs show the digest, never the contents)."""
    entry = reader.find(KICKSTART_PATH)
    if entry is None or entry.size > MAX_KICKSTART_SIZE:
        return None
    return hashlib.sha256(reader.read(entry)).hexdigest()


def compact_bootcfg(text: str) -> str:
    """boot.cfg with one module per line, so that a diff shows the modules added and removed, not a 3 KB line."""
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep and key.strip() == 'modules':
            out.append('modules=')
            out.extend('  ' + module.strip() for module in value.split(' --- ') if module.strip())
        else:
            out.append(line)
    return '\n'.join(out) + '\n'


def views(cfgs: list[tuple[str, BootCfg]], db: ImageDatabase | None, ks_digest: str | None) -> dict:
    """What a diff shows of an image, by header: both boot.cfg, the profile identity, its VIBs, the kickstart digest."""
    shown = {path: compact_bootcfg(cfg.serialize().decode('utf-8', 'replace')) for path, cfg in cfgs}
    if db is not None and db.profile is not None:
        identity = describe(db)
        identity['acceptance_level'] = db.profile.acceptance_level
        shown['image profile'] = ''.join('%s: %s\n' % (key, ' '.join((value or '').split())) for key, value in sorted(identity.items()))
        shown['image profile VIBs'] = ''.join(vib_id + '\n' for vib_id in db.profile.vibs)
    shown[KICKSTART_PATH] = 'sha256: %s\n' % ks_digest if ks_digest else ''
    return shown


def image_views(image: EsxiImage) -> dict:
    """:func:`views` of an opened image as it is."""
    return views(image.bootcfgs, image.imgdb, kickstart_digest(image.reader))


def diff_views(before: dict, after: dict, labels: tuple[str, str] | None = None) -> list[dict]:
    """Ansible diff entries for the views that differ (an unchanged part is not shown).

    ``labels`` name the two sides in the headers (two images compared); without them a header is the part's name.
    """
    return [
        {
            'before_header': '%s: %s' % (labels[0], key) if labels else key,
            'after_header': '%s: %s' % (labels[1], key) if labels else key,
            'before': before.get(key, ''),
            'after': after.get(key, ''),
        }
        for key in list(after) + [k for k in before if k not in after]
        if before.get(key, '') != after.get(key, '')
    ]
