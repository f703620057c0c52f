"""README.md says what the code and the build do."""

import os
import re

import pytest

TOP = os.path.join(os.path.dirname(__file__), "..", "..")


def readme():
    with open(os.path.join(TOP, "README.md")) as f:
        return f.read()


def test_every_server_example_runs_with_init():
    # httpd as PID 1 has no handlers: Ctrl-C and Ctrl-\\ would not stop it.
    servers = [line for line in readme().splitlines() if "httpd" in line and "unc " in line]
    assert servers
    assert all("--init" in line for line in servers), servers


def test_the_binary_size_is_the_built_one():
    path = os.path.join(TOP, "dist", "unc")
    if not os.path.exists(path):
        pytest.skip("dist/unc is not built")
    stated = float(re.search(r"in the ([0-9.]+) MB binary", readme()).group(1))
    assert round(os.path.getsize(path) / 1e6, 1) == stated


def test_the_suites_subuid_range_is_said_to_serve_map_auto():
    text = " ".join(readme().split())
    assert "which the `--map-auto` tests use" in text
