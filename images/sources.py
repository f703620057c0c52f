"""What `unc import` and `unc pull` hand to the store: an image as its
manifest, config and layer streams, and the one way they are installed.

Used by images/cli.py (import: open_source() reads a rootfs tarball, an
OCI image layout directory or a tar of one, or a docker save archive) and
images/registry.py (pull: it makes the same Image from the registry). All
of it runs in the store's user namespace (images/userns.py). install()
checks every digest it can: a layer's bytes against the manifest's digest,
its uncompressed tar against the config's diff_id, manifests and configs
against theirs; a mismatch refuses the image and keeps nothing.

Compression is found from a layer's first bytes, not from the names or
media types an archive claims: gzip, xz and bzip2 by Python's own modules,
zstd by the zstd program (Debian package zstd: Debian 12's Python has no
zstd module, and the program is small and streams).
"""

import hashlib
import json
import os
import platform

from core import Fail, one_line

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
          "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
          "riscv64": "riscv64"}


def host_platform():
    machine = platform.machine()
    return "linux", ARCHES.get(machine, machine)


class Image:
    """An image to install: its name, manifest and config (bytes, or None
    for a bare rootfs tarball), and its layers, bottom first."""

    def __init__(self, name, manifest, config, layers, source):
        self.name, self.manifest, self.config = name, manifest, config
        self.layers, self.source = layers, source


class LayerRef:
    """One layer: `open()` gives its raw stream; `digest` (of those bytes)
    and `diff_id` (of the uncompressed tar) are checked where known."""

    def __init__(self, open, digest=None, diff_id=None, size=None, what="layer"):
        self.open, self.digest, self.diff_id = open, digest, diff_id
        self.size, self.what = size, what


# ---------------------------------------------------------------- streams

class Reader:
    """A stream that hashes and counts what is read through it, and lets
    its first bytes be looked at."""

    def __init__(self, raw, progress=None):
        self.raw, self.buf = raw, b""
        self.hash = hashlib.sha256()
        self.count = 0
        self.progress = progress

    def peek(self, n):
        while len(self.buf) < n:
            chunk = self.raw.read(n - len(self.buf))
            if not chunk:
                break
            self.buf += chunk
        return self.buf[:n]

    def read(self, n=-1):
        if self.buf:
            data, self.buf = (self.buf, b"") if n < 0 or n >= len(self.buf) else \
                (self.buf[:n], self.buf[n:])
        else:
            data = self.raw.read(n) if n is not None and n >= 0 else self.raw.read()
        self.hash.update(data)
        self.count += len(data)
        if self.progress and data:
            self.progress(len(data))
        return data

    def readable(self):
        return True

    def drain(self):
        while self.read(1 << 20):
            pass

    def digest(self):
        return "sha256:" + self.hash.hexdigest()


def decompressed(reader, what, cleanups):
    """The uncompressed stream of `reader`, by its magic bytes."""
    head = reader.peek(6)
    if head[:2] == b"\x1f\x8b":
        import gzip
        return gzip.GzipFile(fileobj=reader, mode="rb")
    if head[:6] == b"\xfd7zXZ\x00":
        import lzma
        return lzma.LZMAFile(reader)
    if head[:3] == b"BZh":
        import bz2
        return bz2.BZ2File(reader)
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return zstd_stream(reader, what, cleanups)
    return reader


