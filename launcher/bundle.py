"""bundle.py ONEDIR: put the C library into unc's one-dir build, so that it
runs on hosts with another glibc, an older one, or none (musl, busybox).

PyInstaller leaves out the libraries every Linux host has: the dynamic
loader, libc, libm, libdl, libpthread. This copies into ONEDIR/_internal
every library that a program or library of the build needs from outside it,
as the build host's own ldd finds them, the loader included (under its own
name, ld-linux-x86-64.so.2 on x86_64, ld-linux-aarch64.so.1 on aarch64).

Then it makes room for the loader's path in the bootloader ONEDIR/unc: the
kernel reads the program interpreter from the file offset of its PT_INTERP
program header, so that header is pointed at a slot of 4096 bytes (PATH_MAX,
the kernel's limit) appended to the file, which holds the old path followed
by zeros. launcher.c writes the bundled loader's full path into the slot
when it unpacks the build (only then is the cache directory known). The
header's address stays that of the old path, which the loader reads as its
own name (matched against DT_NEEDED entries, never opened). PyInstaller
finds its archive from the end of the file backwards and takes its offsets
from its trailer, so the bytes appended after it do not disturb it.

Programs that unc starts run with the host's libraries: they have their own
PT_INTERP, and LD_LIBRARY_PATH, the one variable that leads to the bundle,
is reset for them (core/execvp.py, clean_environ).
"""

import os
import re
import shutil
import struct
import subprocess
import sys

PT_INTERP = 3
SLOT = 4096


def elf_files(top):
    for dirpath, _, filenames in os.walk(top):
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def needed_outside(top, internal):
    """{name: path} of the libraries (and loader) the build needs from the
    host, as ldd resolves them with the build's own directory first."""
    env = dict(os.environ, LD_LIBRARY_PATH=internal)
    found = {}
    top_real = os.path.realpath(top)
    for path in elf_files(top):
        out = subprocess.run(["ldd", path], capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            m = (re.match(r"\s*(\S+) => (/\S+) \(0x", line)
                 or re.match(r"\s*((/\S+)) \(0x", line))
            if not m:
                continue
            name, where = os.path.basename(m.group(1)), m.group(2)
            if os.path.realpath(where).startswith(top_real + os.sep):
                continue
            found.setdefault(name, where)
    return found


def interp_header(data):
    """(offset of the PT_INTERP program header, its p_offset, p_filesz)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("bundle.py: the bootloader is not a 64-bit little-endian ELF file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", data, at)
        if p_type == PT_INTERP:
            p_offset, = struct.unpack_from("<Q", data, at + 8)
            p_filesz, = struct.unpack_from("<Q", data, at + 32)
            return at, p_offset, p_filesz
    sys.exit("bundle.py: the bootloader has no PT_INTERP")


def make_slot(program):
    with open(program, "rb") as f:
        data = bytearray(f.read())
    at, offset, size = interp_header(data)
    if size == SLOT:
        return data[offset:offset + size].split(b"\0")[0].decode()
    old = bytes(data[offset:offset + size]).split(b"\0")[0]
    slot = len(data)
    data += old + bytes(SLOT - len(old))
    struct.pack_into("<Q", data, at + 8, slot)          # p_offset
    struct.pack_into("<Q", data, at + 32, SLOT)         # p_filesz
    tmp = program + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, os.stat(program).st_mode & 0o7777)
    os.replace(tmp, program)
    return old.decode()


def main(top):
    internal = os.path.join(top, "_internal")
    program = os.path.join(top, "unc")
    libs = needed_outside(top, internal)
    interp = make_slot(program)
    loader = os.path.basename(interp)
    if loader not in libs:
        sys.exit(f"bundle.py: ldd did not name the loader {interp}")
    for name, path in sorted(libs.items()):
        shutil.copyfile(path, os.path.join(internal, name))     # the file, not a link
        os.chmod(os.path.join(internal, name), 0o755)
        print(f"bundle.py: {name} from {path}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
