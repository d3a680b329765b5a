# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection needs to know of an ESXi kickstart file (it never parses more: the installer does).

A kickstart embedded in an ISO, a disk image or a PXE tree is readable by anyone who can read those; a plaintext
``rootpw`` there is the host's root password for all to see. ``rootpw --iscrypted <hash>`` (a crypt(3) hash, such as
``openssl passwd -6`` makes) is the safe form.
"""

from __future__ import annotations

import re

_ROOTPW = re.compile(rb'^[ \t]*rootpw[ \t]+(.*)$', re.M)

PLAINTEXT_ROOTPW_WARNING = (
    'the kickstart sets a plaintext root password (rootpw without --iscrypted); whoever can read the ISO, image or PXE '
    'tree can read it: use rootpw --iscrypted <hash> (for example from "openssl passwd -6")'
)


def plaintext_root_password(data: bytes) -> bool:
    """Whether a ``rootpw`` line gives the password in clear text."""
    return any(b'--iscrypted' not in match.group(1).split() for match in _ROOTPW.finditer(data))
