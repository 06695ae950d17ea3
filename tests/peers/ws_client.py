"""Python `websockets` (17, asyncio API) client that exercises a sockwire echo server.

Usage: python ws_client.py ws://127.0.0.1:PORT/path

The server under test must echo every text and binary message back unchanged,
answer pings with pongs and echo the close code. The scenario, one
`ok - ...` line per passed check:
  1. opening handshake (websockets offers permessage-deflate; the server must
     decline it)
  2. text echo with non-ASCII UTF-8
  3. binary echo (all 256 byte values)
  4. fragmented text message (an iterable of fragments whose boundaries split
     code points), echoed back as one message
  5. fragmented binary message, echoed back as one message
  6. 16 MiB binary message echoed intact (SHA-256 compared)
  7. ping with payload answered by a pong with the same payload
  8. close 4000 "bye": the server answers with close code 4000 and the
     closing handshake completes
Any failure prints `FAIL: ...` on stderr and exits 1; the whole run is bounded
by TIMEOUT_S. websockets queues incoming messages itself, so `recv()` cannot
miss one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time

from websockets.asyncio.client import ClientConnection, connect

TIMEOUT_S = 60
STEP_TIMEOUT_S = 30
BIG_LEN = 16 * 1024 * 1024


class CheckFailed(Exception):
    pass


checks = 0


def ok(what: str) -> None:
    global checks
    checks += 1
    print(f"ok - {what}", flush=True)


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


async def recv(ws: ClientConnection, what: str) -> str | bytes:
    try:
        return await asyncio.wait_for(ws.recv(), STEP_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise CheckFailed(f"timed out waiting for {what}") from None


async def expect(ws: ClientConnection, what: str, want_type: type) -> str | bytes:
    got = await recv(ws, what)
    if not isinstance(got, want_type):
        kind = "text" if isinstance(got, str) else "binary"
        raise CheckFailed(f"{what}: got a {kind} message of {len(got)} units")
    return got


async def scenario(url: str) -> None:
    async with connect(
        url,
        max_size=64 * 1024 * 1024,
        ping_interval=None,
        open_timeout=10,
        close_timeout=10,
    ) as ws:
        # 1. handshake
        response = ws.response
        check(response is not None and response.status_code == 101, "no 101 response")
        ext = response.headers.get("Sec-WebSocket-Extensions")
        check(ext is None, f"server negotiated extensions {ext!r}")
        ok(f"opening handshake with {url} (status 101, no extension)")

        # 2. text
        text = "Hello sockwire: héllo wörld ✓ 日本語 😀"
        await ws.send(text)
        got = await expect(ws, "text echo", str)
        check(got == text, f"text echo differs: {got!r}")
        ok("text message echoed (non-ASCII UTF-8)")

        # 3. binary
        data = bytes(range(256))
        await ws.send(data)
        got = await expect(ws, "binary echo", bytes)
        check(got == data, "binary echo differs")
        ok("binary message echoed (256 byte values)")

        # 4. fragmented text, fragment boundaries inside U+2713 and U+1F600
        whole = "frag ✓ ment 😀 ed".encode()
        a = whole.index("✓".encode()) + 1
        b = whole.index("😀".encode()) + 2
        parts = [whole[:a], whole[a:b], whole[b:]]
        await ws.send(parts, text=True)
        got = await expect(ws, "fragmented text echo", str)
        check(got.encode() == whole, f"fragmented text echo differs: {got!r}")
        ok(f"fragmented text message ({len(parts)} frames, code points split) echoed whole")

        # 5. fragmented binary
        bparts = [b"\x00\x01\x02", b"", b"\xff\xfe", b"\x07"]
        await ws.send(bparts)
        got = await expect(ws, "fragmented binary echo", bytes)
        check(got == b"".join(bparts), "fragmented binary echo differs")
        ok(f"fragmented binary message ({len(bparts)} frames, one empty) echoed whole")

        # 6. 16 MiB binary
        big = os.urandom(BIG_LEN)
        digest = hashlib.sha256(big).hexdigest()
        started = time.monotonic()
        await ws.send(big)
        got = await expect(ws, "16 MiB binary echo", bytes)
        check(len(got) == BIG_LEN, f"16 MiB echo has {len(got)} bytes")
        check(hashlib.sha256(got).hexdigest() == digest, "16 MiB echo content differs (SHA-256)")
        ms = int((time.monotonic() - started) * 1000)
        ok(f"16 MiB binary message echoed intact in {ms} ms (sha256 {digest[:16]}...)")

        # 7. ping -> pong with the same payload (the waiter only completes on
        #    a pong whose payload equals the ping's)
        waiter = await ws.ping("sockwire-ping-✓".encode())
        try:
            await asyncio.wait_for(waiter, STEP_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise CheckFailed("no pong with the ping's payload") from None
        ok("ping answered by a pong with the same payload")

        # 8. close 4000 "bye"
        started = time.monotonic()
        await ws.close(4000, "bye")
        ms = int((time.monotonic() - started) * 1000)
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        check(sent is not None, "no close frame was sent")
        check(rcvd is not None, "the server sent no close frame")
        check(rcvd.code == 4000, f"server answered close code {rcvd.code} ({rcvd.reason!r}), expected 4000")
        check(ms <= 5000, f"the closing handshake took {ms} ms")
        ok(f"closing handshake: server echoed code {rcvd.code} (reason {rcvd.reason!r}) in {ms} ms")


async def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python ws_client.py ws://HOST:PORT/PATH", file=sys.stderr)
        return 2
    try:
        await asyncio.wait_for(scenario(sys.argv[1]), TIMEOUT_S)
    except asyncio.TimeoutError:
        print(f"FAIL: ws_client.py: overall timeout of {TIMEOUT_S} s exceeded", file=sys.stderr)
        return 1
    except CheckFailed as e:
        print(f"FAIL: ws_client.py: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # connection refused, protocol error, ...
        print(f"FAIL: ws_client.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"PASS ws_client.py: {checks} checks", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
