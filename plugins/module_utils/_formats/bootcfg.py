# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ESXi ``boot.cfg``: a lossless parser/serializer following the esx-boot loader grammar.

The loader (esx-boot ``bootlib/parse.c``, ``mboot/config.c``) reads the file line by line (split on
``\\n``), collapses white space, skips empty lines and lines starting with ``#``, and splits each line at
the first ``=`` into a case-insensitive key and a value.  The last occurrence of a key wins; an empty
value means "unset"; unknown keys are ignored.  List values (``modules``, ``acpitables``) are split on
the substring ``---``; in every item the first token is the path and the rest are that module's options.

:class:`BootCfg` keeps every original line as bytes, so :meth:`BootCfg.serialize` returns the input
unchanged byte for byte until something is edited; an edit re-renders only the line of the edited key
(keeping the key spelling used in the file) and new lines use the file's own line ending.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError

LIST_SEPARATOR = ' --- '
"""How list items are written (VMware's own spelling)."""

TEMPLATE_ORDER = ('bootstate', 'title', 'timeout', 'prefix', 'kernel', 'kernelopt', 'modules', 'build', 'updated')
"""Key order of the installer-written boot.cfg template; new keys are placed accordingly."""

INTEGER_KEYS = frozenset(
    ('nobootif', 'timeout', 'noquirks', 'norts', 'runtimewd', 'tftpblksize', 'runtimewdtimeout', 'skip', 'errtimeout', 'bootstate', 'updated')
)
"""Keys the loader (mboot or safeboot) parses as integers: a non-number is a syntax error at boot."""

LOADER_KEY_RELEASES = {
    'runtimewd': ((8, 0, 0), None),
    'runtimewdtimeout': ((8, 0, 0), None),
    'tftpblksize': ((8, 0, 0), None),
    'acpitables': ((8, 0, 0), None),
    'skip': ((8, 0, 2), None),
    'errtimeout': ((8, 0, 2), None),
    'nativehttp': (None, (9, 0, 0)),
}
"""Keys only some boot-loader releases read: (first ESXi release whose mboot reads it, first that no longer does).

esxi-formats §2.1 and the 8.0/9.x changes of issue 15: 8.0 added runtimewd, tftpblksize, acpitables and
runtimewdtimeout, 8.0.2 skip and errtimeout, 9.0 dropped nativehttp. A loader ignores a key it does not know.
"""

LOADER_KEYS = frozenset(('kernel', 'kernelopt', 'modules', 'title', 'prefix', 'nobootif', 'timeout', 'noquirks', 'norts', 'crypto')) | frozenset(
    LOADER_KEY_RELEASES
)
"""Every key an ESXi boot loader (mboot) reads, in some release."""

SAFEBOOT_KEYS = frozenset(('bootstate', 'build', 'updated'))
"""Keys the bootbank selector (safeboot) and the installer read and write, not mboot."""

MANAGED_KEYS = {
    'kernel': 'the kernel is the image\'s own',
    'modules': 'the module list follows the VIBs added and removed',
    'kernelopt': 'use kernelopt or kernelopt_add',
    'title': 'use boot_title',
    'timeout': 'use boot_timeout',
    'prefix': 'pxe_publish sets it for network boot',
    'bootstate': 'the installer writes it',
    'build': 'the installer writes it',
    'updated': 'the installer writes it',
}
"""Keys a free-form boot.cfg option may not set, with what to do instead."""

