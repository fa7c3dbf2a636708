#!/usr/bin/env python3
"""tests/registry/tar2layout.py DIR TAG ROOTFS.tar [CMD...]: an OCI image layout DIR holding one
container image tagged TAG whose only layer is ROOTFS.tar (gzip -1 -n), as a base image such as
Debian's official one is made; config: Cmd CMD (default bash), Env PATH as Debian's image has it.
Prints the manifest digest."""
import hashlib, json, os, shutil, subprocess, sys

d, tag, tar = sys.argv[1:4]
cmd = sys.argv[4:] or ["bash"]
os.makedirs(d + "/blobs/sha256", exist_ok=True)


def put_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
            n += len(b)
    shutil.move(path, d + "/blobs/sha256/" + h.hexdigest())
    return "sha256:" + h.hexdigest(), n


def put(b):
    h = hashlib.sha256(b).hexdigest()
    with open(d + "/blobs/sha256/" + h, "wb") as f:
        f.write(b)
    return "sha256:" + h, len(b)


diff = hashlib.sha256()
with open(tar, "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        diff.update(b)
gz = d + "/layer.tmp"
with open(gz, "wb") as out:
    subprocess.run(["gzip", "-1", "-n", "-c", tar], stdout=out, check=True)
ld, ls = put_file(gz)
cfg = {"architecture": "amd64", "os": "linux",
       "config": {"Cmd": cmd, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}}
cd, cs = put(json.dumps(cfg, sort_keys=True).encode())
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}
md, ms = put(json.dumps(m, sort_keys=True).encode())
with open(d + "/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(d + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
print(md)
