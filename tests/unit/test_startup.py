"""What a start imports: every module costs time on every container start
(bench/README.md), so the start-up path imports only what the run needs.

Each check runs in a fresh interpreter started as dist/unc runs unc: -S
(no site module, which imports re itself in a virtualenv) and -I, the
stand-ins of core/docopt_fast.py installed first, and, where said, as the
frozen build (sys.frozen), which reads its usage text from usage_built.py
instead of composing it from every stage."""

import ast
import os
import subprocess
import sys

import docopt
import pytest

from core import cli, docopt_fast

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SITE = os.path.dirname(os.path.dirname(docopt.__file__))

# Modules a plain start must not load (the stand-ins for re and typing are
# not the real modules: those have a __file__).
COSTLY = ("re", "typing", "enum", "collections", "socket", "json")
BACKENDS = ("network.slirp4netns", "network.pasta", "network.bridge", "network.forwarder")
# Imported only when an option asks for what they do: a mode with a helper,
# -v or --tmpfs.
ON_DEMAND = ("network.host", "network.ports", "network.dns", "network.helpers",
             "mounts.options",
             # The seccomp compiler: the default filter is built with unc.
             "security.seccomp", "security.syscalls", "security.limits")

PRELUDE = (
    "import sys\n"
    "sys.path[:0] = [{built!r}, {root!r}, {site!r}]\n"
    "sys.frozen = {frozen!r}\n"
    "from core import docopt_fast\n"
    "docopt_fast.install()\n"
)

