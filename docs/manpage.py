#!/usr/bin/env python3
"""docs/unc.1, unc's manual page, made from its usage text.

The usage text (core.cli.usage(): the core's options, then each stage's)
is the one description of unc's command line; `unc --help` prints it. This
script turns it into a man(7) page: the synopsis, the description, every
option under the stage that owns it, the stages, the exit statuses, and
the sections a usage text has no room for (environment, files, examples),
kept below. Run it after changing an option or its text:

    python3 docs/manpage.py > docs/unc.1      # from the top of the checkout
    man ./docs/unc.1

tests/unit/test_docs.py fails when docs/unc.1 is not what this makes, and
checks that every option of the usage text is in the page and in the bash
completion (completion/unc.bash).
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core import cli  # noqa: E402

ENVIRONMENT = [
    ("SHELL", "The default COMMAND, when the container has it; else /bin/sh."),
    ("UNC_CACHE_DIR", "Where dist/unc unpacks its build, once per build and user. "
     "Without it: $XDG_CACHE_HOME/unc (~/.cache/unc), $XDG_RUNTIME_DIR/unc, "
     "${TMPDIR:-/tmp}/unc-UID, the first that is yours, writable and allows "
     "executing programs."),
]

FILES = [
    ("/etc/subuid, /etc/subgid", "Subordinate id ranges (NAME:START:COUNT), which "
     "--map-auto, --map-users and --map-groups use through newuidmap(1) and "
     "newgidmap(1)."),
    ("/dev/net/tun", "Opened by pasta and slirp4netns; mode 0666 on an ordinary "
     "Debian host (udev)."),
    ("/proc/sys/user/max_user_namespaces", "0 forbids user namespaces "
     "(unc check names this and the other settings that do)."),
]

EXAMPLES = [
    ("A shell in a container with the host's tools, the host read-only:", "unc sh"),
    ("A Debian root with many ids mapped, as apt and useradd need:",
     "unc --map-auto --rootfs ./debian sh -c 'useradd -m alice && su alice -c id'"),
    ("A server on the host's 127.0.0.1:8080, stopped with Ctrl-C:",
     "unc --init --rootfs ./root -p 127.0.0.1:8080:80 httpd -f -p 80"),
    ("What works on this host, for a script:", "unc check --json | jq .ok"),
    ("Watch the first stage at work:", "unc --stage=user_pid --trace id"),
]

SEE_ALSO = ("unshare(1), bwrap(1), newuidmap(1), pasta(1), slirp4netns(1), "
            "namespaces(7), user_namespaces(7), pid_namespaces(7), mount_namespaces(7)")


def escape(text):
    """Text for roff: a backslash as \\e, and the hyphens of a word that
    starts with '-' (an option) as minus signs, so that it can be searched
    for and copied."""
    text = text.replace("\\", "\\e")
    return re.sub(r"(?<![\w-])-[\w-]*", lambda m: m.group(0).replace("-", "\\-"), text)


def line(text):
    """A text line roff does not take for a request (a leading . or ')."""
    return "\\&" + text if text[:1] in (".", "'") else text


def option_spec(spec):
    """`-u USER[:GROUP], --user=USER[:GROUP]` in bold, its arguments in italics."""
    out = []
    for part in re.split(r"(, |=| )", spec):
        if part.startswith("-"):
            out.append(f"\\fB{escape(part)}\\fR")
        elif part in (", ", "=", " "):
            out.append(part)
        elif part:
            out.append(f"\\fI{escape(part)}\\fR")
    return "".join(out)


def sections(usage):
    """The usage text's parts: usage lines, description, option blocks
    [(title, [(spec, description)])], and the tail."""
    head, _, rest = usage.partition("\nUsage:\n")
    lines = rest.split("\n")
    synopsis = []
    while lines and lines[0].startswith("  "):
        synopsis.append(lines.pop(0).strip())
    text = "\n".join(lines)
    description, _, options = text.partition("\nOptions:\n")
    blocks, title, entries = [], "Options", []
    tail = []
    for raw in options.split("\n"):
        if raw.startswith("Options of stage "):
            blocks.append((title, entries))
            title, entries = raw.rstrip(":"), []
        elif raw.startswith("  -"):
            spec, _, words = raw.strip().partition("  ")
            entries.append([spec.strip(), words.strip()])
        elif raw.startswith("   ") and entries:
            entries[-1][1] = (entries[-1][1] + " " + raw.strip()).strip()
        elif raw.strip() and not raw.startswith(" "):
            tail.append(raw)
    blocks.append((title, entries))
    return head.strip(), synopsis, description.strip(), blocks, " ".join(tail)


def manpage():
    usage = cli.usage()
    title, synopsis, description, blocks, tail = sections(usage)
    out = [
        f'.\\" Made by docs/manpage.py from unc {cli.VERSION}\'s usage text: do not edit.',
        f'.TH UNC 1 "" "unc {cli.VERSION}" "User Commands"',
        ".SH NAME",
        escape(title).replace(" - ", " \\- ", 1).rstrip("."),
        ".SH SYNOPSIS",
        ".nf",
    ]
    out += [escape(s) for s in synopsis]
    out += [".fi", ".SH DESCRIPTION"]
    for paragraph in re.split(r"\n(?=Signals sent|On a terminal)", description):
        out.append(".PP")
        out += [line(escape(t)) for t in paragraph.split("\n")]
    out.append(".SH OPTIONS")
    for name, entries in blocks:
        if name != "Options":
            stage = name[len("Options of stage "):]
            out.append(f'.SS "Stage {stage}"')
        for spec, words in entries:
            out += [".TP", option_spec(spec), line(escape(words))]
    out.append(".SH STAGES")
    out.append(".PP")
    out.append("Each stage adds to the ones before it; --stage=NAME stops after NAME.")
    for stage in cli.all_stages():
        out += [".TP", f"\\fB{stage.NAME}\\fR", line(escape(stage.SUMMARY))]
    out += [".SH EXIT STATUS", ".PP", line(escape(tail.replace("Exit status: ", "", 1))),
            ".PP",
            line(escape("unc check: 0 if every stage works, 1 if one cannot, 125 if unc "
                        "failed."))]
    for header, items in (("ENVIRONMENT", ENVIRONMENT), ("FILES", FILES)):
        out.append(f".SH {header}")
        for name, words in items:
            out += [".TP", f"\\fB{escape(name)}\\fR", line(escape(words))]
    out.append(".SH EXAMPLES")
    for words, command in EXAMPLES:
        out += [".PP", line(escape(words)), ".RS", ".nf", line(escape(command)), ".fi", ".RE"]
    out += [".SH SEE ALSO", escape(SEE_ALSO)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(manpage())
