# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build one fixture ISO with tests/fixturegen and print the facts it reports as JSON.

Usage: python gen_iso.py DEST '{"style": "70", "joliet_rock_ridge": false, "breakage": null, ...}'
Keys are build_esxi_iso()'s keyword arguments; "extra_files" values are strings (written as UTF-8).
"""

from __future__ import annotations

import json
import os
import sys


def _collections_root() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    while os.path.basename(here) != 'ansible_collections':
        parent = os.path.dirname(here)
        if parent == here:
            raise SystemExit('gen_iso.py must run inside an ansible_collections tree')
        here = parent
    return os.path.dirname(here)


def main() -> None:
    sys.path.insert(0, _collections_root())
    from ansible_collections.esxi.customizer.tests.fixturegen import iso  # pylint: disable=import-error

    dest, options = sys.argv[1], json.loads(sys.argv[2])
    if options.get('extra_files'):
        options['extra_files'] = {name: text.encode('utf-8') for name, text in options['extra_files'].items()}
    facts = iso.build_esxi_iso(dest, **options)
    json.dump(facts, sys.stdout, default=str)


if __name__ == '__main__':
    main()
