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

# 16-bit files with alpha, read as raw samples (no premultiplication). Rows use
# every filter type in turn (row y gets filter y % 5), so the reader's
# unfiltering is checked against Python's; the *_adam7 files are interlaced.
def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

def filtered(rows, bpp, first_filter=0):
    """rows: raw row bytes of one pass; returns the filtered stream (filter byte + row)."""
    out, prev = b"", None
    for y, row in enumerate(rows):
        ftype = (first_filter + y) % 5
        prev = prev or bytes(len(row))
        f = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
            f.append((x - pred) & 0xFF)
        out += bytes([ftype]) + bytes(f)
        prev = row
    return out

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

def png16(path, width, height, colour_type, pixels, interlaced=False):
    """pixels: rows of pixels, each a tuple of 16-bit samples."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    bpp = 2 * channels
    def row_bytes(px):
        return b"".join(struct.pack(">" + "H" * channels, *p) for p in px)
    if interlaced:
        raw = b""
        for n, (x0, y0, dx, dy) in enumerate(ADAM7):
            rows = [row_bytes(pixels[y][x0::dx]) for y in range(y0, height, dy)]
            rows = [r for r in rows if r]
            if rows:
                raw += filtered(rows, bpp, first_filter=n)
    else:
        raw = filtered([row_bytes(r) for r in pixels], bpp)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0,
                                                              1 if interlaced else 0))
    data += chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)

def sample(x, y, c):
    """A 16-bit value that uses both bytes and differs by pixel and channel."""
    return (x * 7919 + y * 104729 + c * 31337 + x * y * 613) % 65536

def alpha(x, y):
    """Alpha 0 on the diagonal, 65535 on the first column, translucent elsewhere."""
    return 0 if x == y else (65535 if x == 0 else (x * 9973 + y * 577) % 65535 + 1)

# 3x5 gray+alpha and RGBA, and 9x10 interlaced (every Adam7 pass non-empty).
for name, w, h, ctype, interlaced in [("gray_alpha16.png", 3, 5, 4, False), ("rgba16.png", 3, 5, 6, False),
                                       ("gray_alpha16_adam7.png", 9, 10, 4, True), ("rgba16_adam7.png", 9, 10, 6, True)]:
    colours = 1 if ctype == 4 else 3
    pixels = [[tuple(sample(x, y, c) for c in range(colours)) + (alpha(x, y),) for x in range(w)] for y in range(h)]
    png16(name, w, h, ctype, pixels, interlaced)
