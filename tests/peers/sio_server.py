"""Reference python-socketio 5 server (Socket.IO protocol v5 over Engine.IO v4)
for sockwire's client interop tests, in the same "reference test-server"
contract as sio_server.mjs (its Node counterpart).

Usage: python sio_server.py [PORT]
       (PORT 0 or absent: the OS picks one)

- python-socketio's ASGI app (socketio.AsyncServer(async_mode="asgi") +
  socketio.ASGIApp) under uvicorn, WebSocket through uvicorn's
  websockets-sansio protocol; both transports (polling, websocket) and the
  upgrade.
- Listens on 127.0.0.1 only, path /socket.io/; pings every 300 ms,
  pingTimeout 200 ms, max_http_buffer_size 1e6, CORS origin "*". The
  handshake advertises pingInterval 1000: python-engineio 4.15 truncates the
  advertised interval to whole seconds (int(0.3) * 1000 would be 0), so the
  server is given a 0.7 s grace period on top of its 0.3 s interval.
- Prints `LISTENING <port>` on stdout once uvicorn accepts connections; then
  runs until killed (SIGTERM/SIGINT: graceful shutdown within 1 s, exit 0).
  Connection events go to stderr.
- Namespace "/": on connection emits `auth` with the handshake auth ({} when
  the client sent none, as socket.io does); answers `message` with
  `message-back` (same arguments, binary included); acks `message-with-ack`
  with its own arguments; `ask` ...args: emits `question` ...args asking the
  client for an ack, then `answer` with the client's first ack argument
  (binary included), or "timeout" after 5 s; on `force-disconnect-transport`
  closes the underlying Engine.IO connection.
- Namespace "/custom": on connection emits `auth` with the handshake auth.
- Any other namespace: refused with CONNECT_ERROR (python-socketio's
  "Unable to connect").

The CONNECT reply is sent before the connect handler runs
(always_connect=True), so the `auth` event follows it on the wire as with
socket.io; no handler here refuses a connection.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys

import socketio
import uvicorn

ASK_TIMEOUT_S = 5


def log(line: str) -> None:
    print(f"sio_server.py: {line}", file=sys.stderr, flush=True)


def make_app() -> socketio.ASGIApp:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        # Pings every 0.3 s. python-engineio advertises
        # int(interval + grace) * 1000 ms, whole seconds only: without the
        # 0.7 s grace the handshake would say pingInterval 0.
        ping_interval=(0.3, 0.7),
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        cors_allowed_origins="*",
        always_connect=True,
    )

    async def greet(sid: str, environ: dict, auth: object, namespace: str) -> None:
        transport = sio.transport(sid, namespace)
        log(f"connect {namespace} {sid} ({transport})")
        await sio.emit("auth", auth if auth is not None else {}, to=sid, namespace=namespace)

    @sio.on("connect")
    async def connect(sid: str, environ: dict, auth: object) -> None:
        await greet(sid, environ, auth, "/")

    @sio.on("connect", namespace="/custom")
    async def connect_custom(sid: str, environ: dict, auth: object) -> None:
        await greet(sid, environ, auth, "/custom")

    @sio.on("disconnect")
    async def disconnect(sid: str, reason: object) -> None:
        log(f"disconnect / {sid}: {reason}")

    @sio.on("disconnect", namespace="/custom")
    async def disconnect_custom(sid: str, reason: object) -> None:
        log(f"disconnect /custom {sid}: {reason}")

    @sio.on("message")
    async def message(sid: str, *args: object) -> None:
        # A tuple is emitted as that many arguments.
        await sio.emit("message-back", args, to=sid)

    @sio.on("message-with-ack")
    async def message_with_ack(sid: str, *args: object) -> tuple:
        # The handler's return value is the ack; a tuple is its arguments.
        return args

    @sio.on("ask")
    async def ask(sid: str, *args: object) -> None:
        answered: asyncio.Future[tuple] = asyncio.get_running_loop().create_future()

        def on_ack(*ack_args: object) -> None:
            if not answered.done():
                answered.set_result(ack_args)

        await sio.emit("question", args, to=sid, callback=on_ack)
        try:
            ack_args = await asyncio.wait_for(answered, ASK_TIMEOUT_S)
        except asyncio.TimeoutError:
            await sio.emit("answer", "timeout", to=sid)
            return
        await sio.emit("answer", ack_args[0] if ack_args else None, to=sid)

    @sio.on("force-disconnect-transport")
    async def force_disconnect_transport(sid: str, *args: object) -> None:
        eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
        log(f"closing the Engine.IO connection {eio_sid} of {sid}")
        await sio.eio.disconnect(eio_sid)

    return socketio.ASGIApp(sio, socketio_path="socket.io")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", type=int, default=0)
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error(f"bad port {args.port}")

    # Bound here so that the port the OS picked is known; uvicorn serves it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]

    config = uvicorn.Config(
        make_app(),
        ws="websockets-sansio",
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        # uvicorn sets `started` once its listening socket accepts.
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.01)
        if server.started:
            print(f"LISTENING {port}", flush=True)

    announcer = asyncio.create_task(announce())
    # uvicorn catches SIGTERM/SIGINT itself (main thread), shuts down
    # gracefully and returns from serve().
    await server.serve(sockets=[sock])
    announcer.cancel()
    return 0


if __name__ == "__main__":
    # A signal before uvicorn installed its handlers also exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    sys.exit(asyncio.run(main()))
