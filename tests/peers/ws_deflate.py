"""Python `websockets` (compression on, its default) against sockwire, both roles.

    python ws_deflate.py client ws://127.0.0.1:PORT/
    python ws_deflate.py server        # prints LISTENING <port>

As client: checks that permessage-deflate was negotiated, sends each message
of the scenario and checks its echo, closes with 1000. As server: echoes every
message of one connection and exits 0 when the client closes with 1000.
`ok - ...` lines on stdout, `FAIL: ...` and exit 1 otherwise.
"""

import os
import sys
import threading

from websockets.sync.client import connect
from websockets.sync.server import serve
from websockets.exceptions import ConnectionClosed


def fail(what):
    print(f"FAIL: ws_deflate.py: {what}", file=sys.stderr, flush=True)
    os._exit(1)


_timer = threading.Timer(60, fail, ["overall timeout of 60 s exceeded"])
_timer.daemon = True
_timer.start()


def extensions(ws, response):
    header = response.headers.get("Sec-WebSocket-Extensions", "")
    if "permessage-deflate" not in header:
        fail(f"not negotiated: {header!r}")
    print(f"ok - negotiated: {header}", flush=True)


def messages():
    text = "permessage-deflate from Python websockets, κόσμε 𝄞 " * 3000
    return ["Hello", "Hello", "", text, os.urandom(70_000), bytes([7]) * 300_000, text[:5000]]


def client(url):
    with connect(url, max_size=None) as ws:
        extensions(ws, ws.response)
        for m in messages():
            ws.send(m)
            got = ws.recv(timeout=30)
            if got != m:
                fail(f"echo of a {type(m).__name__} message of {len(m)} bytes differs")
            print(f"ok - {type(m).__name__} echo, {len(m)} bytes", flush=True)
        ws.close(1000)
    print("ok - closed 1000", flush=True)


def server():
    def handler(ws):
        extensions(ws, ws.response)
        n = 0
        try:
            for m in ws:
                n += 1
                ws.send(m)
        except ConnectionClosed:
            pass
        code = ws.close_code
        if code != 1000:
            fail(f"client closed with {code}")
        print(f"ok - echoed {n} messages, closed 1000", flush=True)
        os._exit(0)

    with serve(handler, "127.0.0.1", 0, max_size=None) as srv:
        print(f"LISTENING {srv.socket.getsockname()[1]}", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(sys.argv[2])
    elif sys.argv[1] == "server":
        server()
    else:
        fail(f"unknown mode {sys.argv[1]}")
