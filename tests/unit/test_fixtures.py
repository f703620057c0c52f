"""tests/mkdebrepo: the local apt repository the Debian tests install from.

(tests/mkdebian takes a minute the first time and needs the network: it is
checked by the end-to-end tests that use it, not here.)
"""

import hashlib
import os
import shutil
import subprocess

import pytest

REPO_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "mkdebrepo")

pytestmark = pytest.mark.skipif(
    not shutil.which("dpkg-deb") or (os.geteuid() != 0 and not shutil.which("fakeroot")),
    reason="needs dpkg-deb, and root or fakeroot")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("repo") / "repo"
    subprocess.run([REPO_SCRIPT, str(path)], check=True)
    return path


def owners(deb):
    """{path: "uid/gid mode"} of a .deb's files, as dpkg will give them."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                         capture_output=True).stdout
    listing = subprocess.run(["tar", "tv", "--numeric-owner"], input=tar, check=True,
                             capture_output=True).stdout.decode()
    return {line.split()[-1]: f"{line.split()[1]} {line.split()[0]}"
            for line in listing.splitlines()}


def test_files_have_several_owners(repo):
    files = owners(repo / "unc-test-owners_1.0_all.deb")
    prefix = "./var/lib/unc-test-owners/"
    assert files[prefix + "daemon-file"] == "1/1 -rw-r-----"
    assert files[prefix + "games/score"] == "5/60 -rw-r--r--"
    assert files[prefix + "mail-spool/"] == "0/8 drwxrwsr-x"
    assert files[prefix + "nobody-file"] == "65534/65534 -rw-r--r--"
    assert files["./usr/share/unc-test-owners/root-file"] == "0/0 -rw-r--r--"


def test_daemon_package_has_its_scripts(repo):
    deb = repo / "unc-test-daemon_1.0_all.deb"
    postinst = subprocess.run(["dpkg-deb", "-I", str(deb), "postinst"], check=True,
                              capture_output=True, text=True).stdout
    assert "useradd --system" in postinst and "chown -R unc-testd:unc-testd" in postinst
    assert "setpriv --reuid=unc-testd --regid=unc-testd --init-groups" in postinst


def test_index_matches_the_packages(repo):
    packages = (repo / "Packages").read_text()
    stanzas = [s for s in packages.split("\n\n") if s.strip()]
    assert len(stanzas) == 2
    for stanza in stanzas:
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if not line.startswith(" "))
        data = (repo / fields["Filename"]).read_bytes()
        assert int(fields["Size"]) == len(data)
        assert fields["SHA256"] == hashlib.sha256(data).hexdigest()
        assert fields["MD5sum"] == hashlib.md5(data).hexdigest()
    release = (repo / "Release").read_text()
    data = (repo / "Packages").read_bytes()
    assert f" {hashlib.sha256(data).hexdigest()} {len(data)} Packages" in release


def test_repo_is_world_readable(repo):
    for top, dirs, files in os.walk(repo):
        for name in dirs + files:
            assert os.stat(os.path.join(top, name)).st_mode & 0o004
