from __future__ import annotations

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    ChecksumError,
    EsxiCustomizerError,
    FormatError,
)


def test_message_names_the_file():
    err = ChecksumError('payload net-8125 sha-256 mismatch', path='/tmp/x.vib')
    assert str(err) == '/tmp/x.vib: payload net-8125 sha-256 mismatch'
    assert err.path == '/tmp/x.vib'


def test_hierarchy_lets_modules_catch_one_type():
    assert issubclass(ChecksumError, FormatError)
    assert issubclass(FormatError, EsxiCustomizerError)
    assert str(FormatError('bad')) == 'bad'
