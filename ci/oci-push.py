#!/usr/bin/env python3
"""Write a single-layer image around one static binary, deterministically,
and push it to a Distribution (Docker registry v2) HTTP API.

No `docker build`: its image config carries a creation timestamp, so every
build would get a new digest. Here every byte is a function of the binary
(and of this script):

  layer     tar, USTAR, entries sorted: /<binary name> (0755) and /tmp/ (1777),
            uid/gid 0, no user/group names, mtime 0; gzip with a fixed
            10-byte header (mtime 0, no name, OS=255) and zlib deflate level 9
  config    JSON, sorted keys, no whitespace, created = 1970-01-01T00:00:00Z
  manifest  Docker v2 schema 2, JSON, sorted keys, no whitespace

stdout: the pinned reference <registry>/<repository>@sha256:<manifest digest>
(only that line). Everything else goes to stderr.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from typing import NoReturn

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EPOCH = "1970-01-01T00:00:00Z"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GZIP_LEVEL = 9


def log(msg: str) -> None:
    print(f"oci-push.py: {msg}", file=sys.stderr)


def die(msg: str) -> NoReturn:
    log(f"error: {msg}")
    sys.exit(1)


def elf_interpreter(binary: bytes) -> bool:
    """True when the ELF file asks for a program interpreter (dynamic loader),
    which a FROM-scratch image does not have."""
    if binary[4] != 2 or binary[5] != 1:  # ELFCLASS64, little endian
        die("expected a 64-bit little-endian ELF binary")
    e_phoff, = struct.unpack_from("<Q", binary, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", binary, 0x36)
    for i in range(e_phnum):
        p_type, = struct.unpack_from("<I", binary, e_phoff + i * e_phentsize)
        if p_type == 3:  # PT_INTERP
            return True
    return False


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def tar_layer(binary: bytes, name: str, with_tmp: bool) -> bytes:
    """Uncompressed layer tar. Entries sorted by name, fixed metadata."""

    def info(entry_name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(entry_name)
        ti.type = kind
        ti.mode = mode
        ti.size = size
        ti.mtime = 0
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    entries: list[tuple[str, tarfile.TarInfo, bytes | None]] = [
        (name, info(name, tarfile.REGTYPE, 0o755, len(binary)), binary),
    ]
    if with_tmp:
        entries.append(("tmp/", info("tmp/", tarfile.DIRTYPE, 0o1777), None))
    entries.sort(key=lambda e: e[0])

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for _, ti, data in entries:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gzip_deterministic(data: bytes) -> bytes:
    """RFC 1952 member with a fixed header; the deflate stream is zlib's at a
    fixed level, memLevel and strategy. (gzip.compress would do, but its header
    bytes vary across Python versions: OS byte, XFL.)"""
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"  # mtime 0, XFL=max, OS=unknown
    comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY)
    body = comp.compress(data) + comp.flush()
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer


@dataclass(frozen=True)
class Image:
    layer_tar: bytes
    layer_gz: bytes
    config: bytes
    manifest: bytes
    diff_id: str


def build_image(binary: bytes, entry_name: str, port: int, with_tmp: bool) -> Image:
    layer_tar = tar_layer(binary, entry_name, with_tmp)
    layer_gz = gzip_deterministic(layer_tar)
    if gzip.decompress(layer_gz) != layer_tar:  # check our own gzip writer
        die("internal: gzip round trip failed")
    diff_id = sha256(layer_tar)

    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": EPOCH,
        "config": {
            "Entrypoint": ["/" + entry_name],
            "Env": [DEFAULT_PATH],
            "ExposedPorts": {f"{port}/tcp": {}},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": EPOCH, "created_by": "ci/oci-push.py (single static binary layer)"}],
    }
    config_bytes = canonical_json(config)

    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": len(config_bytes), "digest": sha256(config_bytes)},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "size": len(layer_gz), "digest": sha256(layer_gz)}],
    }
    manifest_bytes = canonical_json(manifest)
    return Image(layer_tar, layer_gz, config_bytes, manifest_bytes, diff_id)


class Registry:
    def __init__(self, addr: str, repository: str, timeout: float) -> None:
        self.base = f"http://{addr}"
        self.repo = repository
        self.timeout = timeout

    def request(self, method: str, url: str, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urljoin(self.base, url)
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items()), e.read()
        except (urllib.error.URLError, OSError) as e:
            die(f"{method} {url}: {e} (is the registry up? run ci/registry-up)")

    def blob_exists(self, digest: str) -> bool:
        status, _, _ = self.request("HEAD", f"/v2/{self.repo}/blobs/{digest}")
        return status == 200

    def push_blob(self, data: bytes, what: str) -> None:
        digest = sha256(data)
        if self.blob_exists(digest):
            log(f"{what} {digest} already in registry, skipped")
            return
        status, headers, body = self.request("POST", f"/v2/{self.repo}/blobs/uploads/",
                                             data=b"", headers={"Content-Length": "0"})
        if status != 202:
            die(f"starting upload of {what}: HTTP {status}: {body[:500]!r}")
        location = headers.get("Location") or headers.get("location")
        if not location:
            die(f"starting upload of {what}: no Location header")
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(digest, safe=':')}"
        status, _, body = self.request("PUT", url, data=data, headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(data)),
        })
        if status != 201:
            die(f"uploading {what} {digest}: HTTP {status}: {body[:500]!r}")
        log(f"{what} {digest} pushed ({len(data)} bytes)")

    def push_manifest(self, manifest: bytes, tag: str) -> str:
        digest = sha256(manifest)
        for ref in (tag, digest):
            status, headers, body = self.request("PUT", f"/v2/{self.repo}/manifests/{ref}", data=manifest,
                                                 headers={"Content-Type": MANIFEST_MEDIA_TYPE})
            if status != 201:
                die(f"pushing manifest as {ref}: HTTP {status}: {body[:500]!r}")
            echoed = headers.get("Docker-Content-Digest") or headers.get("docker-content-digest")
            if echoed and echoed != digest:
                die(f"registry computed manifest digest {echoed}, we computed {digest}")
        # Read it back by digest: the registry must serve our exact bytes.
        status, _, body = self.request("GET", f"/v2/{self.repo}/manifests/{digest}",
                                       headers={"Accept": MANIFEST_MEDIA_TYPE})
        if status != 200 or body != manifest:
            die(f"reading manifest {digest} back: HTTP {status}, bytes {'match' if body == manifest else 'differ'}")
        return digest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="static binary to put at /<entry-name>")
    ap.add_argument("--entry-name", default="theory-reference-processor", help="file name inside the image")
    ap.add_argument("--port", type=int, default=8000, help="ExposedPorts entry (tcp)")
    ap.add_argument("--no-tmp", action="store_true", help="leave out the empty /tmp/ (mode 1777)")
    ap.add_argument("--registry", default=os.environ.get("THEORY_REGISTRY_ADDR", "127.0.0.1:5000"))
    ap.add_argument("--repository", default="theory/reference-processor")
    ap.add_argument("--tag", default="dev")
    ap.add_argument("--no-push", action="store_true", help="compute the digest only")
    ap.add_argument("--out-dir", help="also write blobs/sha256/<hex> and manifest.json here")
    ap.add_argument("--timeout", type=float, default=60.0, help="per HTTP request, seconds")
    args = ap.parse_args()

    try:
        with open(args.binary, "rb") as f:
            binary = f.read()
    except OSError as e:
        die(f"reading binary: {e}")
    if not binary.startswith(b"\x7fELF"):
        die(f"{args.binary} is not an ELF binary")
    if elf_interpreter(binary):
        die(f"{args.binary} is dynamically linked (has PT_INTERP); the image has no loader. "
            "Build it with -C target-feature=+crt-static (ci/build-reference-image does)")

    img = build_image(binary, args.entry_name, args.port, not args.no_tmp)
    manifest_digest = sha256(img.manifest)
    log(f"binary    {sha256(binary)} ({len(binary)} bytes)")
    log(f"diff_id   {img.diff_id} ({len(img.layer_tar)} bytes tar)")
    log(f"layer     {sha256(img.layer_gz)} ({len(img.layer_gz)} bytes gzip, zlib {zlib.ZLIB_RUNTIME_VERSION})")
    log(f"config    {sha256(img.config)} ({len(img.config)} bytes)")
    log(f"manifest  {manifest_digest} ({len(img.manifest)} bytes)")

    if args.out_dir:
        blobs = os.path.join(args.out_dir, "blobs", "sha256")
        os.makedirs(blobs, exist_ok=True)
        for data in (img.layer_gz, img.config, img.manifest):
            with open(os.path.join(blobs, sha256(data).split(":", 1)[1]), "wb") as f:
                f.write(data)
        with open(os.path.join(args.out_dir, "manifest.json"), "wb") as f:
            f.write(img.manifest)
        log(f"image files written under {args.out_dir}")

    if not args.no_push:
        reg = Registry(args.registry, args.repository, args.timeout)
        reg.push_blob(img.layer_gz, "layer")
        reg.push_blob(img.config, "config")
        pushed = reg.push_manifest(img.manifest, args.tag)
        log(f"manifest pushed as {args.registry}/{args.repository}:{args.tag} and @{pushed}")

    print(f"{args.registry}/{args.repository}@{manifest_digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