def zstd_stream(reader, what, cleanups):
    import subprocess
    import threading

    from core.execvp import which
    program = which("zstd") or which("zstd", "/usr/bin:/bin")
    if program is None:
        raise Fail(f"{what} is compressed with zstd, which needs the zstd program: "
                   "install the Debian package zstd")
    proc = subprocess.Popen([program, "-dcq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)

    def feed():
        try:
            while True:
                chunk = reader.read(1 << 20)
                if not chunk:
                    break
                proc.stdin.write(chunk)
        except (BrokenPipeError, OSError, Fail):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()

    def finish():
        thread.join()
        if proc.wait() != 0:
            raise Fail(f"{what}: its zstd stream is damaged or truncated; nothing of it "
                       "was kept")
    finish.proc, finish.thread = proc, thread
    cleanups.append(finish)
    return proc.stdout


# ---------------------------------------------------------------- installing

def install(store, image, ids, progress, trace):
    """Unpack every layer the store lacks, then commit the record. Runs
    with the store's shared lock and the image's lock held."""
    from images import unpack
    from images.store import hex_of, remove
    config = json.loads(image.config) if image.config is not None else None
    if config is not None and not isinstance(config, dict):
        raise Fail(f"{image.source}: the image config is not a JSON object")
    diff_ids = list(((config or {}).get("rootfs") or {}).get("diff_ids") or [])
    if config is not None and len(diff_ids) != len(image.layers):
        raise Fail(f"{image.source}: the config lists {len(diff_ids)} layers, the manifest "
                   f"{len(image.layers)}")
    found = []
    for number, layer in enumerate(image.layers, 1):
        what = f"{image.source}: layer {number}/{len(image.layers)}"
        diff_id = diff_ids[number - 1] if diff_ids else None
        if diff_id is not None:
            hex_of(diff_id)
            layer.diff_id = diff_id
        if diff_id is not None and store.has_layer(diff_id, ids):
            trace(f"{what}: {diff_id} is in the store already")
            progress.done(what, "already in the store")
            found.append(diff_id)
            continue
        tmp = store.tmpdir()
        try:
            found.append(unpack_layer(layer, tmp, what, ids, progress, trace))
            store.commit_layer(tmp, found[-1], ids)
        except BaseException:
            remove(tmp)
            raise
    if config is None:
        # A bare root filesystem: a config of our own, as `podman import` makes.
        import time
        config = {"architecture": host_platform()[1], "os": "linux",
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "config": {}, "rootfs": {"type": "layers", "diff_ids": found}}
        image.config = json.dumps(config, sort_keys=True).encode()
    config_digest = store.put_blob(image.config)
    if image.manifest is None:
        image.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(image.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": d, "size": l.size or 0}
                       for d, l in zip(found, image.layers)]}, sort_keys=True).encode()
    digest = store.put_blob(image.manifest)
    record = {"name": image.name, "digest": digest, "config": config_digest,
              "layers": found, "ids": ids, "created": config.get("created") or "",
              "size": sum(l.size or 0 for l in image.layers), "source": image.source}
    store.put_image(record, config)
    return record


def unpack_layer(layer, tmp, what, ids, progress, trace):
    """One layer into `tmp`, every digest checked; returns its diff_id."""
    from images import unpack
    cleanups = []
    bar = progress.start(what, layer.size)
    raw = Reader(layer.open(), bar)
    try:
        inner = Reader(decompressed(raw, what, cleanups))
        try:
            unpack.unpack(inner, tmp, what, keep_owners=ids, trace=trace)
        except Fail:
            # Damaged bytes make a damaged tar: when the digest says so, that
            # is the cause to name.
            if layer.digest is not None:
                stop(cleanups)          # zstd's feeder thread reads raw: end it first
                try:
                    raw.drain()
                except (OSError, EOFError):
                    pass
                else:
                    check_digest(layer, raw, what)
            raise
        try:
            inner.drain()               # a tar ends before its stream does
            raw.drain()
        except (EOFError, OSError) as e:
            raise Fail(f"{what}: its compressed stream is damaged or truncated ({e}); "
                       "nothing of it was kept") from None
        for finish in cleanups:
            finish()
    except EOFError as e:
        raise Fail(f"{what}: truncated ({e}); nothing of it was kept") from None
    finally:
        stop(cleanups)
        close = getattr(raw.raw, "close", None)
        if close:
            close()
    check_digest(layer, raw, what)
    if layer.diff_id is not None and inner.digest() != layer.diff_id:
        raise Fail(f"{what}: its uncompressed content does not match the config's diff_id "
                   f"{layer.diff_id} (it is {inner.digest()}); nothing of it was kept")
    progress.done(what, f"{raw.count} bytes")
    return inner.digest()


