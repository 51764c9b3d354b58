"""Handing freed memory back to the system after a flood of connections.

Each TLS connection asyncio serves holds a 256 KiB read buffer (asyncio.sslproto). glibc
serves a block that large by mmap and unmaps it when freed, but each such free also
raises its mmap threshold to the block's size, so from then on these buffers come from
the heap: when a flood of connections ends they are free, yet the heap keeps the pages
(only the top of the main heap is ever trimmed by itself). malloc_trim(0) gives the free
pages of every arena back. Some of what a flood leaves is in reference cycles (on
Python 3.11 every closed socket transport refers to itself through its read callback), so
a full garbage collection comes first. Both walk the heap, tens of milliseconds, so the
listener calls this only when a flood has ended, not per connection. malloc_trim exists
only in glibc; elsewhere (macOS, musl) only the collection runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def give_back() -> bool:
    """Collect cycles, then return free heap pages to the system; True if glibc released some."""
    gc.collect()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
