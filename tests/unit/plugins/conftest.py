# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures every unit test package may use."""

from __future__ import annotations

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._io import decompress


@pytest.fixture
def no_zstd(monkeypatch):
    """A host without any zstd library (no compression.zstd, backports.zstd or zstandard)."""
    monkeypatch.setattr(decompress, '_zstd_found', None)
    monkeypatch.setattr(decompress, '_zstd_errors', ['zstandard: No module named zstandard'])
