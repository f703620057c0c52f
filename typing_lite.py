"""A stand-in for the `typing` module while unc parses its command line.

docopt-ng, unc's parser, imports `typing` for its annotations (which it never
evaluates: `from __future__ import annotations`), one NamedTuple, one type
alias and `cast`. Importing the real module costs about 3.5 ms, a tenth of a
frozen unc's start (bench/README.md). install() puts this module in its place
when nothing has imported `typing` yet; it provides what docopt-ng uses, and
any other name loads the real `typing`, which then replaces this one for
every later import. unc.py installs it only when it runs as the program, so
no library sharing the process is affected.
"""

import collections
import sys

class _Alias:
    """Any[...], Tuple[...], Union[...]: only ever subscripted, never used."""

    def __init__(self, name):
        self._name = name

    def __getitem__(self, item):
        return self

    def __repr__(self):
        return f"typing_lite.{self._name}"


Any = _Alias("Any")
Callable = _Alias("Callable")
Tuple = _Alias("Tuple")
Type = _Alias("Type")
Union = _Alias("Union")


def cast(typ, value):
    return value


class _NamedTupleMeta(type):
    def __new__(mcls, name, bases, namespace):
        if not bases:
            return super().__new__(mcls, name, bases, namespace)
        fields = list(namespace.get("__annotations__", {}))
        cls = collections.namedtuple(name, fields, module=namespace.get("__module__"))
        return cls


class _NamedTupleBase(metaclass=_NamedTupleMeta):
    pass


def NamedTuple(typename, fields=None, /, **kwargs):
    """`class X(NamedTuple): a: str` (a class statement) is all docopt uses."""
    return _real().NamedTuple(typename, fields, **kwargs)


# `class X(NamedTuple)` asks a function base for the real bases to use.
NamedTuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)


def _real():
    """Load the real typing module and let it replace this one."""
    module = sys.modules.get("typing")
    if module is not None and module is not sys.modules[__name__]:
        return module
    sys.modules.pop("typing", None)
    import typing
    return typing


def __getattr__(name):
    if name.startswith("__"):
        # The import system probes for __path__ and friends on every import.
        raise AttributeError(name)
    return getattr(_real(), name)


def install():
    """Stand in for `typing` unless the real module is loaded already."""
    sys.modules.setdefault("typing", sys.modules[__name__])
