"""The contract helpers the plain approach needs, written once in Python.

Canonical JSON (RFC 8785 for the values envelopes hold), a strict parser,
the envelope rules of docs/rules.md (shape, value, context and disk), the
golden redaction and rendering of src/conform/golden.rs, and the
orchestrator's judgement of an answer (src/orchestrator.rs `judge`, without
retries). Nothing here talks to a processor.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Iterable

ERROR_CODES = frozenset(
    {
        "ERR_INPUTS",
        "ERR_MISSING_SECRET",
        "ERR_ENDPOINT_MISSING",
        "ERR_IMAGE_NOT_FOUND",
        "ERR_HEALTH",
        "ERR_REGISTRY_MISMATCH",
        "ERR_DOCKER",
        "ERR_TIMEOUT",
        "ERR_INTERNAL",
    }
)
FRAME_KINDS = frozenset({"Ack", "Token", "Frame", "Log", "Event", "RunResult"})
HOST_KEYS = frozenset(
    {
        "boot_id", "container", "container_id", "date", "host", "hostname", "ip",
        "machine_id", "node", "pid", "time", "timestamp", "ts", "uptime",
    }
)
STACK_TRACE_MARKERS = (
    "Traceback (most recent call last)",
    "stack backtrace:",
    "' panicked at ",
    "\n    at ",
    "\n\tat ",
    'Exception in thread "',
    "goroutine 1 [",
)
MESSAGE_MAX = 1024
STDERR_TAIL_MAX = 2048
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
FP_KEY_RE = re.compile(r"[a-z][a-z0-9_.-]*")
FP_VALUE_RE = re.compile(r"[A-Za-z0-9._/+@:-]+")
TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
PID_RE = re.compile(r"(?<![a-z0-9])pid *(?:[=:#] *)?[0-9]", re.IGNORECASE)

# --------------------------------------------------------------------------
# JSON


class NotStrictJson(ValueError):
    """A document the contract's strict parser refuses."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotStrictJson(f"duplicate member {key!r}")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not JSON")


def parse_strict(raw: bytes | str) -> Any:
    """Parses JSON strictly: UTF-8, no BOM, no duplicate members, no NaN."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NotStrictJson(str(e)) from e


def _number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:  # ECMAScript: no leading zeros in the exponent, explicit +
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def canonical_text(value: Any) -> str:
    """RFC 8785 text: members sorted by UTF-16 code units, no whitespace."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical_text(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{canonical_text(value[k])}" for k in keys) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def canonical(value: Any) -> bytes:
    return canonical_text(value).encode("utf-8")


def comparable(doc: Any) -> bytes:
    """Canonical bytes with outputs[] sorted and meta.stderr_tail dropped (§3)."""
    if isinstance(doc, dict):
        doc = dict(doc)
        if isinstance(doc.get("outputs"), list):
            doc["outputs"] = sorted(doc["outputs"], key=lambda o: _path_key(o))
        if isinstance(doc.get("meta"), dict):
            doc["meta"] = {k: v for k, v in doc["meta"].items() if k != "stderr_tail"}
    return canonical(doc)


def _path_key(item: Any) -> tuple[int, bytes]:
    path = item.get("path") if isinstance(item, dict) else None
    return (0, b"") if not isinstance(path, str) else (1, path.encode("utf-8"))


# --------------------------------------------------------------------------
# Goldens


def redacted(doc: Any, execution_id: str, prefix: str) -> bytes:
    """The run's id and prefix as placeholders, meta.image_digest dropped, comparable bytes."""
    trimmed = prefix.rstrip("/")

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            if value == execution_id:
                return "{execution_id}"
            if trimmed and trimmed in value:
                value = value.replace(trimmed, "{prefix}")
            if len(execution_id) >= 8 and execution_id in value:
                value = value.replace(execution_id, "{execution_id}")
            return value
        if isinstance(value, list):
            return [walk(v, path + ("[]",)) for v in value]
        if isinstance(value, dict):
            items = value.items()
            if path == ("meta",):
                items = [(k, v) for k, v in items if k != "image_digest"]
            return {k: walk(v, path + (k,)) for k, v in items}
        return value

    return comparable(walk(doc, ()))


def render(canonical_bytes: bytes) -> str:
    """A golden body: canonical JSON one member or element per line."""
    out: list[str] = []

    def write(value: Any, depth: int) -> None:
        pad = "  " * (depth + 1)
        if isinstance(value, list) and value:
            out.append("[\n")
            for i, item in enumerate(value):
                out.append(pad)
                write(item, depth + 1)
                out.append(",\n" if i + 1 < len(value) else "\n")
            out.append("  " * depth + "]")
        elif isinstance(value, dict) and value:
            out.append("{\n")
            keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
            for i, key in enumerate(keys):
                out.append(pad + canonical_text(key) + ": ")
                write(value[key], depth + 1)
                out.append(",\n" if i + 1 < len(keys) else "\n")
            out.append("  " * depth + "}")
        else:
            out.append(canonical_text(value))

    write(parse_strict(canonical_bytes), 0)
    return "".join(out)


