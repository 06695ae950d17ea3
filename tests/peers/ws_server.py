"""Python `websockets` (17, asyncio API) echo server for sockwire's client tests.

Usage: python ws_server.py [--expect-close CODE]

- Listens on 127.0.0.1, port chosen by the OS, and prints `LISTENING <port>`
  on stdout (flushed) once it accepts connections.
- Serves the first client that connects: echoes every text and binary message
  back unchanged (a fragmented message is echoed as one message); pings are
  answered by websockets itself.
- Ping request: on the text message `please-ping` it sends a ping with payload
  `srv-ping` and waits up to 10 s for the pong with that same payload
  (websockets only matches a pong carrying the ping's payload). It then sends
  the text message `pong-ok`, or `pong-timeout` if no such pong came.
- When that client's connection has closed it prints
  `CLOSED code=<code> reason=<reason> clean=<yes|no>` and exits: 0 if the
  closing handshake completed (a close frame was received and one was sent)
  and, with `--expect-close CODE`, the received code is CODE; 1 otherwise.
- Exits 1 with `FAIL: ...` if nothing closed within 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

TIMEOUT_S = 60
MAX_SIZE = 64 * 1024 * 1024


def log(line: str) -> None:
    print(line, flush=True)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect-close", type=int, default=None, metavar="CODE")
    args = parser.parse_args()

    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    served = False

    async def handler(ws: ServerConnection) -> None:
        nonlocal served
        if served:
            await ws.close(1013, "only one client")
            return
        served = True
        messages = 0
        try:
            async for message in ws:
                messages += 1
                if message == "please-ping":
                    waiter = await ws.ping(b"srv-ping")
                    try:
                        await asyncio.wait_for(waiter, 10)
                        await ws.send("pong-ok")
                    except asyncio.TimeoutError:
                        await ws.send("pong-timeout")
                else:
                    await ws.send(message)
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        code = rcvd.code if rcvd is not None else None
        reason = rcvd.reason if rcvd is not None else ""
        clean = rcvd is not None and sent is not None
        log(f"CLOSED code={code} reason={reason!r} clean={'yes' if clean else 'no'} messages={messages}")
        if not clean:
            log("FAIL: ws_server.py: the closing handshake did not complete")
            status = 1
        elif args.expect_close is not None and code != args.expect_close:
            log(f"FAIL: ws_server.py: expected close code {args.expect_close}, got {code}")
            status = 1
        else:
            status = 0
        if not done.done():
            done.set_result(status)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        max_size=MAX_SIZE,
        compression=None,
        ping_interval=None,
        close_timeout=5,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        log(f"LISTENING {port}")
        try:
            return await asyncio.wait_for(done, TIMEOUT_S)
        except asyncio.TimeoutError:
            log(f"FAIL: ws_server.py: no client closed within {TIMEOUT_S} s")
            return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
