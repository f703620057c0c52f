"""docopt-ng, paying only for matching argv.

unc parses its command line with docopt-ng: docopt(USAGE, argv). Each call
first reads the usage text (its sections, options and usage patterns, with a
dozen regular expressions) and then matches argv against what it read. In
a frozen start of about 20 ms the first half cost about 4 ms: `re` to
import (1.4 ms), its expressions to compile and the reading itself (2.2),
fixing the pattern (0.5), for a result that only changes when USAGE does
(bench/README.md). So:

- At build time, build.sh calls write() with the usage text that
  core/cli.py composes, which writes docopt-ng's reading of it to
  usage_built.py: its option list and
  its pattern tree, fixed (see source()), as Python source made of
  docopt-ng's own classes (from their repr()), and the text it was read from.
- At run time, parse() rebuilds those and does the rest of docopt(): docopt-
  ng's own parse_argv() and match(). When usage_built.py is missing or was
  written for another text (a usage text edited without a build) or another
  version of docopt-ng, parse() reads the text itself, as docopt() would,
  so it is only ever slower, never different.
- From the start of unc.py on, `re` is a stand-in that loads the real
  module on first use (only the reading of a usage text uses it), and
  `typing` one that provides the few names docopt-ng takes from it (its
  annotations are never evaluated: `from __future__ import annotations`)
  and hands anything else over to the real module. unc.py installs them
  only when it runs as the program, so no library sharing the process is
  affected.

tests/unit/core/test_core_docopt_fast.py checks that parse() and docopt() agree.
"""

import sys

_Module = type(sys)


def built():
    """usage_built.py when it was written by the docopt-ng that is loaded,
    else None."""
    import docopt
    try:
        import usage_built
    except ImportError:
        return None
    if getattr(usage_built, "DOCOPT_VERSION", None) != docopt.__version__:
        return None
    return usage_built


def parse(usage, argv, options_first=False):
    """docopt(usage, argv, default_help=False, options_first=options_first),
    except that arguments no pattern takes raise DocoptExit with them in its
    `left` (docopt() puts only their repr() in its message)."""
    import docopt
    module = built()
    if module is not None and module.USAGE == usage:
        options, pattern = module.grammar()          # pattern: fixed already
        section = module.USAGE_SECTION
    else:
        options, pattern, section = reading(usage)
    # The second half of docopt() (docopt-ng 0.9.0, pinned). parse_argv adds
    # the unknown options it meets to the list it gets: a copy, as there.
    docopt.DocoptExit.usage = section
    parsed = docopt.parse_argv(docopt.Tokens(argv), list(options), options_first)
    if module is None or module.USAGE != usage:
        # After parse_argv, as in docopt(): fix() changes the values of the
        # options the pattern shares with `options`.
        pattern.fix()
    matched, left, collected = pattern.match(parsed)
    if matched and left == []:
        return docopt.ParsedOptions((a.name, a.value) for a in pattern.flat() + collected)
    raise docopt.DocoptExit("unmatched arguments" if left else "", collected=collected,
                            left=left)


def reading(usage):
    """docopt-ng's reading of `usage`: the first half of docopt(), up to its
    parse_argv(). Returns (options, pattern, usage section)."""
    import docopt as d
    sections = d.parse_docstring_sections(usage)
    d.lint_docstring(sections)
    options = [*d.parse_options(sections.before_usage),
               *d.parse_options(sections.after_usage)]
    pattern = d.parse_pattern(d.formal_usage(sections.usage_body), options)
    in_pattern = set(pattern.flat(d.Option))
    for shortcut in pattern.flat(d.OptionsShortcut):
        shortcut.children = [o for o in options if o not in in_pattern]
    return options, pattern, sections.usage_header + sections.usage_body


