from __future__ import annotations

import io


class CountingFile(io.FileIO):
    """Counts the bytes read, to prove that opening and describing an ISO reads metadata only."""

    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.bytes_read += count or 0
        return count
