# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._io import copy


@pytest.mark.parametrize('kernel', [True, False])
@pytest.mark.parametrize('dest_offset', [0, 512, 3 * 1024 * 1024 + 7])
def test_copy_range_hashed_at_an_offset_hashes_exactly_the_copied_range(tmp_path, monkeypatch, kernel, dest_offset):
    """A tar member is copied into the middle of the output: the digest covers it alone, not what lies before it."""
    monkeypatch.setattr(copy, 'HASH_PIECE', 1 << 20)  # several pieces for the hasher to follow
    data = os.urandom(5 * 1024 * 1024 + 123)
    src = tmp_path / 'src'
    src.write_bytes(b'head' + data)
    out = tmp_path / 'out'
    out.write_bytes(b'\xff' * dest_offset)
    sfd, dfd = os.open(src, os.O_RDONLY), os.open(out, os.O_RDWR)
    try:
        digest = copy.copy_range_hashed(sfd, dfd, len(data), src_offset=4, dest_offset=dest_offset, copier=copy.Copier(allow_kernel=kernel))
    finally:
        os.close(sfd)
        os.close(dfd)
    assert digest == hashlib.sha256(data).hexdigest()
    assert out.read_bytes() == b'\xff' * dest_offset + data
