# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locate the team's real third-party fixtures (``shared/fixtures`` beside the repository).

They are read in place and never copied into the collection. ansible-test runs a copy of the collection
in a temporary directory, where ``../shared`` is not beside it any more, so scripts/ansible-test.sh records
the absolute path in ``tests/shared-fixtures.path`` of that copy.
"""

from __future__ import annotations

import os
from pathlib import Path

RECORD = 'shared-fixtures.path'


def _collection_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def candidates() -> list[str]:
    """Where to look, in order: the environment, the path ansible-test's copy recorded, beside the checkout."""
    root = _collection_root()
    found = [os.environ.get('ESXI_SHARED_FIXTURES', '')]
    record = root / 'tests' / RECORD
    if record.is_file():
        found.append(record.read_text(encoding='utf-8').strip())
    found.append(str(root.parent / 'shared' / 'fixtures'))
    return [c for c in found if c]


def shared_fixtures() -> Path | None:
    """The shared fixtures directory, or None when it is nowhere to be found."""
    for candidate in candidates():
        if Path(candidate).is_dir():
            return Path(candidate)
    return None
