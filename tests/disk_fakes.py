"""A disk faked at the OS boundary for the space-poll tests: os.statvfs and os.posix_fallocate counted, a full
quota (EDQUOT), which statvfs does not count, and files deleted."""

from __future__ import annotations

import errno
import os


class Disk:
    """os.statvfs and os.posix_fallocate, counted; `quota` makes the allocation fail with EDQUOT, `freed_bytes`
    adds to the free space statvfs reports (files deleted), which is otherwise the disk's at the first look."""

    def __init__(self, monkeypatch) -> None:
        self.statvfs_calls = 0
        self.fallocate_calls = 0
        self.quota = False
        self.freed_bytes = 0
        self._free: tuple[int, int] | None = None
        self._statvfs, self._fallocate = os.statvfs, os.posix_fallocate
        monkeypatch.setattr(os, "statvfs", self.statvfs)
        monkeypatch.setattr(os, "posix_fallocate", self.posix_fallocate)

    def statvfs(self, path):
        self.statvfs_calls += 1
        st = self._statvfs(path)
        if self._free is None:  # the disk's free space as it stood: other processes' files come and go meanwhile,
            self._free = st.f_bfree, st.f_bavail  # and 128 KiB more free after a refusal is asked again
        more = self.freed_bytes // st.f_frsize
        return os.statvfs_result((*tuple(st)[:3], self._free[0] + more, self._free[1] + more, *tuple(st)[5:]))

    def posix_fallocate(self, fd, offset, length):
        self.fallocate_calls += 1
        if self.quota:
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        return self._fallocate(fd, offset, length)
