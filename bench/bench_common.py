# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmark scripts share: where the checkout is and how to import it as the collection."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def collection_path() -> str:
    """A directory holding ansible_collections/esxi/customizer -> this checkout (put it on sys.path / PYTHONPATH)."""
    links = os.path.join(ROOT, 'build', 'bench-path')
    target = os.path.join(links, 'ansible_collections', 'esxi')
    os.makedirs(target, exist_ok=True)
    link = os.path.join(target, 'customizer')
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return links
