"""pack.py LAUNCHER ONEDIR OUT: write the one-file dist/unc.

OUT is the launcher program (launcher.c, compiled), then every file,
directory and symlink of the PyInstaller one-dir build ONEDIR as entries,
then a trailer; launcher.c says how they are read. An entry is a type byte
('d', 'f' or 'l'), the mode (u32), the length of the path (u32) and of the
data (u64), the path relative to ONEDIR, and the data: a file's bytes,
zlib-compressed (level 9), or a symlink's target. The trailer is
b"UNCPACK3", the offset and the size of the entries (u64 each) and the
build's id, 32 hex digits: the CRC-32 of the entries (which the launcher
checks while it unpacks them), 8 digits of their SHA-256 and their size, so
that each build unpacks into its own directory. Everything is
little-endian, sorted by path: the same tree gives the same bytes.
"""

import hashlib
import os
import stat
import struct
import sys
import zlib


def entries(top):
    """(type, mode, path, data) for everything under top, parents first."""
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            path = os.path.relpath(full, top)
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                yield b"l", 0o777, path, os.readlink(full).encode()
            elif stat.S_ISDIR(st.st_mode):
                yield b"d", mode, path, b""
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    yield b"f", mode, path, zlib.compress(f.read(), 9)
            else:
                sys.exit(f"pack.py: {full}: not a file, directory or symlink")


def main(launcher, top, out):
    with open(launcher, "rb") as f:
        program = f.read()
    body = bytearray()
    for kind, mode, path, data in entries(top):
        name = path.encode()
        body += kind + struct.pack("<IIQ", mode, len(name), len(data)) + name + data
    build_id = (f"{zlib.crc32(body):08x}{hashlib.sha256(body).hexdigest()[:8]}"
                f"{len(body):016x}").encode()
    trailer = b"UNCPACK3" + struct.pack("<QQ", len(program), len(body)) + build_id
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(program + body + trailer)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
