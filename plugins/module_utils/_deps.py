# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which third-party libraries the format code could not import, for the modules to report."""

from __future__ import annotations

from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import HAS_PYCDLIB, PYCDLIB_IMPORT_ERROR
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import DEFUSEDXML_IMPORT_ERROR, HAS_DEFUSEDXML

_LIBRARIES = {
    'pycdlib': (HAS_PYCDLIB, PYCDLIB_IMPORT_ERROR),
    'defusedxml': (HAS_DEFUSEDXML, DEFUSEDXML_IMPORT_ERROR),
}


def missing_libraries(*names):
    """``(name, import error text)`` for each of ``names`` (default: all) that is not installed."""
    wanted = names or tuple(_LIBRARIES)
    return [(name, str(_LIBRARIES[name][1])) for name in wanted if not _LIBRARIES[name][0]]
