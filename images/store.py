"""The image store: per user, content-addressed, written atomically.

Used by images/cli.py (import, pull, images, rmi; in the store's user
namespace, images/userns.py) and by the mount stage for --image (which
only reads: find() and the layer directories). Its place is
$XDG_DATA_HOME/unc, by default ~/.local/share/unc, mode 0700 (a layer may
hold set-user-ID files that belong to you):

    images/NAME.json        one record per image name ('/' written as %2F):
                            its manifest digest, config digest, layers
    images/NAME.run         what a run needs of it, read without json
    blobs/sha256/HEX        manifests and configs, by their digest
    layers/HEX/             one unpacked layer in overlayfs' form, named by
                            its diff_id (the digest of the uncompressed tar),
                            so images that share a layer share its directory;
                            HEX.ids/ when unpacked with --map-auto (owners
                            kept through the subordinate range)
    tmp/PID.*               work in progress of process PID
    lock, locks/NAME.lock   flock(2) locks

Atomic: a layer is unpacked into tmp/ and renamed into layers/ only once
all of it is written and its digest checked, and a record is renamed into
images/ only once all its layers are there; rename(2) within a filesystem
is atomic, so a pull or import killed at any point leaves only tmp/
entries, which nothing reads and the next import sweeps. Every import or
pull holds `lock` shared and its image's lock exclusively (a second pull
of the same image waits, then finds the layers there); rmi and its
collection of unused layers hold `lock` exclusively, and so does nothing
else; a run holds it shared while it starts, so rmi cannot remove the
layers under it.
"""

import fcntl
import os

from core import Fail, one_line

# json and shutil are imported where used: a run of an image reads its
# NAME.run file (run_file below), and json's decoder alone would load re
# and enum, milliseconds of every start.


def default_root():
    base = os.environ.get("XDG_DATA_HOME")
    if not base or not base.startswith("/"):
        home = os.environ.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, "unc")


def escape(name):
    return name.replace("%", "%25").replace("/", "%2F")


def unescape(name):
    return name.replace("%2F", "/").replace("%25", "%")


def hex_of(digest):
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64 or value.strip("0123456789abcdef"):
        raise Fail(f"unsupported or malformed digest {one_line(digest)!r} (unc knows sha256)")
    return value


def normalize(name):
    """NAME[:TAG] with the tag made explicit (latest)."""
    last = name.rsplit("/", 1)[-1]
    if "@" in last or ":" in last:
        return name
    return name + ":latest"