# Measured before anything is imported to print it.
REPORT = (
    "real = sorted(m for m in sys.modules if '__file__' in vars(sys.modules[m] or sys))\n"
    "print(repr(real))\n"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A directory with usage_built.py, as build.sh writes it; and the
    default seccomp filter, compiled as build.sh does, where no build has."""
    path = tmp_path_factory.mktemp("built")
    docopt_fast.write(cli.usage(), str(path / "usage_built.py"))
    filters = os.path.join(ROOT, "security", "filter_built.py")
    if not os.path.exists(filters):
        from security import seccomp
        seccomp.write_built(filters)
    return str(path)


def loaded(built, code, frozen=True, prelude=True):
    """The modules (with a file: not the stand-ins) loaded after `code`."""
    head = PRELUDE.format(built=built, root=ROOT, site=SITE, frozen=frozen) if prelude \
        else f"import sys\nsys.path[:0] = [{built!r}, {ROOT!r}, {SITE!r}]\n"
    out = subprocess.run([sys.executable, "-S", "-I", "-c", head + code + REPORT],
                         cwd=built, capture_output=True, text=True, check=True)
    return ast.literal_eval(out.stdout.splitlines()[-1])


def stage_modules(modules):
    return [m for m in modules if m.startswith("stages.")]


def test_an_early_stage_does_not_import_the_later_ones(built):
    code = ("import unc\n"
            "from core import cli\n"
            "cli.check_stage_options(cli.parse(['--stage=user_pid', '--trace', 'true']),\n"
            "                        cli.select_stages('user_pid'))\n")
    assert stage_modules(loaded(built, code)) == ["stages.user_pid"]


def test_a_command_after_double_dash_does_not_import_the_later_stages(built):
    # BUG (core/cli.py, check_stage_options): docopt's key "--" (True when
    # the command line has a `--`) is neither a stage's option nor in
    # CORE_OPTIONS, so it counts as a possibly misplaced option and every
    # stage module is imported to look for its owner: `unc --stage=user_pid
    # -- true` (and every container of `unc check`) pays for all of them.
    code = ("import unc\n"
            "from core import cli\n"
            "cli.check_stage_options(cli.parse(['--stage=user_pid', '--', 'true']),\n"
            "                        cli.select_stages('user_pid'))\n")
    assert stage_modules(loaded(built, code)) == ["stages.user_pid"]


def test_an_option_of_an_unselected_stage_imports_them_to_name_its_stage(built):
    code = (
        "import unc\n"
        "from core import cli\n"
        "from core import Fail\n"
        "try:\n"
        "    cli.check_stage_options(cli.parse(['--stage=user_pid', '--hostname=x', 'true']),\n"
        "                            cli.select_stages('user_pid'))\n"
        "except Fail as e:\n"
        "    print(e)\n"
    )
    head = PRELUDE.format(built=built, root=ROOT, site=SITE, frozen=True)
    out = subprocess.run([sys.executable, "-S", "-I", "-c", head + code], cwd=built,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "--hostname needs --stage=uts or a later stage"


# A plain run up to its start: what core.run.container() does before
# start() (which unshares: not here).
PLAIN_RUN = (
    "import unc\n"
    "from core import cli, run\n"
    "opts = cli.parse(['true'])\n"
    "stages = cli.select_stages(opts['--stage'])\n"
    "cli.check_stage_options(opts, stages)\n"
    "r = run.Run(opts, stages)\n"
    "for s in stages:\n"
    "    r.flags |= getattr(s, 'CLONE_FLAGS', 0)\n"
    "for s in stages:\n"
    "    r.hook(s, 'prepare')\n"
    "assert r.states['net'].mode == 'none'\n"
)


@pytest.mark.parametrize("frozen", [True, False])
def test_a_plain_run_prepares_without_costly_modules_or_backends(built, frozen):
    modules = loaded(built, PLAIN_RUN, frozen=frozen)
    assert [m for m in COSTLY if m in modules] == []
    assert [m for m in BACKENDS if m in modules] == []
    assert [m for m in ON_DEMAND if m in modules] == []
    # The image machinery (issue 13) is for --image, import and pull only.
    assert [m for m in modules if m == "images" or m.startswith("images.")] == []
    assert [m for m in ("tarfile", "hashlib", "http.client", "ssl", "lzma", "gzip")
            if m in modules] == []
    assert stage_modules(modules) == sorted(f"stages.{name}" for name in
                                            ("user_pid", "uts", "mount", "net", "harden"))


def test_a_rootfs_run_imports_no_image_machinery(built, tmp_path):
    code = PLAIN_RUN.replace("['true']", f"['--rootfs', {str(tmp_path)!r}, 'true']")
    modules = loaded(built, code)
    assert [m for m in modules if m == "images" or m.startswith("images.")] == []
    assert "tarfile" not in modules and "hashlib" not in modules


def test_an_image_run_imports_neither_json_nor_re_nor_the_unpacking(built, tmp_path):
    # What a stored image's run needs is read from its NAME.run file.
    from images.store import Store, run_file
    store = Store(str(tmp_path / "unc"))
    store.create()
    os.mkdir(store.layer_dir("sha256:" + "a" * 64))
    record = {"name": "x:latest", "digest": "sha256:" + "b" * 64, "ids": False,
              "layers": ["sha256:" + "a" * 64]}
    with open(store.record_path("x:latest")[:-5] + ".run", "wb") as f:
        f.write(run_file(record, {"Cmd": ["true"]}))
    code = PLAIN_RUN.replace("['true']", "['--image', 'x', '--map-root-user', 'true']").replace(
        "import unc\n", f"import os\nos.environ['XDG_DATA_HOME'] = {str(tmp_path)!r}\nimport unc\n"
    ).replace("r = run.Run(opts, stages)\n", "r = run.Run(opts, stages)\n"
              "from core import execvp\nr.process = execvp.prepare(opts)\n")
    code += "assert r.process.command([]) == ['true']\n"
    modules = loaded(built, code)
    assert "images.store" in modules
    assert [m for m in COSTLY if m in modules] == []
    assert [m for m in ("shutil", "tarfile", "hashlib", "images.unpack", "images.sources",
                        "images.registry", "http.client") if m in modules] == []


def test_a_backend_is_imported_when_its_mode_is_used(built):
    code = PLAIN_RUN.replace("['true']", "['--net=pasta', 'true']").replace(
        "r.hook(s, 'prepare')", "s.NAME == 'net' or r.hook(s, 'prepare')").replace(
        "assert r.states['net'].mode == 'none'\n", "")
    code += ("from unittest import mock\n"
             "from network import host\n"
             "from stages import net\n"
             "with mock.patch.object(host, 'which', lambda p, path=None: '/bin/' + p), \\\n"
             "        mock.patch.object(host, 'tun_problem', lambda: None), \\\n"
             "        mock.patch.object(host, 'default_route', lambda: True):\n"
             "    net.prepare(r, r.states['net'])\n")
    modules = loaded(built, code)
    assert "network.pasta" in modules
    assert "network.slirp4netns" not in modules and "network.bridge" not in modules


def test_import_unc_does_not_import_the_parser():
    modules = loaded(ROOT, "import unc\n", prelude=False)
    assert "unc" in modules
    assert [m for m in modules if m.split(".")[0] in ("core", "stages", "mounts", "network")
            or m in ("docopt", "usage_built")] == []


def test_the_parser_does_not_import_unc_or_the_cli():
    # No import circle: docopt_fast serves the cli, never the other way round.
    modules = loaded(ROOT, "import core.docopt_fast\n", prelude=False)
    assert "core.docopt_fast" in modules
    assert "unc" not in modules and "core.cli" not in modules
    assert stage_modules(modules) == []
