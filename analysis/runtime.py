"""Process-wide settings under which frame-by-frame analysis runs cheaper.

The first two are measured on the shuttle tracker over a 720p clip, on one thread: 4.0 ms of
CPU per frame with the defaults, 3.0 ms with OpenCV on one thread, about 2.3 ms with both
settings. The third saves the whole analysis about 6% of its CPU at 15 poses a second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

import cv2
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

# glibc's mallopt parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap instead of a memory map of their own (a 4K
# frame in BGR is 25 MB); freed heap memory is returned to the system only beyond TRIM.
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 128 * 1024 * 1024


@functools.cache
def tune_for_analysis() -> None:
    """Applies the settings once per process; safe to call from every analyzer."""
    # Every frame allocates and frees a few frame-sized arrays (1-3 MB). glibc serves blocks
    # that large with fresh memory maps by default, and the first touch of each 4 KiB page
    # of a fresh map is a page fault: a quarter of the shuttle tracker's CPU. Kept in the
    # heap, the next frame reuses the same memory.
    _keep_large_blocks_in_heap()
    # The analysis keeps the cores busy with its own threads (decoder, pose workers, live
    # sessions); OpenCV's worker pool on top of them only adds hand-over costs.
    cv2.setNumThreads(1)
    # numpy's matrix products here are small (the shuttle scorer's layers over a frame's few
    # dozen blobs). A second BLAS thread gains nothing on them and spins while it waits for
    # the next one: about 1 ms of CPU a frame at 15 poses a second.
    threadpool_limits(1, user_api="blas")


def _keep_large_blocks_in_heap() -> None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        mallopt = None
    if mallopt is None:
        return
    mapped = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    trimmed = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    if not (mapped and trimmed):
        log.debug("malloc thresholds not accepted; large arrays stay memory-mapped")