DB_TGZ_FAMILY = ('imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'esxiodpt.tgz', 'imgpayld.tgz')
"""Database/payload archives that stay at the end of ``modules=`` (new modules go before them)."""

MAX_SIZE = 1024 * 1024
"""A real boot.cfg is 0.5-3 KB; anything this large is not one."""

_KEY_RE = re.compile(r'^[A-Za-z0-9_]+$')
_DEFAULT_BEFORE = '/imgdb.tgz'


def check_option(key: str, value: object, *, setting: str = 'bootcfg_options') -> tuple[str, str | None]:
    """``(key, value)`` of a boot.cfg option a user asked for (None: remove the key); ValueError says what is wrong."""
    name = str(key).strip().lower()
    if not _KEY_RE.match(name):
        raise ValueError('%s: %r is not a boot.cfg key (letters, digits and _ only)' % (setting, key))
    if name in MANAGED_KEYS:
        raise ValueError('%s: %s cannot be set here: %s' % (setting, name, MANAGED_KEYS[name]))
    if name not in LOADER_KEYS:
        settable = sorted(LOADER_KEYS - set(MANAGED_KEYS))
        close = difflib.get_close_matches(name, settable, n=1)
        raise ValueError(
            '%s: %s is not read by any ESXi boot loader and would be ignored%s; the loader reads %s'
            % (setting, name, ' (did you mean %s?)' % close[0] if close else '', ', '.join(settable))
        )
    if value is None:
        return name, None
    # YAML's yes/true for a flag key means 1, as the loader reads it
    text = ('1' if value else '0') if isinstance(value, bool) else str(value).strip()
    if '\n' in text or '\r' in text:
        raise ValueError('%s: the value of %s spans lines; a boot.cfg value is one line' % (setting, name))
    if name in INTEGER_KEYS and not re.match(r'^-?[0-9]+$', text):
        raise ValueError('%s: %s must be a whole number, not %r' % (setting, name, text))
    return name, text


def format_release(release: tuple[int, ...]) -> str:
    """``(8, 0, 2)`` -> ``8.0.2``, ``(9, 0, 0, 0)`` -> ``9.0``."""
    parts = list(release)
    while len(parts) > 2 and parts[-1] == 0:
        parts.pop()
    return '.'.join(str(part) for part in parts)


def basename(path: str) -> str:
    """Last component of a boot.cfg path (``/`` or ``\\`` separated, URLs included), lower-cased."""
    return re.split(r'[/\\]', path)[-1].lower()


def _collapse(text: str) -> str:
    """White space normalisation done by the loader on every line (``str_merge_spaces``)."""
    return ' '.join(text.split())


@dataclass(frozen=True)
class Module:
    """One ``modules=`` item: the path and the option string the loader passes with it."""

    path: str
    options: str = ''

    @property
    def name(self) -> str:
        """Lower-case base name, how the loader's file lookups and the image profile compare it."""
        return basename(self.path)

    def render(self) -> str:
        return '%s %s' % (self.path, self.options) if self.options else self.path


def parse_list(value: str | None) -> list[Module]:
    """Split a list value the way mboot's ``parse_filelist`` does."""
    items = []
    for chunk in (value or '').split('---'):
        tokens = chunk.split(None, 1)
        if tokens:
            items.append(Module(tokens[0], _collapse(tokens[1]) if len(tokens) > 1 else ''))
    return items


def _token_key(token: str) -> str:
    return token.split('=', 1)[0].lower()


class _Line:
    """One physical line: original bytes (without ending), its ending, and the key/value the loader sees."""

    __slots__ = ('raw', 'ending', 'key', 'key_text', 'value')

    def __init__(self, raw: bytes, ending: bytes):
        self.raw = raw
        self.ending = ending
        self.key = self.key_text = self.value = None
        text = _collapse(raw.decode('utf-8', 'surrogateescape'))
        if text and not text.startswith('#') and '=' in text:
            key_text, value = text.split('=', 1)
            self.key_text = key_text.strip()
            self.key = self.key_text.lower()
            self.value = value.strip()

    def set_value(self, value: str) -> None:
        self.value = value
        self.raw = ('%s=%s' % (self.key_text, value)).encode('utf-8', 'surrogateescape')


class BootCfg:
    """A parsed boot.cfg that can be edited and written back with minimal change."""

    def __init__(self, lines: list[_Line], path: str | None = None):
        self._lines = lines
        self.path = path
        endings = [line.ending for line in lines if line.ending]
        self.newline = b'\r\n' if endings and endings.count(b'\r\n') * 2 >= len(endings) else b'\n'

    # -- reading and writing -------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, path: str | None = None) -> BootCfg:
        """Parse boot.cfg bytes; ``path`` names the file in error messages."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError('BootCfg.parse() needs bytes, got %s' % type(data).__name__)
        if len(data) > MAX_SIZE:
            raise FormatError('is %d bytes, far too large for a boot.cfg' % len(data), path=path)
        if b'\0' in data:
            raise FormatError('contains NUL bytes: this is a binary file, not a boot.cfg', path=path)
        lines = []
        pos = 0
        data = bytes(data)
        while pos < len(data):
            end = data.find(b'\n', pos)
            if end < 0:
                raw, ending, pos = data[pos:], b'', len(data)
            else:
                raw, ending, pos = data[pos:end], b'\n', end + 1
                if raw.endswith(b'\r'):
                    raw, ending = raw[:-1], b'\r\n'
            lines.append(_Line(raw, ending))
        return cls(lines, path)

    def serialize(self) -> bytes:
        """The file's bytes: identical to the input unless something was edited."""
        return b''.join(line.raw + line.ending for line in self._lines)

    def copy(self) -> BootCfg:
        return BootCfg.parse(self.serialize(), self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, BootCfg) and self.serialize() == other.serialize()

    def __repr__(self) -> str:
        return 'BootCfg(path=%r, kernel=%r, %d modules)' % (self.path, self.kernel, len(self.modules))

    # -- generic key access --------------------------------------------------------------------

    def keys(self) -> list[str]:
        """Lower-case keys in file order, each once."""
        seen = []
        for line in self._lines:
            if line.key is not None and line.key not in seen:
                seen.append(line.key)
        return seen

    def _key_lines(self, key: str) -> list[_Line]:
        key = key.lower()
        return [line for line in self._lines if line.key == key]

    def get(self, key: str, default: str | None = None) -> str | None:
        """Value of ``key`` as the loader sees it (last occurrence wins); ``''`` when set empty."""
        found = self._key_lines(key)
        return found[-1].value if found else default

    def __contains__(self, key: str) -> bool:
        return bool(self._key_lines(key))

    def set(self, key: str, value: str | int | None) -> bool:
        """Set ``key`` (adding it at its template position if absent); return whether the file changed."""
        if not _KEY_RE.match(key):
            raise ValueError('invalid boot.cfg key %r' % key)
        value = '' if value is None else str(value)
        if '\n' in value or '\r' in value:
            raise ValueError('a boot.cfg value cannot contain a line break: %r' % value)
        value = _collapse(value)
        found = self._key_lines(key)
        if found:
            if found[-1].value == value:
                return False
            found[-1].set_value(value)
            return True
        line = _Line(b'', self.newline)
        line.key_text, line.key = key, key.lower()
        line.set_value(value)
        self._insert_line(self._template_index(key.lower()), line)
        return True

    def remove(self, key: str) -> bool:
        """Delete every line setting ``key`` (an earlier duplicate would otherwise take effect)."""
        found = self._key_lines(key)
        if not found:
            return False
        last = self._lines[-1]
        self._lines = [line for line in self._lines if line not in found]
        if last in found and self._lines and not last.ending:
            # keep "no newline at end of file" when the removed line was the last one
            self._lines[-1].ending = b''
        return True

    def _template_index(self, key: str) -> int:
        """Line index where a new ``key`` goes: after its template predecessors, else before its successors."""
        if key in TEMPLATE_ORDER:
            rank = TEMPLATE_ORDER.index(key)
            after = [i for i, line in enumerate(self._lines) if line.key in TEMPLATE_ORDER[:rank]]
            if after:
                return after[-1] + 1
            before = [i for i, line in enumerate(self._lines) if line.key in TEMPLATE_ORDER[rank + 1 :]]
            if before:
                return before[0]
        return len(self._lines)

    def _insert_line(self, index: int, line: _Line) -> None:
        if index == len(self._lines) and self._lines and not self._lines[-1].ending:
            # appending to a file without a final newline: the old last line gets one, the new one does not
            self._lines[-1].ending = self.newline
            line.ending = b''
        self._lines.insert(index, line)

    # -- well-known keys -----------------------------------------------------------------------

    def _int(self, key: str) -> int | None:
        value = self.get(key)
        try:
            return int(value) if value else None
        except ValueError:
            return None

    @property
    def kernel(self) -> str | None:
        return self.get('kernel') or None

    @kernel.setter
    def kernel(self, value: str) -> None:
        self.set('kernel', value)

    @property
    def kernelopt(self) -> str:
        return self.get('kernelopt') or ''

    @property
    def title(self) -> str | None:
        return self.get('title')

    @title.setter
    def title(self, value: str) -> None:
        self.set('title', value)

    @property
    def timeout(self) -> int | None:
        """Autoboot timeout in seconds; None when unset or not a number (the loader then uses 5 / fails)."""
        return self._int('timeout')

    @timeout.setter
    def timeout(self, value: int) -> None:
        self.set('timeout', int(value))

    @property
    def prefix(self) -> str | None:
        return self.get('prefix')

    @prefix.setter
    def prefix(self, value: str) -> None:
        self.set('prefix', value)

    @property
    def build(self) -> str | None:
        return self.get('build')

    def problems(self) -> list[str]:
        """What would make the loader fail on this file."""
        found = []
        if not self.kernel:
            found.append('no kernel= line')
        for key in INTEGER_KEYS:
            value = self.get(key)
            if value and not re.match(r'^-?[0-9]+$', value):
                found.append('%s=%s is not a number' % (key, value))
        return sorted(found)

    def release_warnings(self, release: tuple[int, ...] | None) -> list[str]:
        """Keys the boot loader of ESXi ``release`` (``(8, 0, 0)``) ignores, each naming the release that added or dropped it."""
        found = []
        for key in self.keys():
            if key not in LOADER_KEYS and key not in SAFEBOOT_KEYS:
                found.append('%s= is not read by any ESXi boot loader (ignored)' % key)
                continue
            if release is None or key not in LOADER_KEY_RELEASES:
                continue
            added, dropped = LOADER_KEY_RELEASES[key]
            shown = format_release(release)
            if added is not None and tuple(release[:3]) < added:
                found.append('%s= is ignored by the boot loader of ESXi %s: it was added in ESXi %s' % (key, shown, format_release(added)))
            elif dropped is not None and tuple(release[:3]) >= dropped:
                found.append('%s= is ignored by the boot loader of ESXi %s: ESXi %s dropped it' % (key, shown, format_release(dropped)))
        return found

    # -- modules -------------------------------------------------------------------------------

    @property
    def modules(self) -> list[Module]:
        return parse_list(self.get('modules'))

    @property
    def module_names(self) -> list[str]:
        """Lower-case base names of the modules, in order."""
        return [module.name for module in self.modules]

    def set_modules(self, modules: Iterable[Module | str]) -> bool:
        """Replace the module list; items are :class:`Module` or path strings."""
        items = [module if isinstance(module, Module) else Module(str(module)) for module in modules]
        for item in items:
            if not item.path or '---' in item.render() or len(item.path.split()) != 1:
                raise ValueError('invalid boot.cfg module path %r' % item.path)
        return self.set('modules', LIST_SEPARATOR.join(item.render() for item in items))

    def has_module(self, path: str) -> bool:
        """Whether a module with the same base name (case-insensitive) is listed."""
        return basename(path) in self.module_names

    def styled_path(self, name: str) -> str:
        """``name`` written like the file's other paths: ``/name`` when the kernel path is absolute-rooted."""
        if '/' in name or '\\' in name or '://' in name:
            return name
        reference = self.kernel or (self.modules[0].path if self.modules else '/')
        return '/' + name if reference.startswith(('/', '\\')) else name

    def insert_module(self, path: str, before: str | None = _DEFAULT_BEFORE, options: str = '') -> bool:
        """Insert a module; return False (no change) when one with the same base name is already listed.

        A bare file name gets the file's path style (:meth:`styled_path`).  The module goes before
        the first item whose base name matches ``before`` (case-insensitive).  When ``before`` is not
        listed, it goes before the first image-database archive (:data:`DB_TGZ_FAMILY`, which must stay
        last for the installer), and at the end when there is none; ``before=None`` always appends.
        """
        modules = self.modules
        if self.has_module(path):
            return False
        new = Module(self.styled_path(path), _collapse(options))
        names = [module.name for module in modules]
        index = len(modules)
        if before is not None:
            if basename(before) in names:
                index = names.index(basename(before))
            else:
                family = [i for i, name in enumerate(names) if name in DB_TGZ_FAMILY]
                if family:
                    index = family[0]
        modules.insert(index, new)
        return self.set_modules(modules)

    def remove_module(self, path: str) -> bool:
        """Remove every module with the same base name (case-insensitive); return whether one was."""
        modules = self.modules
        kept = [module for module in modules if module.name != basename(path)]
        if len(kept) == len(modules):
            return False
        return self.set_modules(kept)

    # -- kernel options ------------------------------------------------------------------------

    @property
    def kernelopt_tokens(self) -> list[str]:
        return self.kernelopt.split()

    @property
    def kickstart(self) -> str | None:
        """Value of the last ``ks=`` kernel option (what the installer uses), if any."""
        values = [token.split('=', 1)[1] for token in self.kernelopt_tokens if '=' in token and _token_key(token) == 'ks']
        return values[-1] if values else None

    def set_kernelopt(self, value: str) -> bool:
        return self.set('kernelopt', value)

    def merge_kernelopt(self, tokens: Iterable[str]) -> bool:
        """Merge kernel option tokens by key (keys and flags compare case-insensitively).

        * ``key=value`` replaces the first existing token with that key in place (``ks=...`` replaces
          ``ks=...``) and drops later duplicates; appended when the key is new.
        * ``flag`` (no ``=``) is appended unless already present.
        * ``-key`` removes every ``key=...`` token and every ``key`` flag (e.g. ``-cdromBoot``, ``-ks``).

        Returns whether ``kernelopt=`` changed.
        """
        current = self.kernelopt_tokens
        for token in tokens:
            token = str(token).strip()
            if not token:
                continue
            if len(token.split()) != 1:
                raise ValueError('kernel option %r must be a single token without spaces' % token)
            if token.startswith('-') and len(token) > 1:
                gone = token[1:].lower()
                current = [item for item in current if _token_key(item) != gone]
            elif '=' in token:
                key = _token_key(token)
                positions = [i for i, item in enumerate(current) if '=' in item and _token_key(item) == key]
                if positions:
                    current[positions[0]] = token
                    current = [item for i, item in enumerate(current) if i not in positions[1:]]
                else:
                    current.append(token)
            elif token.lower() not in [item.lower() for item in current]:
                current.append(token)
        if current == self.kernelopt_tokens:
            return False
        return self.set('kernelopt', ' '.join(current))
