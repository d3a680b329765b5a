# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An installer image from either source a user has: an ISO, or a base depot zip and one of its image profiles.

One home for telling the two apart (by content) and for the rule that ``profile`` belongs to depots only, so that
iso_customize, image_compare and hardware_coverage take the same sources with the same messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.depot_source import DepotImage, is_zip, open_depot_image
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage


@contextlib.contextmanager
def open_source_image(path: str, profile: str | None = None, *, option: str = 'profile') -> Iterator[tuple[EsxiImage, DepotImage | None]]:
    """(image, depot) of ``path``: an ISO gives its image and None; a depot the image of ``profile`` laid out as an ISO.

    ``option`` is how the caller's user names ``profile`` (``a_profile``...), for the message when it is misplaced.
    """
    if not is_zip(path):
        if profile:
            raise EsxiCustomizerError('%s chooses the image profile of a depot; this is an ISO, which has one' % option, path=path)
        with EsxiImage.open(path) as image:
            yield image, None
        return
    with open_depot_image(path, profile) as depot:
        yield depot.image, depot
