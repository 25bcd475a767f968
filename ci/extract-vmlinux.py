#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pull the uncompressed ELF vmlinux out of an x86 bzImage.

QEMU boots an ELF vmlinux that carries a Xen PVH note (CONFIG_PVH=y, as in
Debian's generic config) directly at its 32-bit PVH entry, skipping the
real-mode setup and the in-guest decompression: under TCG that halves the
time to init.  The payload's position comes from the boot protocol header
(Documentation/x86/boot.rst: setup_sects at 0x1f1, payload_offset and
payload_length at 0x248/0x24c, relative to the protected-mode code).
Payloads: xz and gzip (Debian's 6.1), zstd (Debian's 6.12, through the
zstd tool).
"""
import lzma
import struct
import subprocess
import sys
import zlib


def main():
    src, dst = sys.argv[1], sys.argv[2]
    img = open(src, "rb").read()
    if img[0x202:0x206] != b"HdrS":
        sys.exit(f"{src}: not a bzImage (no HdrS boot header)")
    setup_sects = img[0x1f1] or 4
    pm_start = (setup_sects + 1) * 512
    off, length = struct.unpack_from("<II", img, 0x248)
    payload = img[pm_start + off:pm_start + off + length]
    # The build appends the uncompressed size (4 bytes) after the stream,
    # so use a one-stream decompressor that stops at the end marker.
    if payload.startswith(b"\xfd7zXZ\x00"):
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
    elif payload.startswith(b"\x28\xb5\x2f\xfd"):
        # zstd (Debian's 6.12): the zstd tool, without the size the build
        # appended, which it would read as a second, broken frame.
        elf = subprocess.run(["zstd", "-dcq"], input=payload[:-4],
                             stdout=subprocess.PIPE, check=True).stdout
    else:
        sys.exit(f"{src}: payload compression not supported: {payload[:6]!r}")
    if not elf.startswith(b"\x7fELF"):
        sys.exit(f"{src}: payload is not an ELF image")
    with open(dst, "wb") as out:
        out.write(elf)


if __name__ == "__main__":
    main()
