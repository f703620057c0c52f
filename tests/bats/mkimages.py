"""Test images for images.bats (issue 13), made from the busybox ROOTFS.

    mkimages.py ROOTFS OUT

writes into OUT:
    rootfs.tar, rootfs.tar.gz, rootfs.tar.xz, rootfs.tar.zst (if zstd)
                      the busybox root as a plain root filesystem tarball
    layout/           an OCI image layout, tag "multi": three layers (gzip,
                      plain, zstd or gzip): busybox; then files; then a
                      layer that deletes one file (.wh.), makes a directory
                      opaque, and holds a hardlink and a symlink; a config
                      with Env, WorkingDir and Cmd
    layout.tar        the same layout as a tar
    save.tar          the same image as a docker save archive
    hostile/*.tar     one escape each, and damaged images (see HOSTILE)
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile


def tar_of(entries):
    """A tar (bytes) of (name, kind, data_or_target, extra) entries."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "file":
                info.size = len(data)
                for k, v in (extra or {}).items():
                    setattr(info, k, v)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, data
                tar.addfile(info)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
    return out.getvalue()


def tar_dir(path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(path, arcname=".")
    return out.getvalue()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def zstd(data):
    if not shutil.which("zstd"):
        return None
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


def layers(rootfs):
    base = tar_dir(rootfs)
    two = tar_of([("etc", "dir", None, None), ("etc/keep", "file", b"kept\n", None),
                  ("etc/www", "file", b"www\n", {"uid": 33, "gid": 33}),
                  ("etc/gone", "file", b"deleted later\n", None),
                  ("data", "dir", None, None), ("data/old", "file", b"old\n", None)])
    three = tar_of([("etc", "dir", None, None), ("etc/.wh.gone", "file", b"", None),
                    ("data", "dir", None, None), ("data/.wh..wh..opq", "file", b"", None),
                    ("data/new", "file", b"new\n", None),
                    ("data/hard", "link", "data/new", None),
                    ("data/soft", "sym", "/etc/keep", None)])
    return base, two, three


def write_layout(out, raw_layers, config, tag, arch_config=None):
    os.makedirs(f"{out}/blobs/sha256", exist_ok=True)

    def put(data):
        digest = sha(data)
        with open(f"{out}/blobs/sha256/{digest[7:]}", "wb") as f:
            f.write(data)
        return digest

    descriptors = []
    for data, media in raw_layers:
        descriptors.append({"mediaType": media, "digest": put(data), "size": len(data)})
    config_bytes = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": put(config_bytes), "size": len(config_bytes)},
                "layers": descriptors}
    manifest_bytes = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": put(manifest_bytes), "size": len(manifest_bytes),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(f"{out}/index.json", "w") as f:
        json.dump(index, f)
    with open(f"{out}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return manifest


def index_layout(out, raw, diff_ids):
    """layout-index/: an OCI index, tag "multi", with the multi image for
    this machine's architecture and a one-layer image for another."""
    import platform
    here = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    other = "arm64" if here != "arm64" else "amd64"
    path = f"{out}/layout-index"
    one = write_layout(path, raw, config_for(diff_ids, here), "x")
    alien_layer = tar_of([("etc", "dir", None, None), ("etc/keep", "file", b"alien\n", None)])
    two = write_layout(path, [(alien_layer, "application/vnd.oci.image.layer.v1.tar")],
                       config_for([sha(alien_layer)], other), "y")
    entries = []
    for manifest, arch in ((two, other), (one, here)):
        data = json.dumps(manifest).encode()
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": sha(data), "size": len(data),
                        "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    with open(f"{path}/blobs/sha256/{sha(index)[7:]}", "wb") as f:
        f.write(index)
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(index),
             "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]},
            f)


def config_for(diff_ids, arch="amd64"):
    return {"architecture": arch, "os": "linux", "created": "2026-01-02T03:04:05Z",
            "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=yes"],
                       "WorkingDir": "/data", "Cmd": ["cat", "/data/new"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids}}


def tar_path(path, target):
    with tarfile.open(target, "w") as tar:
        for entry in sorted(os.listdir(path)):
            tar.add(f"{path}/{entry}", arcname=entry)


