"""identity/subids.py: subordinate id files, map options, the kernel's rules."""

import pytest

from core import Fail
from hypothesis import given, settings, strategies as st

from identity import subids
from identity.subids import Extent, SubRange, plan

SUBUID = """\
# a comment, then a blank line

alice:100000:65536
1000:100000:65536
bob:165536:65536
alice:300000:10
broken line
carol:x:10
dave:5:0
erin:4294967290:10
:1:1
"""


def entries():
    return subids.parse_subids(SUBUID)


# ------------------------------------------------------------ the files

def test_parse_skips_what_newuidmap_skips():
    assert entries() == [
        SubRange("alice", 100000, 65536, 3),
        SubRange("1000", 100000, 65536, 4),
        SubRange("bob", 165536, 65536, 5),
        SubRange("alice", 300000, 10, 6),
    ]


def test_parse_takes_only_ascii_digits():
    assert subids.parse_subids("a:+1:5\na: 1:5\na:1_0:5\na:\u0661:5\na:1:5\n") == \
        [SubRange("a", 1, 5, 5)]


def test_read_missing_file_is_empty(tmp_path):
    assert subids.read_subids(tmp_path / "nope") == []


def test_read_file(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536\n")
    assert subids.read_subids(path) == [SubRange("alice", 100000, 65536, 1)]


def test_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(Fail, match=r"cannot read .*: Is a directory"):
        subids.read_subids(tmp_path)


def test_ranges_by_name_and_by_uid():
    assert subids.ranges_of(entries(), "alice", 1000) == \
        [(100000, 65536), (100000, 65536), (300000, 10)]
    assert subids.ranges_of(entries(), None, 1000) == [(100000, 65536)]
    assert subids.ranges_of(entries(), "bob", 1001) == [(165536, 65536)]
    assert subids.ranges_of(entries(), "zed", 7) == []


def test_granted_chains_adjacent_ranges():
    ranges = [(100000, 10), (100010, 10), (200000, 5)]
    assert subids.granted(ranges, 100000, 20)
    assert subids.granted(ranges, 100005, 10)
    assert not subids.granted(ranges, 100005, 16)
    assert not subids.granted(ranges, 99999, 2)
    assert subids.granted(ranges, 200004, 1)
    assert not subids.granted(ranges, 200004, 2)


def test_suggested_range_is_free():
    assert subids.suggest_range([]) == (100000, 165535)
    assert subids.suggest_range(entries()) == (362144, 427679)
    assert subids.suggest_range([SubRange("a", 100000, 65536)]) == (165536, 231071)


def test_no_range_message_names_file_format_and_fix(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("")
    text = subids.no_range_message("uid", "alice", 1000, str(path))
    assert text == (f"{path} has no range for alice: it needs a line NAME:START:COUNT "
                    "such as alice:100000:65536; as root: usermod --add-subuids "
                    "100000-165535 --add-subgids 100000-165535 alice")
    assert f"{tmp_path}/none does not exist" in \
        subids.no_range_message("uid", "alice", 1000, str(tmp_path / "none"))


# ------------------------------------------------------------ the options

@pytest.mark.parametrize("text, extent", [
    ("0:100000:65536", Extent(0, 100000, 65536)),
    ("1000:1000:1", Extent(1000, 1000, 1)),
    ("4294967294:0:1", Extent(4294967294, 0, 1)),
])
def test_parse_spec(text, extent):
    assert subids.parse_spec(text) == extent


@pytest.mark.parametrize("text, words", [
    ("", "expected INNER:OUTER:COUNT"),
    ("1:2", "expected INNER:OUTER:COUNT"),
    ("1:2:3:4", "expected INNER:OUTER:COUNT"),
    ("a:2:3", "expected INNER:OUTER:COUNT"),
    ("-1:2:3", "expected INNER:OUTER:COUNT"),
    (" 1:2:3", "expected INNER:OUTER:COUNT"),
    ("1:2:0", "COUNT must be 1 or more"),
    ("4294967295:0:1", "INNER+COUNT passes 4294967295"),
    ("0:4294967290:10", "OUTER+COUNT passes 4294967295"),
])
def test_bad_spec_is_one_clear_line(text, words):
    with pytest.raises(Fail) as e:
        subids.parse_spec(text, "--map-groups")
    assert str(e.value).startswith(f"--map-groups={text}: ")
    assert words in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["", "x", "-1", "4294967295", "1e3"])
def test_bad_inner_self(text):
    with pytest.raises(Fail, match="--map-user="):
        subids.parse_id(text)


@pytest.mark.parametrize("release, lines", [
    ("6.18.44-fc-v1045", 340), ("4.15.0", 340), ("4.14.336", 5), ("3.10.0-1160.el7", 5),
    ("5.4", 340), ("4.15-rc1", 340),
])
def test_max_lines_by_kernel(release, lines):
    assert subids.max_lines(release) == lines


def test_map_text_and_helper_args():
    extents = [Extent(0, 1000, 1), Extent(1, 100000, 65536)]
    assert subids.map_text(extents) == "0 1000 1\n1 100000 65536\n"
    assert subids.helper_args(extents) == ["0", "1000", "1", "1", "100000", "65536"]


# ------------------------------------------------------------ kernel rules

def test_check_refuses_inner_overlap():
    with pytest.raises(Fail, match=r"overlap inside the container \(uids 5-9\)"):
        subids.check([Extent(0, 100, 10), Extent(5, 200, 10)])


def test_check_refuses_outer_overlap():
    with pytest.raises(Fail, match=r"overlap on the host \(gid 109\)"):
        subids.check([Extent(0, 100, 10), Extent(20, 109, 10)], "gid")


def test_check_line_limit():
    extents = [Extent(i, i, 1) for i in range(6)]
    subids.check(extents, limit=340)
    with pytest.raises(Fail, match="at most 5 lines in uid_map"):
        subids.check(extents, limit=5)
    with pytest.raises(Fail, match="341 ranges"):
        subids.check([Extent(i, i, 1) for i in range(341)], limit=340)


def test_check_page_size():
    # 170 lines of 24 bytes: 4080 bytes, under a 4096-byte page.
    extents = [Extent(10**9 + 2 * i, 10**9 + 2 * i, 1) for i in range(170)]
    subids.check(extents, limit=340, page_size=4096)
    with pytest.raises(Fail, match="4104 bytes"):
        subids.check(extents + [Extent(2 * 10**9, 2 * 10**9, 1)], limit=340,
                     page_size=4096)


def test_check_refuses_empty_and_wrapping():
    with pytest.raises(Fail, match="empty"):
        subids.check([])
    with pytest.raises(Fail, match="below 4294967295"):
        subids.check([Extent(4294967294, 0, 2)])
    with pytest.raises(Fail, match="below 4294967295"):
        subids.check([Extent(0, 0, 0)])


extent_st = st.builds(Extent, st.integers(0, 300), st.integers(0, 300), st.integers(1, 50))


@given(st.lists(extent_st, min_size=1, max_size=8))
@settings(max_examples=300)
def test_check_accepts_exactly_the_maps_that_map_each_id_once(extents):
    """The overlap rule against a brute-force model: every inner id and
    every outer id may appear in one extent only."""
    inner = [i for e in extents for i in range(e.inner, e.inner + e.count)]
    outer = [o for e in extents for o in range(e.outer, e.outer + e.count)]
    once = len(inner) == len(set(inner)) and len(outer) == len(set(outer))
    try:
        subids.check(extents, limit=340, page_size=4096)
        accepted = True
    except Fail:
        accepted = False
    assert accepted == once


@given(st.lists(extent_st, min_size=1, max_size=8))
def test_spec_text_round_trip(extents):
    for e in extents:
        assert subids.parse_spec(f"{e.inner}:{e.outer}:{e.count}") == e


# ------------------------------------------------------------ plan

def test_default_is_the_one_line_anyone_may_write():
    m = plan("uid", 1000, "alice", entries=[])
    assert m.text() == "0 1000 1\n"
    assert m.own_only and not m.subordinate


def test_root_default_maps_root():
    assert plan("uid", 0, "root", privileged=True, entries=[]).text() == "0 0 1\n"


def test_map_auto_first_range():
    m = plan("uid", 1000, "alice", auto=True, entries=entries())
    assert m.extents == [Extent(0, 1000, 1), Extent(1, 100000, 65536)]
    assert m.args() == ["0", "1000", "1", "1", "100000", "65536"]
    assert m.subordinate and not m.own_only


def test_map_auto_matches_by_uid():
    m = plan("gid", 1000, None, auto=True, entries=entries())
    assert m.extents == [Extent(0, 1000, 1), Extent(1, 100000, 65536)]


def test_map_auto_all_ranges_skips_duplicates():
    m = plan("uid", 1000, "alice", auto=True, all_ranges=True, entries=entries())
    assert m.extents == [Extent(0, 1000, 1), Extent(1, 100000, 65536),
                         Extent(65537, 300000, 10)]


def test_map_auto_leaves_out_the_own_id():
    """A range that holds the caller's own id (root's 0:...) cannot map it
    twice on the host side."""
    m = plan("uid", 0, "root", privileged=True, auto=True,
             entries=[SubRange("root", 0, 10)])
    assert m.extents == [Extent(0, 0, 1), Extent(1, 1, 9)]


def test_map_auto_without_range_names_file_and_fix():
    with pytest.raises(Fail) as e:
        plan("uid", 1001, "zed", auto=True, entries=entries(), subid_path="/etc/subuid")
    text = str(e.value)
    assert text.startswith("--map-auto needs subordinate uids: /etc/subuid ")
    assert "zed:362144:65536" in text and "usermod --add-subuids 362144-427679" in text


def test_map_auto_without_file(tmp_path):
    with pytest.raises(Fail, match="does not exist: it needs a line NAME:START:COUNT "
                       "such as alice:100000:65536"):
        plan("uid", 1000, "alice", auto=True, subid_path=str(tmp_path / "subuid"))


def test_map_auto_reads_the_file(tmp_path):
    path = tmp_path / "subgid"
    path.write_text("alice:200000:1000\n")
    m = plan("gid", 1000, "alice", auto=True, subid_path=str(path))
    assert m.text() == "0 1000 1\n1 200000 1000\n"


def test_keep_id_layout():
    """--map-user=1000: Podman's keep-id: inner 0-999 and 1001- from the
    range, inner 1000 the caller."""
    m = plan("uid", 1234, "alice", inner_self="1000", entries=entries())
    assert m.extents == [Extent(0, 100000, 1000), Extent(1000, 1234, 1),
                         Extent(1001, 101000, 64536)]
    assert m.outer_of(0) == 100000 and m.outer_of(1000) == 1234
    assert m.inner_of(1234) == 1000 and m.inner_of(165535) == 65536
    assert m.outer_of(65537) is None


def test_keep_id_beyond_the_range():
    m = plan("uid", 1000, "alice", inner_self=100000, entries=[SubRange("alice", 5000, 10)])
    assert m.extents == [Extent(0, 5000, 10), Extent(100000, 1000, 1)]


def test_explicit_specs_checked_against_subordinate_ranges():
    m = plan("uid", 1000, "alice", specs=["0:1000:1", "1:100000:65536", "65537:300000:10"],
             entries=entries())
    assert m.text() == "0 1000 1\n1 100000 65536\n65537 300000 10\n"
    assert m.subordinate


def test_explicit_spec_outside_ranges_names_the_file():
    with pytest.raises(Fail) as e:
        plan("uid", 1000, "alice", specs=["0:165536:10"], entries=entries())
    assert str(e.value) == (
        "--map-users=0:165536:10: host uids 165536-165545 are not all yours: "
        "/etc/subuid grants alice uids 100000-165535, 300000-300009 "
        "(lines NAME:START:COUNT); ask root for more")


def test_explicit_spec_without_any_range(tmp_path):
    path = tmp_path / "subgid"
    path.write_text(SUBUID)
    with pytest.raises(Fail, match="host gids 5-9 are not yours; .*subgid has no "
                       "range for zed: it needs a line"):
        plan("gid", 7, "zed", specs=["0:5:5"], subid_path=str(path))


def test_explicit_own_id_needs_no_range():
    m = plan("gid", 1000, "zed", specs=["5:1000:1"], entries=[])
    assert m.own_only and not m.subordinate


def test_root_may_map_anything():
    m = plan("uid", 0, "root", privileged=True, specs=["0:500000:10"], entries=[])
    assert m.text() == "0 500000 10\n"


def test_explicit_with_inner_self():
    m = plan("uid", 1000, "alice", specs=["0:100000:1000"], inner_self=1000,
             entries=entries())
    assert m.extents == [Extent(0, 100000, 1000), Extent(1000, 1000, 1)]


def test_inner_self_needs_root_mapped():
    with pytest.raises(Fail, match="inner uid 0 \\(root\\) must be mapped too"):
        plan("uid", 1000, "alice", specs=["1:100000:10"], inner_self=1000,
             entries=entries())


def test_inner_self_clashing_with_a_spec():
    with pytest.raises(Fail) as e:
        plan("uid", 1000, "alice", specs=["0:100000:2000"], inner_self=1000,
             entries=entries())
    assert str(e.value) == ("--map-users=0:100000:2000 and --map-user=1000 (your own uid "
                            "1000) overlap inside the container (uid 1000): each id may "
                            "be mapped once")


def test_spec_mapping_own_id_twice():
    with pytest.raises(Fail, match="overlap on the host \\(uid 1000\\)"):
        plan("uid", 1000, "alice", specs=["0:1000:1", "5:1000:1"], entries=entries())


def test_unmapped_message():
    m = plan("uid", 1000, "alice", entries=[])
    assert subids.unmapped_message("uid", 999, m, "user _apt (uid 42)") == (
        "user _apt (uid 42) is not mapped in the container (its uid map covers uid 0): "
        "use --map-auto with a range large enough, or --map-users=999:OUTER:1")


@given(st.integers(0, 70000), st.lists(st.tuples(st.integers(1, 400000),
                                                 st.integers(1, 70000)),
                                       min_size=1, max_size=5),
       st.integers(0, 2000))
@settings(max_examples=200)
def test_auto_layout_is_always_a_valid_map(inner_self, ranges, own):
    """Whatever the file holds (duplicates, overlaps, the own id inside a
    range), --map-auto gives a map the kernel accepts, with the own id at
    inner_self and only subordinate ids elsewhere."""
    entries = [SubRange("alice", s, n) for s, n in ranges]
    try:
        m = plan("uid", own, "alice", auto=True, all_ranges=True, inner_self=inner_self,
                 entries=entries, limit=340)
    except Fail as e:
        assert "holds only your own" in str(e) or "lines in uid_map" in str(e)
        return
    subids.check(m.extents, limit=340)
    assert m.outer_of(inner_self) == own
    for e in m.extents:
        if e.inner != inner_self:
            assert subids.granted(ranges, e.outer, e.count)
    # Inner ids are dense from 0: no holes below the highest mapped id
    # except when the own id sits beyond the ranges.
    total = sum(e.count for e in m.extents)
    if inner_self < total:
        assert all(m.maps(i) for i in (0, total - 1))
