#!/usr/bin/env python3
"""tests/registry/mklayout.py DIR TAG ROOTFS [BIGBYTES]: writes an OCI image layout DIR holding one
container image (as docker or skopeo would store one) tagged TAG:
  layer 1: ROOTFS (a directory) as a gzip tar, plus /etc/gone and /opq/old;
  layer 2: an uncompressed tar with whiteouts: /etc/.wh.gone deletes /etc/gone, /opq/.wh..wh..opq
           empties /opq, and /opq/new is added;
  layer 3 (BIGBYTES > 0): /big, BIGBYTES random bytes, an uncompressed tar
           for the resumable-pull test.
Config: Entrypoint /bin/busybox, Cmd ["echo", "hello from a registry image"], Env, WorkingDir.
Prints the manifest digest."""
import gzip, hashlib, io, json, os, sys, tarfile

d, tag, root = sys.argv[1], sys.argv[2], sys.argv[3]
big = int(sys.argv[4]) if len(sys.argv) > 4 else 0
os.makedirs(d + "/blobs/sha256", exist_ok=True)


def put(b):
    h = hashlib.sha256(b).hexdigest()
    with open(d + "/blobs/sha256/" + h, "wb") as f:
        f.write(b)
    return "sha256:" + h, len(b)


def tar_of(add):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        add(t)
    return bio.getvalue()


def fixed(ti):
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
    return ti


def data(t, name, b):
    ti = fixed(tarfile.TarInfo(name))
    ti.size = len(b)
    t.addfile(ti, io.BytesIO(b))


def l1(t):
    t.add(root, arcname=".", filter=fixed)
    data(t, "etc/gone", b"to be deleted\n")
    data(t, "opq/old", b"hidden by an opaque whiteout\n")


def l2(t):
    data(t, "etc/.wh.gone", b"")
    data(t, "opq/.wh..wh..opq", b"")
    data(t, "opq/new", b"after the opaque whiteout\n")


layers, diffs = [], []
t1 = tar_of(l1)
g1 = gzip.compress(t1, mtime=0)
layers.append(("application/vnd.oci.image.layer.v1.tar+gzip",) + put(g1))
diffs.append("sha256:" + hashlib.sha256(t1).hexdigest())
t2 = tar_of(l2)
layers.append(("application/vnd.oci.image.layer.v1.tar",) + put(t2))
diffs.append("sha256:" + hashlib.sha256(t2).hexdigest())
if big:
    t3 = tar_of(lambda t: data(t, "big", os.urandom(big)))
    layers.append(("application/vnd.oci.image.layer.v1.tar",) + put(t3))
    diffs.append("sha256:" + hashlib.sha256(t3).hexdigest())
cfg = {"architecture": "amd64", "os": "linux",
       "config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["echo", "hello from a registry image"],
                  "Env": ["PATH=/bin", "FROM_REGISTRY=yes"], "WorkingDir": "/"},
       "rootfs": {"type": "layers", "diff_ids": diffs}}
cd, cs = put(json.dumps(cfg, sort_keys=True).encode())
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
     "layers": [{"mediaType": mt, "digest": dg, "size": sz} for mt, dg, sz in layers]}
md, ms = put(json.dumps(m, sort_keys=True).encode())
with open(d + "/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(d + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
print(md)