class Store:
    def __init__(self, root=None):
        self.root = root or default_root()
        self.lock_fd = None

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def layer_dir(self, diff_id, ids=False):
        return self.path("layers", hex_of(diff_id) + (".ids" if ids else ""))

    # ------------------------------------------------------------ locks

    def create(self):
        try:
            os.makedirs(self.root, 0o700, exist_ok=True)
            for sub in ("images", "blobs/sha256", "layers", "tmp", "locks"):
                os.makedirs(self.path(sub), 0o700, exist_ok=True)
        except OSError as e:
            raise Fail(f"cannot create the image store {self.root}: {e.strerror}; set "
                       "XDG_DATA_HOME to a directory of yours") from None

    def lock(self, exclusive=False, wait=True):
        """The store's lock: shared for imports, pulls and runs, exclusive
        for rmi. False if `wait` is off and another holds it."""
        fd = os.open(self.path("lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                        | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self.lock_fd = fd
        return True

    def lock_image(self, name):
        """Held until the process ends: two pulls of one image take turns."""
        fd = os.open(self.path("locks", escape(name) + ".lock"),
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    # ------------------------------------------------------------ work in progress

    def tmpdir(self):
        import tempfile
        path = tempfile.mkdtemp(prefix=f"{os.getpid()}.", dir=self.path("tmp"))
        # It becomes a layer's root, and overlayfs gives / the top layer's
        # mode: 0755 unless the archive says otherwise (its "." entry).
        os.chmod(path, 0o755)
        return path

    def sweep(self, trace=None):
        """Remove what dead imports left in tmp/."""
        for entry in os.listdir(self.path("tmp")):
            if alive(entry.split(".")[0]):
                continue
            if trace:
                trace(f"removing {self.path('tmp', entry)}, left by an import that died")
            remove(self.path("tmp", entry))

    # ------------------------------------------------------------ layers and blobs

    def has_layer(self, diff_id, ids):
        return os.path.isdir(self.layer_dir(diff_id, ids))

    def commit_layer(self, tmp, diff_id, ids):
        final = self.layer_dir(diff_id, ids)
        try:
            os.rename(tmp, final)
        except OSError as e:
            if e.errno not in (39, 17):              # ENOTEMPTY, EEXIST: already there
                raise
            remove(tmp)
        return final

    def put_blob(self, data, digest=None):
        import hashlib
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest is not None and actual != digest:
            raise Fail(f"blob {digest} does not match its digest (it is {actual}): "
                       "damaged or tampered with; nothing was kept")
        final = self.path("blobs", "sha256", hex_of(actual))
        if not os.path.exists(final):
            write_atomically(final, data, self.path("tmp"))
        return actual

    def blob(self, digest):
        with open(self.path("blobs", "sha256", hex_of(digest)), "rb") as f:
            return f.read()

    # ------------------------------------------------------------ records

    def record_path(self, name):
        return self.path("images", escape(name) + ".json")

    def put_image(self, record, config):
        import json
        data = json.dumps(record, indent=1, sort_keys=True).encode() + b"\n"
        write_atomically(self.record_path(record["name"]), data, self.path("tmp"))
        write_atomically(self.record_path(record["name"])[:-5] + ".run",
                         run_file(record, config.get("config") or {}), self.path("tmp"))

    def images(self):
        import json
        found = []
        try:
            names = sorted(os.listdir(self.path("images")))
        except FileNotFoundError:
            return found
        for entry in names:
            if entry.endswith(".json"):
                try:
                    with open(self.path("images", entry)) as f:
                        found.append(json.load(f))
                except (OSError, ValueError):
                    continue
        return found

    def find(self, name, run=False):
        """The record of image `name` (NAME, NAME:TAG, or a digest prefix);
        with `run`, as a run needs it: with its config's settings ("run")."""
        candidates = [name, normalize(name)]
        if "/" not in name:
            # Docker Hub's official images, as pulled by their full name.
            candidates.append("docker.io/library/" + normalize(name))
        for candidate in candidates:
            try:
                if run:
                    try:
                        with open(self.record_path(candidate)[:-5] + ".run", "rb") as f:
                            return read_run_file(f.read())
                    except FileNotFoundError:
                        pass
                with open(self.record_path(candidate)) as f:
                    import json
                    record = json.load(f)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, IndexError, UnicodeError) as e:
                raise Fail(f"cannot read image {name} in {self.root}: {e}") from None
            if run:
                record["run"] = json.loads(self.blob(record["config"])).get("config") or {}
            return record
        if len(name) >= 6 and not name.strip("0123456789abcdef"):
            matches = [r for r in self.images() if hex_of(r["digest"]).startswith(name)]
            if len(matches) == 1:
                return self.find(matches[0]["name"], run) if run else matches[0]
        raise Fail(f"no image {one_line(name)} in the store ({self.root}); "
                   "`unc images` lists them, `unc pull` or `unc import` adds one")

    def remove_image(self, record, trace=None):
        try:
            os.unlink(self.record_path(record["name"])[:-5] + ".run")
        except FileNotFoundError:
            pass
        os.unlink(self.record_path(record["name"]))
        self.collect(trace)

    def collect(self, trace=None):
        """Remove layers and blobs that no image uses any more."""
        layers, blobs = set(), set()
        for r in self.images():
            layers.update(hex_of(l) + (".ids" if r.get("ids") else "") for l in r["layers"])
            blobs.update(hex_of(d) for d in (r["digest"], r["config"]))
        for entry in os.listdir(self.path("layers")):
            if entry not in layers:
                if trace:
                    trace(f"removing layer {entry}")
                remove(self.path("layers", entry))
        for entry in os.listdir(self.path("blobs", "sha256")):
            if entry not in blobs:
                os.unlink(self.path("blobs", "sha256", entry))


def alive(pid):
    """Whether process `pid` still runs: a zombie (its parent is gone and
    whoever inherited it has not reaped it yet) writes nothing more."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (ValueError, OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def write_atomically(path, data, tmpdir):
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=f"{os.getpid()}.", dir=tmpdir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove(path):
    """Remove a file or a tree; root of the store's namespace may open any
    directory of it whatever its mode (CAP_DAC_OVERRIDE over mapped ids)."""
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def for_run(name):
    """What a run of image `name` needs (the mount stage, --image): the
    Store, holding the store's lock shared for as long as unc runs (rmi
    waits), the record, the layer directories top first (overlayfs'
    lowerdir order), and the config's `config` part (Env, Cmd...)."""
    store = Store()
    if not os.path.isdir(store.path("images")):
        raise Fail(f"no image {one_line(name)}: the image store ({store.root}) is empty; "
                   "`unc pull` or `unc import` adds one")
    store.lock()
    record = store.find(name, run=True)
    lowers = [store.layer_dir(d, record.get("ids")) for d in reversed(record["layers"])]
    for path in lowers:
        if not os.path.isdir(path):
            raise Fail(f"image {record['name']} is damaged: its layer {path} is missing; "
                       "remove it (unc rmi) and pull or import it again")
    return store, record, lowers, record["run"]


# The run file: NUL-separated fields, lists as a count and their items.
RUN_FIELDS = (("name", str), ("digest", str), ("ids", bool), ("layers", list), ("Env", list),
              ("WorkingDir", str), ("User", str), ("Entrypoint", list), ("Cmd", list))


def run_file(record, config):
    """What a run needs of an image, in a form read without json."""
    fields = []
    for key, kind in RUN_FIELDS:
        value = record.get(key) if key in record else config.get(key)
        if kind is list:
            items = [str(v) for v in value or []]
            fields += [str(len(items))] + items
        elif kind is bool:
            fields.append("1" if value else "")
        else:
            fields.append(str(value or ""))
    if any("\0" in f for f in fields):
        raise Fail(f"image {record['name']}: its config holds a NUL byte")
    return "\0".join(fields).encode()


def read_run_file(data):
    items = data.decode().split("\0")
    record, config = {}, {}
    for key, kind in RUN_FIELDS:
        if kind is list:
            count = int(items.pop(0))
            value = items[:count]
            del items[:count]
        elif kind is bool:
            value = items.pop(0) == "1"
        else:
            value = items.pop(0)
        (record if key in ("name", "digest", "ids", "layers") else config)[key] = value
    record["run"] = config
    return record
