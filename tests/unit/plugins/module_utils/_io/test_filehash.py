from __future__ import annotations

import hashlib
import os

from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import cached_sha256, file_sha256, remember_sha256


def test_file_sha256_uses_and_checks_its_cache(tmp_path):
    f = tmp_path / 'x.bin'
    f.write_bytes(b'abc' * 1000)
    want = hashlib.sha256(b'abc' * 1000).hexdigest()
    assert cached_sha256(str(f)) is None
    assert file_sha256(str(f)) == want
    assert cached_sha256(str(f)) == want
    f.write_bytes(b'abd' * 1000)  # new mtime/size key: the cache must not answer
    assert cached_sha256(str(f)) is None
    assert file_sha256(str(f)) == hashlib.sha256(b'abd' * 1000).hexdigest()


def test_a_remembered_digest_is_trusted_only_for_the_same_file_state(tmp_path):
    f = tmp_path / 'y.bin'
    f.write_bytes(b'x' * 10)
    remember_sha256(str(f), 'f' * 64)
    assert file_sha256(str(f)) == 'f' * 64  # the cache answers without reading
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert file_sha256(str(f)) == hashlib.sha256(b'x' * 10).hexdigest()
