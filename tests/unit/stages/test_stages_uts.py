"""Stage uts: the hostname, checked before anything starts."""

import pytest
from hypothesis import given, strategies as st

from core import Fail
from stages import uts


@pytest.mark.parametrize("name", ["unc", "a", "box-1.example.org", "x" * 64, "A9"])
def test_valid_hostnames(name):
    assert uts.valid_hostname(name)


@pytest.mark.parametrize("name", ["", "x" * 65, "-a", "a-", ".a", "a.", "a..b",
                                  "a_b", "a b", "a\nb", "é", "a\udcff"])
def test_invalid_hostnames(name):
    assert not uts.valid_hostname(name)


@given(st.text(max_size=80))
def test_hostname_check_never_accepts_what_the_kernel_would_refuse(name):
    if uts.valid_hostname(name):
        assert 0 < len(name.encode()) <= 64
        assert name.isascii() and "\0" not in name and "/" not in name


def test_invalid_hostname_is_a_125_failure(prepared):
    run, me = prepared("--stage=uts", "--hostname=bad name")
    with pytest.raises(Fail) as e:
        uts.prepare(run, me)
    assert e.value.status == 125
    assert "invalid --hostname 'bad name'" in str(e.value)


def test_the_hostname_is_unc_unless_given(prepared):
    run, me = prepared("--stage=uts")
    uts.prepare(run, me)
    assert me.hostname == "unc"
    run, me = prepared("--stage=uts", "--hostname=box")
    uts.prepare(run, me)
    assert me.hostname == "box"
