"""python-socketio 5 (sync Client) driver for a Socket.IO server under test.

Usage: .venv/bin/python sio_client.py http://127.0.0.1:PORT SCENARIO

The server under test implements the reference test-server configuration
(sio_server.mjs is the reference; see shared/CONFORMANCE.md "Node peers"):
"/" and "/custom" emit `auth` (the handshake auth) on connection; "/" answers
`message` with `message-back` (same arguments) and acks `message-with-ack`
with its arguments. The client uses the default transports: an Engine.IO
polling handshake, then the WebSocket upgrade, done inside connect(); auth
{"token": "123"}; no reconnection.

Scenarios (each step prints one JSON line; the last line is {"ok": true} or
{"ok": false, "error": "..."}; exit 0 only on success; hard timeout 20 s):
  connect  connect() to "/" and "/custom" together: each namespace gets
           "connect" then an `auth` event whose only argument is
           {"token": "123"}; both on one Engine.IO session, which has been
           upgraded to websocket
  events   connect() to "/", then: `message` (1, "two", {"three": 3}) ->
           `message-back` with the same args; call("message-with-ack",
           (1, "2", {"3": [4]})) -> the ack returns those three args;
           `message` (b"\\x01\\x02\\x03", {"b": b"\\x04\\x05"}) -> `message-back`
           with the same bytes
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading

import socketio

TIMEOUT_S = 20
STEP_TIMEOUT_S = 5
AUTH = {"token": "123"}
SCENARIOS = ("connect", "events")
_lock = threading.Lock()


class Failed(Exception):
    pass


def printable(v):
    if isinstance(v, bytes):
        return {"bytes": list(v)}
    if isinstance(v, (list, tuple)):
        return [printable(x) for x in v]
    if isinstance(v, dict):
        return {k: printable(x) for k, x in v.items()}
    return v


def step(obj) -> None:
    with _lock:
        print(json.dumps(printable(obj)), flush=True)


def finish(ok: bool, error: str | None = None) -> None:
    """Prints the result line and exits at once (the client's threads may still run)."""
    step({"ok": True} if ok else {"ok": False, "error": error})
    os._exit(0 if ok else 1)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise Failed(msg)


class Namespace:
    """Queues everything the client reports for one namespace."""

    def __init__(self, sio: socketio.Client, nsp: str) -> None:
        self.nsp = nsp
        self.q: queue.Queue = queue.Queue()
        sio.on("connect", lambda: self.q.put(("connect",)), namespace=nsp)
        sio.on("connect_error", lambda data: self.q.put(("connect_error", data)), namespace=nsp)
        sio.on("disconnect", lambda *reason: self.q.put(("disconnect", *reason)), namespace=nsp)
        sio.on("*", lambda event, *args: self.q.put(("event", event, list(args))), namespace=nsp)

    def next(self, what: str):
        try:
            return self.q.get(timeout=STEP_TIMEOUT_S)
        except queue.Empty:
            raise Failed(f"{self.nsp}: timed out after {STEP_TIMEOUT_S} s waiting for {what}") from None

    def expect_event(self, name: str) -> list:
        ev = self.next(f"the `{name}` event")
        check(ev[:2] == ("event", name), f"{self.nsp}: expected the `{name}` event, got {ev!r}")
        return ev[2]

    def connected(self, sio: socketio.Client) -> None:
        ev = self.next('"connect"')
        check(ev == ("connect",), f'{self.nsp}: expected "connect", got {ev!r}')
        step({"step": "connect", "nsp": self.nsp, "id": sio.get_sid(self.nsp), "sid": sio.eio.sid,
              "transport": sio.transport()})
        args = self.expect_event("auth")
        check(args == [AUTH], f"{self.nsp}: auth event args {args!r}, expected {[AUTH]!r}")
        step({"step": "auth", "nsp": self.nsp, "auth": args[0]})


def echo(sio: socketio.Client, ns: Namespace, args: tuple, label: str) -> None:
    sio.emit("message", args, namespace=ns.nsp)
    got = ns.expect_event("message-back")
    check(got == list(args), f"{ns.nsp}: message-back ({label}) args {got!r}, expected {list(args)!r}")
    step({"step": "message-back", "nsp": ns.nsp, "kind": label, "args": got})


def main(base: str, scenario: str) -> None:
    sio = socketio.Client(reconnection=False)
    nsps = ["/", "/custom"] if scenario == "connect" else ["/"]
    spaces = {n: Namespace(sio, n) for n in nsps}
    try:
        sio.connect(base, auth=AUTH, namespaces=nsps, wait_timeout=STEP_TIMEOUT_S)
    except socketio.exceptions.ConnectionError as exc:
        raise Failed(f"connect() failed: {exc}") from None
    check(sio.transport() == "websocket", f"transport after connect() is {sio.transport()}, expected websocket")
    for n in nsps:
        spaces[n].connected(sio)

    if scenario == "events":
        root = spaces["/"]
        echo(sio, root, (1, "two", {"three": 3}), "plain")
        ack_args = (1, "2", {"3": [4]})
        try:
            got = sio.call("message-with-ack", ack_args, timeout=STEP_TIMEOUT_S)
        except socketio.exceptions.TimeoutError:
            raise Failed("timed out waiting for the ack of message-with-ack") from None
        check(list(got) == list(ack_args), f"ack args {got!r}, expected {list(ack_args)!r}")
        step({"step": "ack", "nsp": "/", "args": list(got)})
        echo(sio, root, (b"\x01\x02\x03", {"b": b"\x04\x05"}), "binary")

    sio.disconnect()
    step({"step": "disconnect"})


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in SCENARIOS:
        print(f"usage: python sio_client.py http://HOST:PORT {'|'.join(SCENARIOS)}", file=sys.stderr)
        sys.exit(2)
    timer = threading.Timer(TIMEOUT_S, lambda: finish(False, f"sio_client.py: overall timeout of {TIMEOUT_S} s exceeded"))
    timer.daemon = True
    timer.start()
    try:
        main(sys.argv[1], sys.argv[2])
    except Failed as exc:
        finish(False, f"sio_client.py: {exc}")
    except Exception as exc:  # noqa: BLE001 - any surprise is a failed run
        finish(False, f"sio_client.py: unexpected {type(exc).__name__}: {exc}")
    finish(True)
