# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who an edited image profile says it is: its name, creator, ID, description and read-only flag.

A host reports its profile (``esxcli software profile get``, vLCM/VUM compliance) as it was on the installer.
An image whose VIBs we changed must not go on claiming to be the vendor's stock image: unless the user names
it, it becomes ``<original>-custom``, created by :data:`DEFAULT_VENDOR`, not read-only, with a profile ID
derived from its content (so equal inputs still give equal bytes) and a description that records the changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase

DEFAULT_VENDOR = 'esxi.customizer'
CUSTOM_SUFFIX = '-custom'
MAX_NAME = 255
MAX_DESCRIPTION = 64 * 1024


@dataclass(frozen=True)
class ProfileIdentity:
    """The profile options of a request (None: derived when the VIBs change, else kept)."""

    name: str | None = None
    vendor: str | None = None
    description: str | None = None

    def __post_init__(self):
        for option, value, limit in (
            ('profile_name', self.name, MAX_NAME),
            ('profile_vendor', self.vendor, MAX_NAME),
            ('profile_description', self.description, MAX_DESCRIPTION),
        ):
            if value is None:
                continue
            if not str(value).strip():
                raise EsxiCustomizerError('%s must not be empty (leave it out to keep or derive it)' % option)
            if len(str(value)) > limit or any(ord(ch) < 32 and ch not in '\n\t' for ch in str(value)):
                raise EsxiCustomizerError('%s must be at most %d printable characters' % (option, limit))
            if option != 'profile_description' and '\n' in str(value):
                raise EsxiCustomizerError('%s must be a single line' % option)

    @property
    def given(self) -> bool:
        return any(value is not None for value in (self.name, self.vendor, self.description))

    def options(self) -> dict:
        return {'name': self.name, 'vendor': self.vendor, 'description': self.description}

    def apply(self, db: ImageDatabase, *, changes: list[str], vibs_changed: bool) -> dict | None:
        """Set the identity of every profile of ``db``; returns ``{'before': ..., 'after': ...}`` or None (untouched).

        ``changes`` are one-line descriptions of what the request changed (for the derived description).
        """
        if not (vibs_changed or self.given):
            return None
        before = describe(db)
        for profile in db.profiles:
            original = profile.get_field('name') or 'ESXi'
            name = self.name or (original if not vibs_changed or original.endswith(CUSTOM_SUFFIX) else original + CUSTOM_SUFFIX)
            creator = self.vendor or (DEFAULT_VENDOR if vibs_changed else profile.get_field('creator') or DEFAULT_VENDOR)
            description = self.description
            if description is None:
                description = profile.get_field('description') or ''
                if vibs_changed:
                    # newest step first; an earlier customization's note (and the vendor's text) follows
                    note = 'Customized by esxi.customizer from %s: %s.' % (original, '; '.join(changes) or 'image database edited')
                    description = note + ('\n' + description if description else '')
            profile.set_field('name', name)
            profile.set_field('creator', creator)
            profile.set_field('description', description)
            profile.set_field('readonly', 'false')
            # A new ID for new content, derived from it: the same request gives the same bytes.
            content = '\n'.join([name, creator, profile.get_field('acceptance_level') or ''] + sorted(profile.vibs))
            profile.set_field('profile_id', hashlib.sha256(content.encode('utf-8')).hexdigest()[:32])
        return {'before': before, 'after': describe(db)}


def describe(db: ImageDatabase) -> dict:
    """The identity of the database's (first) profile, as the modules report it."""
    profile = db.profile
    if profile is None:
        return {}
    return {field: profile.get_field(field) for field in ('name', 'creator', 'profile_id', 'description', 'readonly')}
