"""Subordinate ids and the uid/gid maps a run asks for.

Stage user_pid plans the container's maps with plan() while it checks the
options (before anything exists), and identity/idmap.py writes them. This
module reads /etc/subuid and /etc/subgid (lines NAME_OR_UID:START:COUNT,
subuid(5)), finds the caller's ranges by user name or by uid as newuidmap
does, and builds the map for the default one line, --map-auto (the first
range, or all of them), --map-users/--map-groups INNER:OUTER:COUNT and
--map-user/--map-group (which inner id the caller's own id becomes). It
checks a map as the kernel will (user_namespaces(7), kernel/user_namespace.c
map_write) and, for a caller who is not root, as newuidmap/newgidmap will,
so that a bad map is one clear line before any namespace exists.

Terms: a map line "INNER OUTER COUNT" makes ids INNER..INNER+COUNT-1 inside
the namespace stand for OUTER..OUTER+COUNT-1 outside (on the host). The
caller's own id is the real uid (gid) unc runs with.
"""

import os

from core import Fail

UID, GID = "uid", "gid"
SUBID_FILES = {UID: "/etc/subuid", GID: "/etc/subgid"}
MAP_OPTIONS = {UID: "--map-users", GID: "--map-groups"}
SELF_OPTIONS = {UID: "--map-user", GID: "--map-group"}

# The kernel keeps ids as u32 and reserves (u32)-1 as "no id": a line's
# start may not be 4294967295 and start+count may not pass it (map_write
# refuses a range that wraps). So every id is below ID_END, and a range
# ends (exclusive) at ID_END at most.
ID_END = 2**32 - 1
# Lines a map may have: 340 since Linux 4.15, 5 before (UID_GID_MAP_MAX_EXTENTS).
MAX_LINES = 340
MAX_LINES_BEFORE_4_15 = 5
# Subordinate ranges start here by default (login.defs SUB_UID_MIN), one
# 65536 block per user.
SUB_MIN, SUB_BLOCK = 100000, 65536


class Extent(tuple):
    """One map line: `count` ids from `inner` inside are `outer`... outside."""

    __slots__ = ()

    def __new__(cls, inner, outer, count):
        return tuple.__new__(cls, (inner, outer, count))

    inner = property(lambda self: self[0])
    outer = property(lambda self: self[1])
    count = property(lambda self: self[2])

    def line(self):
        return f"{self[0]} {self[1]} {self[2]}\n"

    def __repr__(self):
        return f"Extent({self[0]}, {self[1]}, {self[2]})"


class SubRange(tuple):
    """One line of /etc/subuid or /etc/subgid: `owner` (a user name or a
    uid, as written) may use `count` host ids from `start`."""

    __slots__ = ()

    def __new__(cls, owner, start, count, lineno=0):
        return tuple.__new__(cls, (owner, start, count, lineno))

    owner = property(lambda self: self[0])
    start = property(lambda self: self[1])
    count = property(lambda self: self[2])
    lineno = property(lambda self: self[3])
    end = property(lambda self: self[1] + self[2])

    def __repr__(self):
        return f"SubRange({self[0]!r}, {self[1]}, {self[2]}, {self[3]})"


def _number(text):
    """A decimal number as the files and options write it: ASCII digits only
    (int() would take "+1", " 1", "1_0" and other scripts' digits)."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


# ------------------------------------------------------------ the files

def parse_subids(text):
    """The entries of a subuid/subgid file's `text`, in file order.

    Like shadow's parser (lib/subordinateio.c), a line that is not exactly
    NAME:START:COUNT with numbers in range is skipped, not an error:
    newuidmap ignores it too. Blank lines and # comments are skipped."""
    entries = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 3 or not fields[0]:
            continue
        try:
            start, count = _number(fields[1]), _number(fields[2])
        except ValueError:
            continue
        if count == 0 or start + count > ID_END:
            continue
        entries.append(SubRange(fields[0], start, count, lineno))
    return entries


def read_subids(path):
    """The entries of the file at `path`; none when it does not exist.

    Another failure to read it is an Fail: newuidmap would fail too."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 24)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise Fail(f"cannot read {path}: {e.strerror}")
    return parse_subids(data.decode("utf-8", "surrogateescape"))


def ranges_of(entries, user, uid):
    """The (start, count) ranges granted to the user named `user` (None if
    the host has no name for the uid) with uid `uid`, in file order.

    newuidmap matches an owner by name first, then by uid written as a
    number. subgid lines name the *user* too, not a group."""
    owners = {str(uid)} | ({user} if user else set())
    return [(e.start, e.count) for e in entries if e.owner in owners]


def granted(ranges, outer, count):
    """Whether host ids outer..outer+count-1 all lie in `ranges`. Adjacent
    ranges chain, as in shadow's have_range()."""
    end = outer + count
    while outer < end:
        for start, n in ranges:
            if start <= outer < start + n:
                outer = start + n
                break
        else:
            return False
    return True