def source(usage):
    """The text of usage_built.py for `usage`. Its pattern is the one
    docopt() matches argv against: after fix(), which makes equal leaves one
    object and gives repeated ones a list or a count as their value (half a
    millisecond, so it is done here too), with the same leaves shared."""
    import docopt as d
    options, pattern, section = reading(usage)
    # As docopt() does, argv is parsed with the options as read, before fix()
    # changes the values of those it shares with the pattern.
    options_text = "".join(f"        {o!r},\n" for o in options)
    pattern.fix()
    leaves, lines = {}, []

    def expression(node):
        if hasattr(node, "children"):
            return f"{type(node).__name__}({', '.join(map(expression, node.children))})"
        if id(node) not in leaves:
            leaves[id(node)] = f"leaf{len(leaves)}"
            lines.append(f"    {leaves[id(node)]} = {node!r}\n")
        return leaves[id(node)]

    tree = expression(pattern)
    classes = sorted({type(p).__name__ for p in _nodes(pattern) + options})
    return "".join([
        "# Written by docopt_fast.py at build time (./build.sh): docopt-ng "
        f"{d.__version__}'s reading\n",
        "# of unc's usage text. Not kept in git; see core/docopt_fast.py.\n",
        f"from docopt import {', '.join(classes)}\n\n",
        f"DOCOPT_VERSION = {d.__version__!r}\n\n",
        f"USAGE = {usage!r}\n\n",
        f"USAGE_SECTION = {section!r}\n\n\n",
        "def grammar():\n",
        "    options = [\n",
        options_text,
        "    ]\n",
        *lines,
        f"    pattern = {tree}\n",
        "    return options, pattern\n",
    ])


def _nodes(pattern):
    return [pattern] + [n for c in getattr(pattern, "children", []) for n in _nodes(c)]


# ---------------------------------------------------------------- stand-ins

class _OnFirstUse(_Module):
    """A module that imports the real one when a name is first looked up in
    it, and from then on is a copy of it."""

    def __getattr__(self, name):
        real = _load_real(self.__name__, self)
        self.__dict__.update(real.__dict__)
        return getattr(real, name)


def _load_real(name, stand_in):
    """Import the real module `name` in place of `stand_in`."""
    module = sys.modules.get(name)
    if module is not None and module is not stand_in:
        return module
    sys.modules.pop(name, None)
    return __import__(name)


class _Alias:
    """typing's Any[...], Tuple[...], Union[...]: only ever subscripted, in
    docopt-ng's type aliases, never used."""

    def __init__(self, name):
        self._name = name

    def __getitem__(self, item):
        return self

    def __repr__(self):
        return f"docopt_fast.{self._name}"


class _NamedTupleMeta(type):
    """`class DocSections(NamedTuple): a: str ...`: a tuple with those fields
    by name (collections.namedtuple would cost another 1.5 ms to import)."""

    def __new__(mcls, name, bases, namespace):
        if not bases:
            return super().__new__(mcls, name, bases, namespace)
        fields = tuple(namespace.get("__annotations__", {}))
        body = {"__slots__": (), "_fields": fields, "__module__": namespace.get("__module__"),
                "__new__": lambda cls, *values: tuple.__new__(cls, values)}
        for i, field in enumerate(fields):
            body[field] = property(lambda self, i=i: self[i])
        return type(name, (tuple,), body)


class _NamedTupleBase(metaclass=_NamedTupleMeta):
    pass


def _typing_stand_in():
    typing = _Module("typing", "docopt_fast's stand-in for typing (see docopt_fast.py)")
    for name in ("Any", "Callable", "Tuple", "Type", "Union"):
        setattr(typing, name, _Alias(name))
    typing.cast = lambda typ, value: value

    def NamedTuple(typename, fields=None, /, **kwargs):
        return _load_real("typing", typing).NamedTuple(typename, fields, **kwargs)
    # `class X(NamedTuple)` asks a function base for the bases to use.
    NamedTuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)
    typing.NamedTuple = NamedTuple

    def __getattr__(name):
        if name.startswith("__"):
            # The import system probes for __path__ and friends.
            raise AttributeError(name)
        return getattr(_load_real("typing", typing), name)
    typing.__getattr__ = __getattr__
    return typing


def install():
    """Put the stand-ins for `re` and `typing` in place, unless the real
    modules are loaded already."""
    sys.modules.setdefault("re", _OnFirstUse("re"))
    sys.modules.setdefault("typing", _typing_stand_in())


def write(usage, path):
    """Write usage_built.py for `usage` to `path`, atomically (build.sh)."""
    import os
    with open(path + ".new", "w") as f:
        f.write(source(usage))
    os.replace(path + ".new", path)