def main(rootfs, out):
    os.makedirs(f"{out}/hostile", exist_ok=True)
    base, two, three = layers(rootfs)
    with open(f"{out}/rootfs.tar", "wb") as f:
        f.write(base)
    with open(f"{out}/rootfs.tar.gz", "wb") as f:
        f.write(gzip.compress(base, 1))
    import lzma
    with open(f"{out}/rootfs.tar.xz", "wb") as f:
        f.write(lzma.compress(base, preset=0))
    z = zstd(base)
    if z:
        with open(f"{out}/rootfs.tar.zst", "wb") as f:
            f.write(z)
    diff_ids = [sha(base), sha(two), sha(three)]
    third = zstd(three)
    raw = [(gzip.compress(base, 1), "application/vnd.oci.image.layer.v1.tar+gzip"),
           (two, "application/vnd.oci.image.layer.v1.tar"),
           (third, "application/vnd.oci.image.layer.v1.tar+zstd") if third else
           (gzip.compress(three), "application/vnd.oci.image.layer.v1.tar+gzip")]
    write_layout(f"{out}/layout", raw, config_for(diff_ids), "multi")
    tar_path(f"{out}/layout", f"{out}/layout.tar")

    # docker save: manifest.json, the config, uncompressed layer tars.
    save = f"{out}/save"
    os.makedirs(save)
    config_bytes = json.dumps(config_for(diff_ids)).encode()
    with open(f"{save}/{sha(config_bytes)[7:]}.json", "wb") as f:
        f.write(config_bytes)
    paths = []
    for i, data in enumerate((base, two, three)):
        os.makedirs(f"{save}/l{i}")
        with open(f"{save}/l{i}/layer.tar", "wb") as f:
            f.write(data)
        paths.append(f"l{i}/layer.tar")
    with open(f"{save}/manifest.json", "w") as f:
        json.dump([{"Config": f"{sha(config_bytes)[7:]}.json", "RepoTags": ["saved:v1"],
                    "Layers": paths}], f)
    tar_path(save, f"{out}/save.tar")
    shutil.rmtree(save)

    hostile = {
        "dotdot": [("a", "dir", None, None), ("a/../../escaped", "file", b"x", None)],
        "absolute": [("/tmp/unc-escaped-abs", "file", b"x", None)],
        "symlink-parent": [("link", "sym", "/tmp", None),
                           ("link/unc-escaped-sym", "file", b"x", None)],
        "hardlink-parent": [("target", "sym", "/tmp", None), ("hl", "link", "target", None),
                            ("hl/unc-escaped-hl", "file", b"x", None)],
        "hardlink-outside": [("passwd", "link", "../../../../etc/passwd", None)],
        "hardlink-absolute": [("passwd", "link", "/etc/passwd", None)],
    }
    for name, entries in hostile.items():
        with open(f"{out}/hostile/{name}.tar", "wb") as f:
            f.write(tar_of([("ok", "file", b"fine\n", None)] + entries))
    with open(f"{out}/hostile/device.tar", "wb") as f:
        f.write(tar_of([("bin", "dir", None, None)] + [
            (e, k, d, x) for e, k, d, x in [("dev", "dir", None, None),
                                            ("dev/null", "chr", None, None)]]) )
    with open(f"{out}/hostile/truncated.tar.gz", "wb") as f:
        whole = gzip.compress(base, 1)
        f.write(whole[:len(whole) // 2])
    with open(f"{out}/hostile/truncated.tar", "wb") as f:
        f.write(base[:len(base) // 2 + 100])
    # An OCI layout whose second layer's bytes do not match their digest.
    # (a layer of its own: one the store holds already is not read again)
    bad = f"{out}/hostile/bad-digest"
    own = tar_of([("only-here", "file", b"x" * 4096, None)])
    manifest = write_layout(bad, [(gzip.compress(base, 1), "application/vnd.oci.image.layer.v1.tar+gzip"),
                                  (own, "application/vnd.oci.image.layer.v1.tar")],
                            config_for([diff_ids[0], sha(own)]), "bad")
    path = f"{bad}/blobs/sha256/{manifest['layers'][1]['digest'][7:]}"
    with open(path, "r+b") as f:
        f.seek(600)
        f.write(b"tampered")
    # An index of two platforms: this host's (the multi image) and another.
    index_layout(out, raw, diff_ids)
    # An image for another architecture.
    write_layout(f"{out}/hostile/arm64", [(two, "application/vnd.oci.image.layer.v1.tar")],
                 config_for(diff_ids[1:2], arch="arm64"), "arm")


if __name__ == "__main__":
    main(*sys.argv[1:])
