"""The image subcommands: `unc import`, `unc pull`, `unc images`, `unc rmi`.

Used by core/cli.py, which hands it argv when the first word is one of
them (a command of that name runs after `--`). Each reads its few options
here, then does its work on the store in a helper process in a user
namespace of its own (images/userns.py): only there may it write the
whiteouts and owners an image needs. Errors follow unc's contract: one
`unc: ` line on stderr, status 125; `unc images` alone writes on stdout.
"""

import os
import sys

from core import Fail

USAGE = {
    "import": "unc import [--map-auto] [-q] [--trace] [--platform=OS/ARCH] FILE|DIR [NAME[:TAG]]",
    "pull": "unc pull [--map-auto] [-q] [--trace] [--tls-verify=false] [--platform=OS/ARCH] REF",
    "images": "unc images [-q]",
    "rmi": "unc rmi [--trace] NAME...",
}
FLAGS = {"--map-auto", "-q", "--quiet", "--trace", "--debug"}
VALUES = {"--platform", "--tls-verify"}


def parse(command, argv):
    opts, args = {}, []
    items = list(argv)
    while items:
        item = items.pop(0)
        if item == "--":
            args += items
            break
        if item.startswith("-") and item != "-":
            key, eq, value = item.partition("=")
            if key in FLAGS and not eq:
                opts[key] = True
            elif key in VALUES:
                if not eq:
                    if not items:
                        raise Fail(f"{key} requires an argument; usage: {USAGE[command]}")
                    value = items.pop(0)
                opts[key] = value
            else:
                raise Fail(f"unknown option {key} for `unc {command}`; usage: {USAGE[command]}")
        else:
            args.append(item)
    counts = {"import": (1, 2), "pull": (1, 1), "images": (0, 0), "rmi": (1, 99)}[command]
    if not counts[0] <= len(args) <= counts[1]:
        raise Fail(f"usage: {USAGE[command]}")
    if command == "pull" and opts.get("--tls-verify", "true") not in ("true", "false"):
        raise Fail("--tls-verify takes true or false")
    if "--quiet" in opts:
        opts["-q"] = True
    return opts, args


def main(argv, closed=()):
    command, argv = argv[0], argv[1:]
    opts, args = parse(command, argv)
    tracing = bool(opts.get("--trace"))

    def trace(message):
        if tracing:
            os.write(2, b"+ " + message.encode(errors="surrogateescape") + b"\n")

    from images.store import Store
    store = Store()
    if command == "images":
        return list_images(store, opts, closed)
    from images import userns
    from images.progress import Progress
    progress = Progress(os.isatty(2) and not opts.get("-q"))
    ids = bool(opts.get("--map-auto"))
    if command == "rmi":
        return userns.run(lambda: remove(store, args, trace), map_auto=ids_in_store(store),
                          trace=trace, debug=bool(opts.get("--debug")))
    if command == "import":
        source = os.path.abspath(args[0])
        name = args[1] if len(args) > 1 else None

        def work():
            from images import sources
            image = sources.open_source(source, name, opts.get("--platform"))
            return add(store, image, ids, progress, trace)
    else:
        from images import registry
        ref = registry.parse_ref(args[0])     # a bad reference fails before the helper

        def work():
            image = registry.fetch(ref, tls_verify=opts.get("--tls-verify") != "false",
                                   wanted=opts.get("--platform"), progress=progress,
                                   trace=trace)
            return add(store, image, ids, progress, trace)
    return userns.run(work, map_auto=ids, trace=trace, debug=bool(opts.get("--debug")))


def add(store, image, ids, progress, trace):
    from images import sources
    from images.store import normalize
    image.name = normalize(image.name)
    store.create()
    store.lock()
    store.lock_image(image.name)
    store.sweep(trace)
    record = sources.install(store, image, ids, progress, trace)
    trace(f"image {record['name']} is {record['digest']}")
    return 0


def ids_in_store(store):
    """rmi needs the subordinate map when some layer was kept with owners."""
    from images import userns
    return any(r.get("ids") for r in store.images()) and userns.has_subordinate_ids()


def remove(store, names, trace):
    if not os.path.isdir(store.root):
        raise Fail(f"no image {names[0]}: the store {store.root} is empty")
    if not store.lock(exclusive=True, wait=False):
        raise Fail("the image store is in use by a run, pull or import; try again when "
                   "it has ended")
    records = [store.find(name) for name in names]
    for record in records:
        store.remove_image(record, trace)
    return 0


def list_images(store, opts, closed):
    from core.cli import write_out
    records = store.images()
    if opts.get("-q"):
        write_out("".join(r["name"] + "\n" for r in records), closed)
        return 0
    rows = [("NAME", "DIGEST", "SIZE", "CREATED")]
    for r in records:
        rows.append((r["name"], r["digest"].split(":")[1][:12], human(r.get("size") or 0),
                     (r.get("created") or "")[:19].replace("T", " ")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    text = "".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n"
                   for row in rows)
    write_out(text, closed)
    return 0


def human(size):
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