def merged(ranges):
    """`ranges` as sorted, disjoint (start, count) pairs: duplicates (a line by
    name and one by uid) and adjacent ranges joined, for messages."""
    out = []
    for start, count in sorted(ranges):
        if out and start <= out[-1][0] + out[-1][1]:
            last_start, last_count = out[-1]
            out[-1] = (last_start, max(last_count, start + count - last_start))
        else:
            out.append((start, count))
    return out


def suggest_range(entries):
    """A START-END range (inclusive) not used by any entry, for the message
    that tells an administrator how to add one: the first 65536 block from
    100000 above every existing range."""
    top = max([e.end for e in entries] + [SUB_MIN])
    start = SUB_MIN + -(-(top - SUB_MIN) // SUB_BLOCK) * SUB_BLOCK
    return start, start + SUB_BLOCK - 1


def no_range_message(kind, user, uid, path, entries=()):
    """What to say when `user` has no range in `path` (subuid or subgid)."""
    who = user or str(uid)
    start, last = suggest_range(entries)
    where = f"{path} does not exist" if not os.path.exists(path) else \
        f"{path} has no range for {who}"
    return (f"{where}: it needs a line NAME:START:COUNT such as "
            f"{who}:{start}:{last - start + 1}; as root: usermod --add-subuids "
            f"{start}-{last} --add-subgids {start}-{last} {who}")


# ------------------------------------------------------------ the options

def parse_spec(text, option="--map-users"):
    """An Extent from INNER:OUTER:COUNT, the value of --map-users/--map-groups."""
    fields = text.split(":")
    try:
        if len(fields) != 3:
            raise ValueError(text)
        inner, outer, count = (_number(f) for f in fields)
    except ValueError:
        raise Fail(f"{option}={text}: expected INNER:OUTER:COUNT, three "
                         "numbers such as 1:100000:65536 (inside, on the host, how many)")
    if count == 0:
        raise Fail(f"{option}={text}: COUNT must be 1 or more")
    for name, first in (("INNER", inner), ("OUTER", outer)):
        if first + count > ID_END:
            raise Fail(f"{option}={text}: {name}+COUNT passes {ID_END}, "
                             f"the largest id is {ID_END - 1}")
    return Extent(inner, outer, count)


def parse_id(text, option="--map-user"):
    """The inner id of --map-user/--map-group."""
    try:
        value = _number(text)
    except ValueError:
        raise Fail(f"{option}={text}: expected a number, the id you have "
                         "inside (such as 1000)")
    if value >= ID_END:
        raise Fail(f"{option}={text}: the largest id is {ID_END - 1}")
    return value


def max_lines(release=None):
    """How many lines this kernel takes in a map (5 before Linux 4.15)."""
    version = []
    for part in (release or os.uname().release).split(".")[:2]:
        digits = ""
        for c in part:
            if not c.isdigit():
                break
            digits += c
        version.append(int(digits or 0))
    return MAX_LINES if tuple(version) >= (4, 15) else MAX_LINES_BEFORE_4_15


def map_text(extents):
    """What goes into /proc/PID/uid_map: one line per extent."""
    return "".join(e.line() for e in extents)


def helper_args(extents):
    """newuidmap/newgidmap's arguments after the pid: INNER OUTER COUNT..."""
    return [str(n) for e in extents for n in e]


def _ids(kind, first, count):
    return f"{kind}s {first}-{first + count - 1}" if count > 1 else f"{kind} {first}"


def check(extents, kind=UID, labels=None, limit=None, page_size=None):
    """Refuse what the kernel would refuse with a bare EINVAL (map_write):
    an empty map, a zero or wrapping range, more lines than it takes, a text
    of a page or more, and ranges that overlap inside or on the host (each
    id must map both ways to exactly one other). `labels` names where each
    extent came from, for the message."""
    labels = labels or [f"{e[0]}:{e[1]}:{e[2]}" for e in extents]
    if not extents:
        raise Fail(f"the {kind} map is empty")
    for e, label in zip(extents, labels):
        if e.count < 1 or e.inner + e.count > ID_END or e.outer + e.count > ID_END:
            raise Fail(f"{label}: the {kind} range must hold 1 or more ids "
                             f"below {ID_END}")
    limit = limit or max_lines()
    if len(extents) > limit:
        raise Fail(f"the {kind} map has {len(extents)} ranges; the kernel takes "
                         f"at most {limit} lines in {kind}_map (340 since Linux 4.15, "
                         "5 before)")
    page_size = page_size or os.sysconf("SC_PAGE_SIZE")
    size = len(map_text(extents))
    if size >= page_size:
        raise Fail(f"the {kind} map is {size} bytes; the kernel takes less than "
                         f"{page_size} ({kind}_map is written at once, one page at most)")
    for side, where in ((0, "inside the container"), (1, "on the host")):
        order = sorted(range(len(extents)), key=lambda i: extents[i][side])
        for a, b in zip(order, order[1:]):
            first_a, first_b = extents[a][side], extents[b][side]
            if first_b < first_a + extents[a].count:
                last = min(first_a + extents[a].count, first_b + extents[b].count)
                raise Fail(
                    f"{labels[a]} and {labels[b]} overlap {where} "
                    f"({_ids(kind, first_b, last - first_b)}): each id may be "
                    "mapped once")


class IdMap:
    """The planned uid or gid map of one run.

    kind        "uid" or "gid"
    extents     the Extents, sorted by inner id
    own_id      the caller's own (real) id on the host
    privileged  the caller is root and writes the maps itself
    subordinate whether any extent uses the caller's subordinate ranges;
                for gid: newgidmap then leaves setgroups allowed
    """

    def __init__(self, kind, extents, own_id, privileged=False, subordinate=False):
        self.kind = kind
        self.extents = sorted(extents)
        self.own_id = own_id
        self.privileged = privileged
        self.subordinate = subordinate

    def __repr__(self):
        return f"IdMap({self.kind}, {self.extents!r})"

    def text(self):
        return map_text(self.extents)

    def args(self):
        return helper_args(self.extents)

    @property
    def own_only(self):
        """One line mapping the caller's own id once: the map an unprivileged
        process may write itself, with no helper (user_namespaces(7))."""
        return (len(self.extents) == 1 and self.extents[0].count == 1
                and self.extents[0].outer == self.own_id)

    def outer_of(self, inner):
        """The host id of inner id `inner`, or None when it is not mapped."""
        for e in self.extents:
            if e.inner <= inner < e.inner + e.count:
                return e.outer + inner - e.inner
        return None

    def inner_of(self, outer):
        """The inner id of host id `outer`, or None (then it shows as the
        overflow id, 65534 "nobody", inside)."""
        for e in self.extents:
            if e.outer <= outer < e.outer + e.count:
                return e.inner + outer - e.outer
        return None

    def maps(self, inner):
        return self.outer_of(inner) is not None

    def describe(self):
        """The inner ids this map covers, for messages: "uids 0-65536"."""
        return ", ".join(_ids(self.kind, e.inner, e.count) for e in self.extents)


def unmapped_message(kind, inner, idmap, what=None):
    """Why setuid/setgid to inner id `inner` fails with EINVAL, and what to do."""
    what = what or f"{kind} {inner}"
    return (f"{what} is not mapped in the container (its {kind} map covers "
            f"{idmap.describe()}): use --map-auto with a range large enough, or "
            f"{MAP_OPTIONS[kind]}={inner}:OUTER:1")


def _layout(own_id, ranges, inner_self):
    """--map-auto: the caller's own id at inner `inner_self`, the ranges at
    the other inner ids from 0 up (Podman's keep-id layout for inner_self
    other than 0). A host id may appear once: parts of a range that an
    earlier range or the own id already cover are left out."""
    used = [(own_id, 1)]
    pieces = []
    for start, count in ranges:
        # Cut [start, start+count) by what is used already.
        todo = [(start, start + count)]
        for u_start, u_count in used:
            u_end = u_start + u_count
            todo = [part for lo, hi in todo
                    for part in ((lo, min(hi, u_start)), (max(lo, u_end), hi))
                    if part[0] < part[1]]
        for lo, hi in sorted(todo):
            pieces.append((lo, hi - lo))
            used.append((lo, hi - lo))
    extents = [Extent(inner_self, own_id, 1)]
    inner = 0
    for outer, count in pieces:
        while count:
            if inner == inner_self:
                inner += 1
                continue
            n = count if inner > inner_self else min(count, inner_self - inner)
            n = min(n, ID_END - inner)
            if n <= 0:
                return extents           # no inner ids left; the kernel's limit
            extents.append(Extent(inner, outer, n))
            inner, outer, count = inner + n, outer + n, count - n
    return extents


def plan(kind, own_id, user=None, *, privileged=False, auto=False, all_ranges=False,
         specs=(), inner_self=None, subid_path=None, entries=None, limit=None):
    """The map of `kind` ("uid" or "gid") for one run.

    own_id      the caller's real uid or gid (os.getuid()/os.getgid())
    user        the caller's user name on the host (None if it has none);
                subgid lines name the user too
    privileged  the caller is root (euid 0): no newuidmap, no subordinate
                check on explicit ranges
    auto        --map-auto: own id at inner 0 (or inner_self), then the
                caller's first subordinate range (all_ranges: every range)
    specs       --map-users/--map-groups values ("INNER:OUTER:COUNT"
                strings, or Extents): exactly these ranges, plus the own id
                at inner_self when that is given. They take precedence over
                auto for this kind (--map-auto --map-groups=...: uids auto,
                gids as given)
    inner_self  --map-user/--map-group: the inner id the own id becomes.
                Without specs it implies auto, as Podman's keep-id: inner 0
                must still be somebody, from the subordinate range
    subid_path  the subordinate file (default /etc/subuid or /etc/subgid)
    entries     its parsed entries (tests); read from subid_path otherwise
    limit       lines the kernel takes (default: from the running kernel)

    Nothing asked: the one line "0 OWN 1", which any user may write.
    Raises Fail with the line for the user.
    """
    path = subid_path or SUBID_FILES[kind]
    map_option, self_option = MAP_OPTIONS[kind], SELF_OPTIONS[kind]
    if inner_self is not None and not isinstance(inner_self, int):
        inner_self = parse_id(inner_self, self_option)
    if inner_self is not None and inner_self >= ID_END:
        raise Fail(f"{self_option}={inner_self}: the largest id is {ID_END - 1}")
    who = f"your own {kind} {own_id}"

    def subordinate_ranges():
        nonlocal entries
        if entries is None:
            entries = read_subids(path)
        return ranges_of(entries, user, own_id)

    if specs:
        extents, labels = [], []
        for spec in specs:
            e = spec if isinstance(spec, Extent) else parse_spec(spec, map_option)
            extents.append(e)
            labels.append(f"{map_option}={e[0]}:{e[1]}:{e[2]}")
        if inner_self is not None:
            extents.append(Extent(inner_self, own_id, 1))
            labels.append(f"{self_option}={inner_self} ({who})")
            if inner_self != 0 and not any(e.inner <= 0 < e.inner + e.count
                                           for e in extents):
                raise Fail(
                    f"{self_option}={inner_self}: inner {kind} 0 (root) must be mapped "
                    f"too: add {map_option}=0:OUTER:COUNT from your subordinate range")
        check(extents, kind, labels, limit)
        subordinate = False
        if not privileged:
            ranges = subordinate_ranges()
            for e, label in zip(extents, labels):
                if e.count == 1 and e.outer == own_id:
                    continue     # newuidmap lets anybody map their own id once
                if not ranges:
                    raise Fail(f"{label}: host {_ids(kind, e.outer, e.count)} are "
                                     "not yours; " + no_range_message(
                                         kind, user, own_id, path, entries))
                if not granted(ranges, e.outer, e.count):
                    mine = ", ".join(f"{s}-{s + n - 1}" for s, n in merged(ranges))
                    raise Fail(
                        f"{label}: host {_ids(kind, e.outer, e.count)} are not all "
                        f"yours: {path} grants {user or own_id} {kind}s {mine} "
                        "(lines NAME:START:COUNT); ask root for more")
                subordinate = True
        else:
            subordinate = any(not (e.count == 1 and e.outer == own_id) for e in extents)
        return IdMap(kind, extents, own_id, privileged, subordinate)

    if auto or inner_self is not None:
        ranges = subordinate_ranges()
        why = "--map-auto" if auto else f"{self_option}={inner_self}"
        if not ranges:
            raise Fail(f"{why} needs subordinate {kind}s: "
                             + no_range_message(kind, user, own_id, path, entries))
        extents = _layout(own_id, ranges if all_ranges else ranges[:1],
                          inner_self or 0)
        if len(extents) == 1:
            raise Fail(f"{why}: the range for {user or own_id} in {path} "
                             f"holds only {who}; it needs other ids")
        labels = [f"{path} range {e.outer}-{e.outer + e.count - 1}" for e in extents]
        labels[0] = who
        check(extents, kind, labels, limit)
        return IdMap(kind, extents, own_id, privileged, subordinate=True)

    return IdMap(kind, [Extent(0, own_id, 1)], own_id, privileged, subordinate=False)
