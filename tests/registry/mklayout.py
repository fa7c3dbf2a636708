#!/usr/bin/env python3
"""tests/registry/mklayout.py DIR TAG ROOTFS [BIGBYTES]: writes an OCI image layout DIR holding one
container image (as docker or skopeo would store one) tagged TAG:
  layer 1: ROOTFS (a directory) as a gzip tar, plus /etc/gone and /opq/old;
  layer 2: a zstd tar with whiteouts: /etc/.wh.gone deletes /etc/gone, /opq/.wh..wh..opq
           empties /opq, and /opq/new is added;
  layer 3 (BIGBYTES > 0): /big, BIGBYTES random bytes, an uncompressed tar
           for the resumable-pull test.
Config: Entrypoint /bin/busybox, Cmd ["echo", "hello from a registry image"], Env, WorkingDir.
With PLAIN=1 layer 2 is an uncompressed tar (Docker schema 2 has no zstd). With INDEX=1 TAG names an OCI image index of two images: that one for
linux/amd64 and one for linux/arm64 (the same layers, its config saying arm64).
Prints the digest TAG names."""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

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
if os.environ.get("PLAIN") == "1":
    layers.append(("application/vnd.oci.image.layer.v1.tar",) + put(t2))
else:
    z2 = subprocess.run(["zstd", "-q", "-c"], input=t2, capture_output=True, check=True).stdout
    layers.append(("application/vnd.oci.image.layer.v1.tar+zstd",) + put(z2))
diffs.append("sha256:" + hashlib.sha256(t2).hexdigest())
if big:
    t3 = tar_of(lambda t: data(t, "big", os.urandom(big)))
    layers.append(("application/vnd.oci.image.layer.v1.tar",) + put(t3))
    diffs.append("sha256:" + hashlib.sha256(t3).hexdigest())
def image(arch):
    cfg = {"architecture": arch, "os": "linux",
           "config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["echo", "hello from a registry image"],
                      "Env": ["PATH=/bin", "FROM_REGISTRY=yes"], "WorkingDir": "/"},
           "rootfs": {"type": "layers", "diff_ids": diffs}}
    cd, cs = put(json.dumps(cfg, sort_keys=True).encode())
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
         "layers": [{"mediaType": mt, "digest": dg, "size": sz} for mt, dg, sz in layers]}
    return put(json.dumps(m, sort_keys=True).encode())


md, ms = image("amd64")
mt = "application/vnd.oci.image.manifest.v1+json"
if os.environ.get("INDEX") == "1":
    ad, asz = image("arm64")
    ix = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": mt, "digest": ad, "size": asz, "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": mt, "digest": md, "size": ms, "platform": {"os": "linux", "architecture": "amd64"}}]}
    md, ms = put(json.dumps(ix, sort_keys=True).encode())
    mt = "application/vnd.oci.image.index.v1+json"
with open(d + "/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(d + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [
        {"mediaType": mt, "digest": md, "size": ms,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
print(md)
