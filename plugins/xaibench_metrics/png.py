"""A minimal 8-bit greyscale PNG encoder (zlib only).

Written here rather than taken from Pillow because (1) Pillow is not a dependency,
and (2) an encoder that picks row filters adaptively and whose defaults change
between versions would make a "file size" measure depend on the library version.
This one always uses filter type 0 (None) and a fixed zlib level, so the size
depends only on the image and ``level``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_gray8(image: np.ndarray, level: int = 9) -> bytes:
    """PNG file bytes of ``image``, a ``(H, W)`` uint8 array; ``level`` is the zlib level 0-9."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"expected a (H, W) uint8 image, got {image.dtype} {image.shape}")
    height, width = image.shape
    # bit depth 8, colour type 0 (greyscale), compression 0, filter method 0, no interlace
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image], axis=1)  # filter byte 0 per row
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )
