"""Writes security/syscalls.py, the system call numbers of x86_64 and aarch64.

Run by hand on a Debian machine with linux-libc-dev (`python3
security/mksyscalls.py > security/syscalls.py`) when the kernel headers gain
calls; never imported by unc. seccomp filters match calls by number, and
the numbers differ between architectures: x86_64 has its own table
(asm/unistd_64.h), aarch64 the generic one (asm-generic/unistd.h, read
through the C preprocessor with the __ARCH_WANT_ switches that
arch/arm64's own unistd.h sets), so a profile written with names can be
compiled for either machine on either machine.
"""

import os
import re
import subprocess
import tempfile

AARCH64_WANTS = ("RENAMEAT", "NEW_STAT", "SET_GET_RLIMIT", "TIME32_SYSCALLS",
                 "SYS_CLONE3", "MEMFD_SECRET")


def defines(text):
    """{name: value} of the __NR_ macros of `gcc -dM` output, resolved."""
    raw = dict(re.findall(r"#define (__NR\w+) (\S+)", text))
    table = {}
    for name, value in raw.items():
        if not name.startswith("__NR_") or name in ("__NR_syscalls",
                                                    "__NR_arch_specific_syscall"):
            continue
        seen = 0
        while not value.isdigit() and value in raw and seen < 10:
            value, seen = raw[value], seen + 1
        if value.isdigit():
            table[name[len("__NR_"):]] = int(value)
    return table


def preprocess(source, *includes):
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(f"{tmp}/asm")
        with open(f"{tmp}/asm/bitsperlong.h", "w") as f:
            f.write("#define __BITS_PER_LONG 64\n")
        with open(f"{tmp}/c.c", "w") as f:
            f.write(source)
        return subprocess.run(["gcc", "-E", "-dM", "-nostdinc", f"-I{tmp}", *includes,
                               "-I/usr/include", f"{tmp}/c.c"],
                              check=True, capture_output=True, text=True).stdout


def main():
    with open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h") as f:
        x86_64 = defines(f.read())
    wants = "".join(f"#define __ARCH_WANT_{w}\n" for w in AARCH64_WANTS)
    aarch64 = defines(preprocess(wants + "#include <asm-generic/unistd.h>\n"))
    print('"""System call numbers by architecture, for the seccomp compiler.\n\n'
          "Written by security/mksyscalls.py from Debian 12's kernel headers\n"
          "(linux-libc-dev); do not edit. security/seccomp.py looks names up here\n"
          "when it compiles a profile; a name missing from an architecture's table\n"
          "is a call that architecture does not have (open on aarch64), which a\n"
          'profile may name and the filter then skips.\n"""\n')
    for arch, table in (("x86_64", x86_64), ("aarch64", aarch64)):
        print(f"{arch.upper()} = {{")
        for name, number in sorted(table.items(), key=lambda item: item[1]):
            print(f'    "{name}": {number},')
        print("}\n")


if __name__ == "__main__":
    main()
