#!/usr/bin/env python3
"""Writes a one-layer image as a docker-archive tar, which `ctr images import` loads.

    image-archive.py ROOTFS_DIR REFERENCE OUT.tar [ENTRYPOINT...]

ROOTFS_DIR becomes the image's only layer (owned by root), REFERENCE (e.g. pause:1) its
tag, ENTRYPOINT its entrypoint. Same inputs give the same bytes: no timestamps in the
layer or the config.
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def layer_bytes(root):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, subdirs, files in os.walk(root):
            subdirs.sort()
            for name in sorted(subdirs) + sorted(files):
                path = os.path.join(directory, name)
                info = tar.gettarinfo(path, os.path.relpath(path, root))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isfile():
                    with open(path, "rb") as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)
    return out.getvalue()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    root, reference, out = sys.argv[1:4]
    layer = layer_bytes(root)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": sys.argv[4:] or None},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{
        "Config": config_name,
        "RepoTags": [reference],
        "Layers": ["layer.tar"],
    }]).encode()
    with tarfile.open(out, mode="w") as archive:
        for name, data in (("layer.tar", layer), (config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
