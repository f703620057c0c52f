"""The layout's rules, checked on the sources: every module teaches from
its first line, stages meet only through the core, and a stage's state is
declared, not hung on the run."""

import ast
import glob
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sources(*patterns):
    found = sorted(os.path.relpath(path, ROOT) for pattern in patterns
                   for path in glob.glob(os.path.join(ROOT, pattern)))
    assert found, patterns
    return found


MODULES = sources("stages/*.py", "core/*.py", "mounts/*.py", "network/*.py", "images/*.py",
                  "oci/*.py", "security/*.py", "unc.py", "kernel.py")
STAGE_MODULES = [path for path in sources("stages/*.py") if not path.endswith("__init__.py")]


def tree(path):
    with open(os.path.join(ROOT, path)) as f:
        return ast.parse(f.read(), path)


def test_the_layout_is_there():
    for package in ("core", "mounts", "network", "stages", "images", "security"):
        assert f"{package}/__init__.py" in MODULES
    assert {os.path.basename(p)[:-3] for p in STAGE_MODULES} == \
        {"user_pid", "uts", "mount", "net", "harden"}


@pytest.mark.parametrize("path", MODULES)
def test_every_module_opens_with_a_docstring_of_a_paragraph_at_least(path):
    doc = ast.get_docstring(tree(path))         # only when it is the first statement
    assert doc, f"{path} must open with a docstring"
    paragraphs = [p for p in re.split(r"\n\s*\n", doc) if p.strip()]
    # A summary, then at least one paragraph that says something.
    assert len(paragraphs) >= 2, f"{path}: a summary line is not enough"
    assert max(len(p.split()) for p in paragraphs[1:]) >= 20, \
        f"{path}: its docstring needs a paragraph after the summary"


def imported_modules(source):
    """Every module the Python `source` imports, statically or through
    __import__ / importlib.import_module with a constant name, as dotted
    names (relative imports are taken as within stages/)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                      # relative: inside stages/
                base = "stages" + ("." + base if base else "")
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(
                node.func, "attr", None)) in ("__import__", "import_module")
                and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(node.args[0].value)
    return names


@pytest.mark.parametrize("path", STAGE_MODULES)
def test_no_stage_module_imports_another(path):
    me = os.path.basename(path)[:-3]
    others = {os.path.basename(p)[:-3] for p in STAGE_MODULES} - {me}
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    bad = [name for name in imported_modules(text)
           if name.startswith("stages.") and name.split(".")[1] in others]
    assert bad == [], f"{path} imports another stage: {bad}"
    # grep-style too: a dotted name in a string would be a dynamic import.
    for other in others:
        assert f'"stages.{other}"' not in text and f"'stages.{other}'" not in text


def test_the_import_check_sees_every_form_of_importing_a_stage():
    code = ("import stages.uts\nfrom stages import mount\nfrom stages.net import x\n"
            "from . import user_pid\n__import__('stages.net')\n"
            "importlib.import_module('stages.uts')\nimport os\n")
    assert {"stages.uts", "stages.mount", "stages.net", "stages.user_pid"} <= \
        {".".join(name.split(".")[:2]) for name in imported_modules(code)}
    assert "stages.os" not in imported_modules(code)


@pytest.mark.parametrize("path", sources("stages/*.py"))
def test_stages_keep_no_state_on_the_run(path):
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    assert not re.search(r"getattr\(\s*run\s*,", text), \
        f"{path}: a stage keeps its own state in its State (me), not on the run"
