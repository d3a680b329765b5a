# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions raised by the format readers and writers.

Modules catch :class:`EsxiCustomizerError` and turn it into ``fail_json(msg=str(err))``, so every
message must name the file and say what is wrong in words a user can act on.
"""

from __future__ import annotations


class EsxiCustomizerError(Exception):
    """Base class: a problem with user input or the environment, never a bug."""

    def __init__(self, message, path=None):
        self.path = path
        self.detail = message  # without the path: for a caller that words the error again
        if path is not None:
            message = '%s: %s' % (path, message)
        super().__init__(message)


class FormatError(EsxiCustomizerError):
    """A file is not in the format it should be in (truncated, corrupt, wrong kind)."""


class UnsafeArchiveError(FormatError):
    """An archive member would escape its directory, is a link, or expands absurdly."""


class ChecksumError(FormatError):
    """Bytes do not match the checksum their metadata declares."""


class CompatibilityError(EsxiCustomizerError):
    """A package cannot work on the target ESXi release (wrong driver generation, vmkapi...)."""


class UnsupportedError(EsxiCustomizerError):
    """A valid input uses a feature this collection does not handle (yet)."""


class ConflictError(EsxiCustomizerError):
    """A requested change contradicts package relationships (depends, conflicts, replaces)."""


class MissingLibraryError(EsxiCustomizerError):
    """A required third-party Python library is not installed on the host running the module."""


class DiskImageError(EsxiCustomizerError):
    """A disk image cannot be built as requested (size, tools, boot loader compatibility)."""


class PxeError(EsxiCustomizerError):
    """A PXE publication that cannot be made as asked (bad MAC, name, URL, missing boot loader...)."""


def printable(text: str, limit: int) -> str:
    """Text from outside (a server's answer, a symlink's target) fit for a message: control characters escaped, at
    most ``limit`` characters."""
    text = ''.join(ch if ch.isprintable() else '\\x%02x' % ord(ch) if ord(ch) < 256 else '?' for ch in text.strip())
    return text if len(text) <= limit else text[:limit] + '...'
