from __future__ import annotations

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._formats.kickstart import plaintext_root_password


@pytest.mark.parametrize(
    'text, plain',
    [
        (b'vmaccepteula\nrootpw VMware1!\n', True),
        (b'  rootpw\t--iscrypted $6$abc$def\n', False),
        (b'rootpw $6$abc --iscrypted\n', False),
        (b'# rootpw VMware1!\nrootpw --iscrypted $6$x\n', False),
        (b'install --firstdisk\n', False),
        (b'rootpw --iscrypted $6$x\nrootpw hunter2\n', True),
        (b'rootpwx\n', False),
    ],
)
def test_plaintext_root_password(text, plain):
    assert plaintext_root_password(text) is plain