def stop(cleanups):
    """End a zstd program and its feeder thread (a refused layer)."""
    for finish in cleanups:
        proc = getattr(finish, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc is not None:
            proc.stdout.close()
            finish.thread.join()


def check_digest(layer, raw, what):
    if layer.digest is not None and raw.digest() != layer.digest:
        raise Fail(f"{what}: its content does not match its digest {layer.digest} (it is "
                   f"{raw.digest()}): damaged or tampered with; nothing of it was kept")


# ---------------------------------------------------------------- choosing

def choose_manifest(index, what, wanted=None):
    """The descriptor of the index's manifest for this host's platform
    (or `wanted`, "OS/ARCH[/VARIANT]")."""
    want_os, want_arch, *variant = (wanted.split("/") if wanted else host_platform())
    manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    offered = []
    for m in manifests:
        p = m.get("platform") or {}
        if not p:
            continue
        offered.append("/".join(x for x in (p.get("os"), p.get("architecture"),
                                            p.get("variant")) if x))
        if p.get("os") == want_os and p.get("architecture") == want_arch and \
                (not variant or p.get("variant") == variant[0]):
            return m
    plain = [m for m in manifests if not m.get("platform")]
    if len(plain) == 1 and not offered:
        return plain[0]
    if not manifests:
        raise Fail(f"{what}: its index lists no manifest")
    raise Fail(f"{what}: no manifest for {want_os}/{want_arch} (it has "
               f"{', '.join(offered) or 'none with a platform'}); pass --platform=OS/ARCH "
               "to choose another")


def check_platform(config, what, wanted=None):
    want_os, want_arch, *_ = (wanted.split("/") if wanted else host_platform())
    arch = config.get("architecture")
    if arch and arch != want_arch:
        raise Fail(f"{what}: the image is for {config.get('os', 'linux')}/{arch}, this host "
                   f"runs {want_os}/{want_arch}; pass --platform={config.get('os', 'linux')}/"
                   f"{arch} to take it anyway")


def load_json(data, what):
    try:
        value = json.loads(data)
    except (ValueError, UnicodeError) as e:
        raise Fail(f"{what}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise Fail(f"{what}: not a JSON object")
    return value


def verified(data, digest, what):
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise Fail(f"{what} does not match its digest {digest} (it is {actual}): damaged "
                   "or tampered with; nothing was kept")
    return data


# ---------------------------------------------------------------- import

class Files:
    """The files of an OCI layout or docker save archive: a directory or a
    plain tar (random access)."""

    def __init__(self, path):
        self.path = path
        self.tar = None
        self.members = None
        if not os.path.isdir(path):
            import tarfile
            try:
                self.tar = tarfile.open(path, "r:")
                self.members = {m.name[2:] if m.name.startswith("./") else m.name: m
                                for m in self.tar.getmembers()}
            except (tarfile.TarError, EOFError, OSError) as e:
                raise Fail(f"{path}: not a readable tar archive ({e})") from None

    def exists(self, name):
        if self.tar is None:
            return os.path.isfile(self.safe(name))
        member = self.members.get(name)
        return member is not None and member.isreg()

    def safe(self, name):
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or ".." in parts:
            raise Fail(f"{self.path}: refused path {one_line(name)!r} in its index: it "
                       "leaves the image")
        return os.path.join(self.path, *parts)

    def open(self, name):
        if self.tar is None:
            path = self.safe(name)
            try:
                return open(path, "rb")
            except OSError as e:
                raise Fail(f"{self.path}: cannot read {name}: {e.strerror}") from None
        self.safe(name)
        member = self.members.get(name)
        if member is None or not member.isreg():
            raise Fail(f"{self.path}: the archive has no file {one_line(name)}")
        return self.tar.extractfile(member)

    def read(self, name, limit=64 << 20):
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise Fail(f"{self.path}: {name} is too large for a manifest or config")
        return data


def open_source(path, name=None, wanted=None):
    """The Image in the file or directory `path`."""
    if not os.path.exists(path):
        raise Fail(f"{path}: no such file or directory")
    if os.path.isdir(path):
        files = Files(path)
        if files.exists("oci-layout"):
            return oci_layout(files, path, name, wanted)
        if files.exists("manifest.json"):
            return docker_save(files, path, name, wanted)
        raise Fail(f"{path}: a directory to import must be an OCI image layout (it has no "
                   "oci-layout file)")
    if is_plain_tar(path):
        files = Files(path)
        if files.exists("oci-layout") and files.exists("index.json"):
            return oci_layout(files, path, name, wanted)
        if files.exists("manifest.json"):
            return docker_save(files, path, name, wanted)
        files.tar.close()
    size = os.path.getsize(path)
    default = os.path.basename(path).split(".")[0] or "rootfs"
    return Image(name or default, None, None,
                 [LayerRef(lambda: open(path, "rb"), size=size, what=path)], path)


def is_plain_tar(path):
    try:
        with open(path, "rb") as f:
            head = f.read(265)
    except OSError as e:
        raise Fail(f"cannot read {path}: {e.strerror}") from None
    return head[257:262] == b"ustar"


def oci_layout(files, path, name, wanted):
    index = load_json(files.read("index.json"), f"{path}: index.json")
    descriptor = choose_manifest(index, path, wanted)
    ref = (descriptor.get("annotations") or {}).get("org.opencontainers.image.ref.name")
    while descriptor.get("mediaType") in INDEX_TYPES:
        data = blob(files, descriptor, path)
        descriptor = choose_manifest(load_json(data, f"{path}: index"), path, wanted)
    manifest_bytes = blob(files, descriptor, path)
    manifest = load_json(manifest_bytes, f"{path}: manifest")
    config_bytes = blob(files, manifest.get("config") or {}, path)
    check_platform(load_json(config_bytes, f"{path}: config"), path, wanted)
    layers = [LayerRef(opener(files, l), digest=l.get("digest"), size=l.get("size"),
                       what=path) for l in manifest.get("layers") or []]
    for l in layers:
        blob_path(l.digest, path)
    default = os.path.basename(os.path.normpath(path)).split(".")[0]
    if ref and ":" not in ref and "/" not in ref:
        default += ":" + ref                      # skopeo's oci:DIR:TAG
    elif ref:
        default = ref
    return Image(name or default, manifest_bytes, config_bytes, layers, path)


def blob_path(digest, what):
    from images.store import hex_of
    if not isinstance(digest, str):
        raise Fail(f"{what}: a descriptor without a digest")
    return "blobs/sha256/" + hex_of(digest)


def blob(files, descriptor, what):
    digest = descriptor.get("digest")
    return verified(files.read(blob_path(digest, what)), digest, f"{what}: blob {digest}")


def opener(files, descriptor):
    path = blob_path(descriptor.get("digest"), files.path)
    return lambda: files.open(path)


def docker_save(files, path, name, wanted):
    try:
        manifests = json.loads(files.read("manifest.json"))
    except (ValueError, UnicodeError) as e:
        raise Fail(f"{path}: manifest.json is not valid JSON ({e})") from None
    if not isinstance(manifests, list) or not manifests or not isinstance(manifests[0], dict):
        raise Fail(f"{path}: manifest.json is not a docker save manifest")
    entry = manifests[0]
    config_bytes = files.read(entry.get("Config") or "")
    config = load_json(config_bytes, f"{path}: config")
    check_platform(config, path, wanted)
    layers = [LayerRef((lambda p: lambda: files.open(p))(p), what=path)
              for p in entry.get("Layers") or []]
    for layer, p in zip(layers, entry.get("Layers") or []):
        files.safe(p)
        member = files.members.get(p) if files.members else None
        layer.size = member.size if member else os.path.getsize(files.safe(p))
    tags = entry.get("RepoTags") or []
    default = tags[0] if tags else os.path.basename(os.path.normpath(path)).split(".")[0]
    return Image(name or default, None, config_bytes, layers, path)
