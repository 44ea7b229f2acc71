"""Session fixtures of the plain approach: the registry entry, one container
of the reference processor for the whole session (testcontainers-python, no
Ryuk), one HTTP client, and the three transports' calls.

The clients are synchronous (httpx.Client with keep-alive, the sync client
of `websockets`), so there is no event loop to create or to reuse.
"""

from __future__ import annotations

import os

# testcontainers reads this lazily, but set it before anything can start Ryuk:
# Ryuk's image lives on Docker Hub, which this machine cannot reach.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

import glob
import random
import shutil
import socket
import string
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import docker
import httpx
import pytest
import yaml
from testcontainers.core.container import DockerContainer
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

import baseline_contract as bc

ROOT = Path(__file__).resolve().parents[2]
SUBPROTOCOL = "theory.run.v1"
PROCESSOR = "theory/reference@0.1.0"
MODE = "mock"
WORK_DIR = Path(os.environ.get("BASELINE_WORK_DIR", "/tmp/theory-baseline"))
CLOSE_WAIT = 2.0  # seconds a server has to close after RunResult


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for unit in ("ms", "s", "m"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


# --------------------------------------------------------------------------
# The registry entry (the same file theory-conform reads, THEORY_REGISTRY honoured)


@dataclass
class Fixture:
    kind: str
    name: str
    value: Any


@dataclass
class Entry:
    image: str
    repository: str
    digest: Optional[str]
    expected: Optional[str]
    port: int
    env: dict[str, str]
    health: float
    run_timeout: float
    transports: list[str]
    fixtures: dict[str, list[Fixture]]

    def expected_digest(self) -> Optional[str]:
        """expected_oci's digest, else the image's pin (check/common.rs)."""
        for ref in (self.expected, self.image):
            if ref and "@" in ref:
                return ref.split("@", 1)[1]
        return None


def load_entry() -> Entry:
    path = Path(os.environ.get("THEORY_REGISTRY", ROOT / "registry.yaml")).resolve()
    doc = yaml.safe_load(path.read_text())
    raw = doc["processors"][PROCESSOR]
    image = raw["image"]
    repository, _, digest = image.partition("@")
    folder = Path(raw["fixtures"])
    if not folder.is_absolute():
        folder = path.parent / folder
    fixtures: dict[str, list[Fixture]] = {}
    for kind in ("valid", "invalid", "crash"):
        files = sorted(glob.glob(str(folder / kind / "*.json")))
        fixtures[kind] = [Fixture(kind, Path(f).stem, bc.parse_strict(Path(f).read_bytes())) for f in files]
    return Entry(
        image=image,
        repository=repository,
        digest=digest or None,
        expected=raw.get("expected_oci"),
        port=int(raw.get("port", 8000)),
        env={k: str(v) for k, v in (raw.get("env") or {}).items()},
        health=_duration(str(raw.get("health", "12s"))),
        run_timeout=_duration(str(raw.get("run_timeout", "30s"))),
        transports=list(raw.get("transports", ["ws", "http"])),
        fixtures=fixtures,
    )


# --------------------------------------------------------------------------
# Ids and prefixes: random, as the harness draws them (CONTRACT.md §12)

_ID_FIRST = string.ascii_letters + string.digits
_ID_REST = _ID_FIRST + "._-"
_SEGMENT = string.ascii_lowercase + string.digits


@dataclass
class RunIds:
    execution_id: str
    prefix: str  # absolute, one trailing slash


class Ids:
    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.rng = random.Random()

    def next(self) -> RunIds:
        r = self.rng
        execution_id = r.choice(_ID_FIRST) + "".join(r.choice(_ID_REST) for _ in range(r.randint(7, 31)))
        segment = r.choice(_SEGMENT) + "".join(r.choice(_SEGMENT + "_-") for _ in range(r.randint(3, 11)))
        prefix = f"{self.mount}/{segment}/{execution_id}/"
        os.makedirs(prefix, exist_ok=True)
        return RunIds(execution_id, prefix)


def make_request(run: RunIds, inputs: Any) -> dict[str, Any]:
    return {"execution_id": run.execution_id, "payload": {"inputs": inputs, "write_prefix": run.prefix, "mode": MODE}}


def run_open(request: dict[str, Any]) -> str:
    return bc.canonical_text({"kind": "RunOpen", "content": {"role": "client", **request}})


# --------------------------------------------------------------------------
# One exchange with the processor, whatever the transport


@dataclass
class Exchange:
    transport: str
    http_status: Optional[int] = None
    raw: Optional[bytes] = None  # the envelope's bytes as received
    envelope: Any = None  # strictly parsed, or None
    breaks: list[str] = field(default_factory=list)  # protocol rules broken
    kinds: list[str] = field(default_factory=list)  # WS frame kinds / SSE event names, in order
    close_code: Optional[int] = None
    subprotocol: Optional[str] = None
    error: Optional[str] = None  # no answer: "timeout: ..." or "transport: ..."

    def take(self, raw: bytes) -> None:
        self.raw = raw
        try:
            self.envelope = bc.parse_strict(raw)
        except bc.NotStrictJson as e:
            self.breaks.append(f"envelope.not_json: {e}")

    def trace(self) -> str:
        return (
            f"[{self.transport}] status={self.http_status} kinds={self.kinds} close={self.close_code} "
            f"breaks={self.breaks} error={self.error} body={self.raw[:600] if self.raw else None!r}"
        )


class Processor:
    """The session's container and the clients that reach it."""

    def __init__(self, entry: Entry, base: str, http: httpx.Client, engine_digest: Optional[str], health: dict):
        self.entry = entry
        self.base = base
        self.ws_url = base.replace("http://", "ws://", 1) + "/run"
        self.http = http
        self.engine_digest = engine_digest
        self.health = health
        self.host_values = [socket.gethostname()]

    # -- raw calls ----------------------------------------------------------

    def ws_raw(self, first: str, offer: bool = True, budget: Optional[float] = None) -> Exchange:
        """Opens /run, sends one text frame, reads every frame until the close."""
        budget = budget or self.entry.run_timeout
        ex = Exchange("ws")
        deadline = time.monotonic() + budget
        try:
            ws = ws_connect(
                self.ws_url,
                subprotocols=[SUBPROTOCOL] if offer else None,
                open_timeout=budget,
                close_timeout=CLOSE_WAIT,
                max_size=16 * 1024 * 1024,
                compression=None,
            )
        except InvalidStatus as e:
            ex.http_status = e.response.status_code
            ex.breaks.append("ws.handshake.refused")
            return ex
        except (OSError, TimeoutError) as e:
            ex.error = f"transport: {e}"
            return ex
        with ws:
            ex.http_status = 101
            ex.subprotocol = ws.subprotocol
            if offer and ws.subprotocol != SUBPROTOCOL:
                # Offered and not selected: the handshake failed; go no further.
                ex.breaks.append("ws.subprotocol.not_selected")
                return ex
            if not offer and ws.subprotocol is not None:
                ex.breaks.append("ws.subprotocol.unexpected")
            try:
                ws.send(first)
                results = 0
                while True:
                    wait = CLOSE_WAIT if results else deadline - time.monotonic()
                    if wait <= 0:
                        raise TimeoutError
                    message = ws.recv(timeout=wait)
                    if results:
                        ex.breaks.append("ws.frame.after_result")
                    if isinstance(message, bytes):
                        ex.breaks.append("ws.frame.not_text")
                        continue
                    try:
                        frame = bc.parse_strict(message)
                    except bc.NotStrictJson:
                        ex.breaks.append("ws.frame.not_json")
                        continue
                    if not (isinstance(frame, dict) and set(frame) == {"kind", "content"} and isinstance(frame["kind"], str)):
                        ex.breaks.append("ws.frame.shape")
                        continue
                    kind = frame["kind"]
                    ex.kinds.append(kind)
                    if kind not in bc.FRAME_KINDS:
                        ex.breaks.append("ws.frame.unknown_kind")
                    if len(ex.kinds) == 1 and kind != "Ack":
                        ex.breaks.append("ws.ack.missing")
                    elif len(ex.kinds) > 1 and kind == "Ack":
                        ex.breaks.append("ws.ack.misplaced")
                    if kind == "RunResult":
                        results += 1
                        if results > 1:
                            ex.breaks.append("ws.result.duplicate")
                        else:
                            ex.raw = bc.canonical(frame["content"])
                            ex.envelope = frame["content"]
            except ConnectionClosed as e:
                ex.close_code = e.rcvd.code if e.rcvd is not None else None
                if ex.envelope is not None:
                    if ex.close_code is None:
                        ex.breaks.append("ws.close.missing")
                    elif ex.close_code != 1000:
                        ex.breaks.append("ws.close.code")
                else:
                    ex.breaks.append("ws.result.missing")
            except TimeoutError:
                if ex.envelope is not None:
                    ex.breaks.append("ws.close.missing")
                else:
                    ex.error = f"timeout: no RunResult within {budget:.0f} s"
        return ex

    def http_raw(self, path: str, content_type: Optional[str], body: bytes, budget: Optional[float] = None) -> Exchange:
        """POST `body` to /run (an envelope) or /run-stream (SSE, or an envelope when refused)."""
        budget = budget or self.entry.run_timeout
        transport = "sse" if path == "/run-stream" else "http"
        ex = Exchange(transport)
        headers = {"content-type": content_type} if content_type is not None else {}
        try:
            with self.http.stream("POST", path, content=body, headers=headers, timeout=budget) as response:
                ex.http_status = response.status_code
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media == "text/event-stream":
                    self._read_sse(ex, response)
                else:
                    if media != "application/json":
                        ex.breaks.append("http.content_type")
                    ex.take(response.read())
        except httpx.TimeoutException as e:
            ex.error = f"timeout: {e!r}"
        except httpx.HTTPError as e:
            if ex.http_status is None:
                ex.error = f"transport: {e!r}"  # nothing answered: infrastructure
            else:
                ex.breaks.append(f"http.response.broken: {e!r}")  # cut mid-answer: the processor's fault
        return ex

    @staticmethod
    def _read_sse(ex: Exchange, response: httpx.Response) -> None:
        name, data = None, []

        def dispatch() -> None:
            if not data and name is None:
                return
            event = name or "message"
            ex.kinds.append(event)
            if "done" in ex.kinds[:-1]:
                ex.breaks.append("sse.event.after_done")
            if event == "done":
                if ex.kinds.count("done") > 1:
                    ex.breaks.append("sse.done.duplicate")
                else:
                    ex.take("\n".join(data).encode("utf-8"))
            elif event != "progress":
                ex.breaks.append("sse.event.unknown")

        for line in response.iter_lines():
            if line == "":
                dispatch()
                name, data = None, []
            elif line.startswith(":"):
                continue
            else:
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "event":
                    name = value
                elif key == "data":
                    data.append(value)
        dispatch()
        if "done" not in ex.kinds:
            ex.breaks.append("sse.done.missing")

    # -- one standard call ----------------------------------------------------

    def call(self, transport: str, request: dict[str, Any]) -> Exchange:
        if transport == "ws":
            return self.ws_raw(run_open(request))
        body = bc.canonical(request)
        path = "/run-stream" if transport == "sse" else "/run"
        return self.http_raw(path, "application/json", body)

    # -- the orchestrator's policy (src/orchestrator.rs judge), no retries ------

    def own_error(self, run: RunIds, code: str, message: str) -> dict[str, Any]:
        return {
            "status": "error",
            "execution_id": run.execution_id,
            "error": {"code": code, "message": message[: bc.MESSAGE_MAX]},
            "meta": {"env_fingerprint": "runtime:local"},
        }

    def judge(self, ex: Exchange, run: RunIds, expected: Optional[str] = None) -> dict[str, Any]:
        """The final envelope of a run: the processor's, or the error naming its breach."""
        if ex.error is not None:
            code = "ERR_TIMEOUT" if ex.error.startswith("timeout") else "ERR_INTERNAL"
            return self.own_error(run, code, ex.error)
        protocol = [b for b in ex.breaks if not b.startswith("envelope.")]
        if protocol:
            return self.own_error(run, "ERR_INTERNAL", f"processor broke the protocol: {protocol[0]}")
        if ex.envelope is None:
            return self.own_error(run, "ERR_INTERNAL", "processor answer is not JSON")
        doc = ex.envelope
        violations = bc.check_envelope(doc, run.execution_id, run.prefix, self.host_values)
        violations += bc.check_disk(doc, run.prefix)
        if violations:
            return self.own_error(run, "ERR_INTERNAL", f"processor broke the contract: {sorted(violations)[0]}")
        if ex.transport in ("http", "sse") and ex.http_status != 200 and doc["status"] == "success":
            return self.own_error(run, "ERR_INTERNAL", f"http status {ex.http_status} with a success envelope")
        seen = doc["meta"].get("image_digest")
        mismatch = None
        if expected is not None and seen != expected:
            mismatch = f"expected image digest {expected}, but meta.image_digest is {seen}"
        want = expected or self.entry.digest
        if mismatch is None and want is not None and self.engine_digest != want:
            mismatch = f"expected image digest {want}, but the engine runs {self.engine_digest}"
        if mismatch is not None:
            return {
                "status": "error",
                "execution_id": run.execution_id,
                "error": {"code": "ERR_REGISTRY_MISMATCH", "message": mismatch},
                "meta": doc["meta"],
            }
        return doc

    def run(self, transport: str, run: RunIds, inputs: Any, expected: Optional[str] = None) -> tuple[dict[str, Any], Exchange]:
        ex = self.call(transport, make_request(run, inputs))
        return self.judge(ex, run, expected), ex


# --------------------------------------------------------------------------
# Session fixtures


def engine_digest(client: docker.DockerClient, container_id: str, repository: str) -> Optional[str]:
    """The digest the engine reports for the container's image in `repository`."""
    image_id = client.api.inspect_container(container_id)["Image"]
    for entry in client.api.inspect_image(image_id).get("RepoDigests") or []:
        repo, _, digest = entry.partition("@")
        if repo == repository and bc.DIGEST_RE.fullmatch(digest):
            return digest
    return None


def wait_healthy(http: httpx.Client, budget: float) -> dict[str, Any]:
    """GET /healthz with exponential backoff and jitter, 100 ms to 1.6 s a step (CONTRACT.md §9)."""
    started = time.monotonic()
    step, last = 0.1, "no answer"
    while True:
        try:
            r = http.get("/healthz", timeout=max(0.1, budget - (time.monotonic() - started)))
            if r.status_code == 200 and bc.parse_strict(r.content) == {"ok": True}:
                return {"ok": True, "elapsed": time.monotonic() - started, "status": r.status_code}
            last = f"{r.status_code} {r.content[:200]!r}"
        except (httpx.HTTPError, bc.NotStrictJson) as e:
            last = repr(e)
        elapsed = time.monotonic() - started
        if elapsed >= budget:
            return {"ok": False, "elapsed": elapsed, "last": last}
        time.sleep(min(step * random.uniform(0.5, 1.0), budget - elapsed))
        step = min(step * 2, 1.6)


@pytest.fixture(scope="session")
def entry() -> Entry:
    return load_entry()


@pytest.fixture(scope="session")
def mount() -> Path:
    """The run folder: bind-mounted into the container at the same path."""
    path = WORK_DIR / f"baseline-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def proc(entry: Entry, mount: Path) -> Processor:
    container = DockerContainer(entry.image)
    container.ports[f"{entry.port}/tcp"] = ("127.0.0.1",)  # loopback only, a port the engine picks
    for key, value in entry.env.items():
        container.with_env(key, value)
    if entry.digest:
        container.with_env("IMAGE_DIGEST", entry.digest)
    container.with_volume_mapping(str(mount), str(mount), "rw")
    container.start()
    try:
        client = container.get_docker_client()
        port = client.port(container.get_container_id(), entry.port)
        base = f"http://127.0.0.1:{port}"
        digest = engine_digest(client.client, container.get_container_id(), entry.repository)
        with httpx.Client(base_url=base) as http:
            health = wait_healthy(http, entry.health)
            yield Processor(entry, base, http, digest, health)
    finally:
        container.stop()


@pytest.fixture
def ids(mount: Path) -> Ids:
    return Ids(mount)
