#!/usr/bin/env python3
"""Writes small PNG test fixtures by hand (struct + zlib, no libpng), so the Swift
reader is checked against files it did not write. Run once from the repo root:
    python3 scripts/make-png-fixtures.py
Writes Tests/MedR1LibTests/Fixtures/PNG/*.png; PNGImageTests.swift pins their values."""
import os, struct, zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "MedR1LibTests", "Fixtures", "PNG")

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

def png(path, width, height, bit_depth, colour_type, rows, extra=b""):
    """rows: list of raw row bytes (without the filter byte)."""
    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    data += extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)
    return data

os.makedirs(OUT, exist_ok=True)
# 3x2 8-bit gray: 0 51 102 / 153 204 255  (= 0, .2, .4, .6, .8, 1)
png("gray8.png", 3, 2, 8, 0, [bytes([0, 51, 102]), bytes([153, 204, 255])])
# 2x2 16-bit gray: 0, 1, 32768, 65535
png("gray16.png", 2, 2, 16, 0, [struct.pack(">HH", 0, 1), struct.pack(">HH", 32768, 65535)])
# 2x1 8-bit RGB: red, (10, 20, 30)
png("rgb8.png", 2, 1, 8, 2, [bytes([255, 0, 0, 10, 20, 30])])
# 2x1 16-bit RGB: (65535, 0, 1000), (1, 2, 3)
png("rgb16.png", 2, 1, 16, 2, [struct.pack(">HHHHHH", 65535, 0, 1000, 1, 2, 3)])
# 2x1 8-bit gray+alpha: (100, 255), (200, 0)
png("gray_alpha8.png", 2, 1, 8, 4, [bytes([100, 255, 200, 0])])
# 2x1 8-bit RGBA: (1, 2, 3, 255), (40, 50, 60, 128)
png("rgba8.png", 2, 1, 8, 6, [bytes([1, 2, 3, 255, 40, 50, 60, 128])])
# 4x1 2-bit palette: entries red, green, blue, white; pixels 3 2 1 0
palette = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]))
png("palette2.png", 4, 1, 2, 3, [bytes([0b11100100])], extra=palette)
# 4x1 1-bit gray: 1 0 1 1
png("gray1.png", 4, 1, 1, 0, [bytes([0b10110000])])
# errors: text, truncated PNG, PNG with a corrupted IDAT CRC
with open(os.path.join(OUT, "not-a-png.png"), "wb") as f:
    f.write(b"hello, this is text\n")
full = png("truncated.png", 16, 16, 8, 0, [bytes(range(i * 16, i * 16 + 16)) for i in range(16)])
with open(os.path.join(OUT, "truncated.png"), "wb") as f:
    f.write(full[:60])
bad = bytearray(full)
bad[-16] ^= 0xFF  # inside IDAT's CRC
with open(os.path.join(OUT, "bad-crc.png"), "wb") as f:
    f.write(bytes(bad))
