# The hks python loader. The engine starts it in a sandbox before any
# function needs it; the first frame it reads specializes it: it imports
# /code/<entry> and from then on answers invoke frames, calling handle(req)
# on a pool of threads as wide as the version's concurrency. Frames are a
# 4-byte big-endian length and JSON, read from fd 3 and written to fd 4.
# print() and sys.stderr during an invocation are that invocation's logs
# (a context variable keeps concurrent calls apart), at most 64 KiB.
import asyncio
import base64
import contextvars
import importlib.util
import io
import json
import os
import struct
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

CODE = os.environ.pop("HKS_CODE_DIR", "/code")
LOG_CAP = 64 * 1024

_logs = contextvars.ContextVar("hks_logs", default=None)


class _Cap:
    def __init__(self):
        self.parts = []
        self.size = 0

    def add(self, s):
        b = s.encode("utf-8", "replace") if isinstance(s, str) else bytes(s)
        room = LOG_CAP - self.size
        if room > 0:
            b = b[:room]
            self.parts.append(b)
            self.size += len(b)

    def text(self):
        return b"".join(self.parts).decode("utf-8", "replace")


class _Router(io.TextIOBase):
    """sys.stdout / sys.stderr: the current invocation's logs, else the real stream."""

    def __init__(self, real):
        self._real = real

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"

    def write(self, s):
        cap = _logs.get()
        if cap is None:
            return self._real.write(s)
        cap.add(s)
        return len(s)

    def flush(self):
        if _logs.get() is None:
            self._real.flush()

    def isatty(self):
        return False


sys.stdout = _Router(sys.stdout)
sys.stderr = _Router(sys.stderr)

_in = os.fdopen(3, "rb", buffering=0)
_out = os.fdopen(4, "wb")
_out_lock = threading.Lock()


def _send(msg):
    try:
        body = json.dumps(msg).encode("utf-8")
    except Exception as e:  # an unserializable response
        body = json.dumps({"type": msg.get("type"), "id": msg.get("id"), "error": _describe(e),
                           "logs": msg.get("logs", "")}).encode("utf-8")
    with _out_lock:
        _out.write(struct.pack(">I", len(body)) + body)
        _out.flush()


def _read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = _in.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _describe(e):
    """The error as python reports it, without the loader's frames and the host's paths."""
    if isinstance(e, SyntaxError):
        lines = traceback.format_exception_only(type(e), e)
    else:
        tb = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(CODE + "/")]
        lines = traceback.format_list(tb) + traceback.format_exception_only(type(e), e)
        if tb:
            lines.insert(0, "Traceback (most recent call last):\n")
    return "".join(lines).replace(CODE + "/", "").strip()


_RESPONSE_KEYS = {"status", "statusCode", "headers", "body"}


def _body_text(b):
    if b is None:
        return ""
    if isinstance(b, str):
        return b
    if isinstance(b, (bytes, bytearray)):
        return bytes(b).decode("utf-8", "replace")
    return json.dumps(b, default=str)


def _normalize(res):
    if res is None:
        return {"status": 200, "headers": {}, "body": ""}
    if isinstance(res, (str, bytes, bytearray)):
        return {"status": 200, "headers": {}, "body": _body_text(res)}
    if isinstance(res, dict) and res and set(res) <= _RESPONSE_KEYS and (
            "status" in res or "statusCode" in res or "body" in res):
        headers = {}
        for k, v in (res.get("headers") or {}).items():
            headers[str(k)] = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
        b = res.get("body")
        if isinstance(b, (dict, list)) and not any(k.lower() == "content-type" for k in headers):
            headers["content-type"] = ["application/json"]
        status = res.get("status", res.get("statusCode", 200)) or 200
        return {"status": int(status), "headers": headers, "body": _body_text(b)}
    return {"status": 200, "headers": {"content-type": ["application/json"]},
            "body": json.dumps(res, default=str)}


_handle = None
_pool = None


def _specialize(msg):
    global _handle, _pool
    os.environ.update(msg.get("env") or {})
    entry = msg["entry"]
    try:
        if CODE not in sys.path:
            sys.path.insert(0, CODE)
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(entry))[0],
                                                      os.path.join(CODE, entry))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        h = getattr(mod, "handle", None)
        if not callable(h):
            raise TypeError(entry + " defines no handle(req) function")
        _handle = h
        _pool = ThreadPoolExecutor(max_workers=max(1, int(msg.get("concurrency") or 1)))
        _send({"type": "ready"})
    except BaseException as e:
        _send({"type": "ready", "error": _describe(e)})


def _invoke(msg):
    cap = _Cap()
    _logs.set(cap)
    reply = {"type": "result", "id": msg["id"]}
    try:
        res = _handle(msg["request"])
        if asyncio.iscoroutine(res):
            res = asyncio.run(res)
        resp = _normalize(res)
        # The body travels base64-encoded: a bounded size whatever its bytes.
        resp["body"] = base64.b64encode(resp["body"].encode("utf-8", "replace")).decode("ascii")
        reply["response"] = resp
    except BaseException as e:
        reply.pop("response", None)
        reply["error"] = _describe(e)
    finally:
        _logs.set(None)
    reply["logs"] = cap.text()
    _send(reply)


def main():
    while True:
        head = _read_exact(4)
        if head is None:
            os._exit(0)
        frame = _read_exact(struct.unpack(">I", head)[0])
        if frame is None:
            os._exit(0)
        msg = json.loads(frame)
        if msg.get("type") == "specialize" and _handle is None:
            _specialize(msg)
        elif msg.get("type") == "invoke" and _handle is not None:
            _pool.submit(_invoke, msg)


_send({"type": "started"})
main()