def golden_body(path: str) -> str:
    """What follows a snapshot's header, without the final newline."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rest = text.removeprefix("---\n")
    body = rest[rest.index("\n---\n") + 5 :]
    return body.removesuffix("\n")


# --------------------------------------------------------------------------
# Envelope rules (docs/rules.md): shape, value, context


def _under(prefix: str, path: str) -> bool:
    return len(path) > len(prefix) and path.startswith(prefix) and ".." not in path.split("/")


def _normal(path: str) -> bool:
    rest = path[1:] if path.startswith("/") else None
    return (
        rest is not None
        and not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in path)
        and rest != ""
        and all(s not in ("", ".", "..") for s in rest.split("/"))
    )


def _fingerprint(fp: str) -> list[str]:
    if not fp:
        return ["envelope.meta.env_fingerprint.malformed"]
    keys = []
    for pair in fp.split(";"):
        key, sep, value = pair.partition(":")
        if not sep or not FP_KEY_RE.fullmatch(key) or not FP_VALUE_RE.fullmatch(value):
            return ["envelope.meta.env_fingerprint.malformed"]
        keys.append(key)
    for before, after in zip(keys, keys[1:]):
        if after == before:
            return ["envelope.meta.env_fingerprint.duplicate_key"]
        if after < before:
            return ["envelope.meta.env_fingerprint.unsorted"]
    return ["envelope.meta.env_fingerprint.host_data" for k in keys if k in HOST_KEYS]


def check_envelope(
    doc: Any,
    execution_id: str | None = None,
    prefix: str | None = None,
    host_values: Iterable[str] = (),
) -> list[str]:
    """Every rule `doc` breaks, as `rule at pointer` strings (empty: valid)."""
    v: list[str] = []
    if not isinstance(doc, dict):
        return ["envelope.not_object"]
    status = doc.get("status")
    if "status" not in doc:
        v.append("envelope.status.missing")
    elif status not in ("success", "error"):
        v.append("envelope.status.invalid")
    allowed = {
        "success": {"status", "execution_id", "outputs", "index_path", "meta"},
        "error": {"status", "execution_id", "error", "meta"},
    }.get(status, {"status", "execution_id", "outputs", "index_path", "error", "meta"})
    v += [f"envelope.unknown_field at /{k}" for k in doc if k not in allowed]
    if "execution_id" not in doc:
        v.append("envelope.execution_id.missing")
    elif not isinstance(doc["execution_id"], str):
        v.append("envelope.execution_id.type")
    elif execution_id is not None and doc["execution_id"] != execution_id:
        v.append("envelope.execution_id.mismatch")

    def path_rules(path: Any, at: str, name: str) -> None:
        if not isinstance(path, str):
            v.append(f"envelope.{name}.type at {at}")
        elif not path.startswith("/"):
            v.append(f"envelope.{name}.not_absolute at {at}")
        else:
            if not _normal(path):
                v.append(f"envelope.{name}.not_normalized at {at}")
            if prefix is not None and not _under(prefix, path):
                v.append(f"envelope.{name}.outside_prefix at {at}")

    if status == "success":
        index = doc.get("index_path")
        if "index_path" not in doc:
            v.append("envelope.index_path.missing")
        else:
            path_rules(index, "/index_path", "index_path")
        outputs = doc.get("outputs")
        if "outputs" not in doc:
            v.append("envelope.outputs.missing")
        elif not isinstance(outputs, list):
            v.append("envelope.outputs.type")
        else:
            paths: list[str] = []
            for i, item in enumerate(outputs):
                if not isinstance(item, dict):
                    v.append(f"envelope.outputs.type at /outputs/{i}")
                    continue
                v += [f"envelope.outputs.unknown_field at /outputs/{i}/{k}" for k in item if k != "path"]
                if "path" not in item:
                    v.append(f"envelope.outputs.path.missing at /outputs/{i}")
                    continue
                path = item["path"]
                if not isinstance(path, str):
                    v.append(f"envelope.outputs.path.type at /outputs/{i}/path")
                    continue
                path_rules(path, f"/outputs/{i}/path", "outputs")
                if path == index:
                    v.append(f"envelope.outputs.lists_index at /outputs/{i}/path")
                paths.append(path)
            encoded = [p.encode("utf-8") for p in paths]
            if encoded != sorted(encoded):
                v.append("envelope.outputs.unsorted")
            if len(set(paths)) != len(paths):
                v.append("envelope.outputs.duplicate")
    elif status == "error":
        error = doc.get("error")
        if "error" not in doc:
            v.append("envelope.error.missing")
        elif not isinstance(error, dict):
            v.append("envelope.error.type")
        else:
            v += [f"envelope.error.unknown_field at /error/{k}" for k in error if k not in ("code", "message")]
            if "code" not in error:
                v.append("envelope.error.code.missing")
            elif error["code"] not in ERROR_CODES:
                v.append("envelope.error.code.unknown")
            message = error.get("message")
            if "message" not in error:
                v.append("envelope.error.message.missing")
            elif not isinstance(message, str):
                v.append("envelope.error.message.type")
            else:
                if not message.strip():
                    v.append("envelope.error.message.empty")
                if len(message.encode("utf-8")) > MESSAGE_MAX:
                    v.append("envelope.error.message.too_long")
                if any(m in message for m in STACK_TRACE_MARKERS):
                    v.append("envelope.error.message.stack_trace")

    meta = doc.get("meta")
    if "meta" not in doc:
        v.append("envelope.meta.missing")
    elif not isinstance(meta, dict):
        v.append("envelope.meta.type")
    else:
        v += [f"envelope.meta.unknown_field at /meta/{k}" for k in meta
              if k not in ("env_fingerprint", "image_digest", "stderr_tail")]
        fp = meta.get("env_fingerprint")
        if "env_fingerprint" not in meta:
            v.append("envelope.meta.env_fingerprint.missing")
        elif not isinstance(fp, str):
            v.append("envelope.meta.env_fingerprint.type")
        else:
            v += _fingerprint(fp)
        if "image_digest" in meta:
            d = meta["image_digest"]
            if not isinstance(d, str):
                v.append("envelope.meta.image_digest.type")
            elif not DIGEST_RE.fullmatch(d):
                v.append("envelope.meta.image_digest.malformed")
        if "stderr_tail" in meta:
            tail = meta["stderr_tail"]
            if not isinstance(tail, str):
                v.append("envelope.meta.stderr_tail.type")
            else:
                if len(tail.encode("utf-8", "surrogatepass")) > STDERR_TAIL_MAX:
                    v.append("envelope.meta.stderr_tail.too_long")
                if tail.startswith("\ufffd"):
                    v.append("envelope.meta.stderr_tail.split_char")

    hosts = [h for h in host_values if len(h) >= 3]

    def volatile(value: Any, at: str) -> None:
        if isinstance(value, dict):
            for k, item in value.items():
                child = f"{at}/{k}"
                if child not in ("/meta/stderr_tail", "/execution_id", "/meta/image_digest"):
                    volatile(item, child)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                volatile(item, f"{at}/{i}")
        elif isinstance(value, str):
            text = value.replace(prefix, "/") if prefix else value
            if execution_id:
                text = text.replace(execution_id, "")
            if TIMESTAMP_RE.search(text):
                v.append(f"envelope.volatile.timestamp at {at}")
            if PID_RE.search(text):
                v.append(f"envelope.volatile.pid at {at}")
            if any(h in text for h in hosts):
                v.append(f"envelope.volatile.host at {at}")

    volatile(doc, "")
    return v


def check_disk(doc: Any, prefix: str) -> list[str]:
    """The disk rules (src/artifacts.rs): files exist, stay under the prefix, the index matches."""
    try:
        real_prefix = os.path.realpath(prefix, strict=True)
    except OSError:
        return []
    v: list[str] = []

    def regular(path: Any, at: str, name: str) -> bool:
        if not isinstance(path, str) or not path.startswith("/"):
            return False
        try:
            real = os.path.realpath(path, strict=True)
        except OSError:
            v.append(f"envelope.{name}.missing_file at {at}")
            return False
        if not real.startswith(real_prefix + "/"):
            v.append(f"envelope.{name}.escapes_prefix at {at}")
            return False
        if not os.path.isfile(real):
            v.append(f"envelope.{name}.missing_file at {at}")
            return False
        return True

    if not isinstance(doc, dict):
        return v
    outputs = doc.get("outputs")
    if isinstance(outputs, list):
        for i, item in enumerate(outputs):
            if isinstance(item, dict):
                regular(item.get("path"), f"/outputs/{i}/path", "outputs")
    index = doc.get("index_path")
    if regular(index, "/index_path", "index_path"):
        with open(index, "rb") as f:
            raw = f.read()
        try:
            value = parse_strict(raw)
        except NotStrictJson:
            v.append("envelope.index.not_canonical at /index_path")
            return v
        if canonical(value) != raw:
            v.append("envelope.index.not_canonical at /index_path")
        if outputs is not None and canonical(value) != canonical({"outputs": outputs}):
            v.append("envelope.index.mismatch at /index_path")
    return v
