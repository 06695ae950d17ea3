// Node `ws` echo server for sockwire's client tests.
//
// Usage: node ws_server.mjs [--expect-close CODE]
//
// - Listens on 127.0.0.1, port chosen by the OS, and prints `LISTENING <port>`
//   on stdout once it accepts connections.
// - Serves the first client that connects: echoes every text and binary
//   message back unchanged (a fragmented message is echoed as one message);
//   pings are answered by ws itself.
// - Ping request: on the text message `please-ping` it sends a ping with
//   payload `srv-ping`; when the pong with that same payload arrives it sends
//   the text message `pong-ok` (a pong with another payload: `pong-bad:<payload>`;
//   no pong within 10 s: `pong-timeout`).
// - When that client's connection has closed it prints
//   `CLOSED code=<code> reason=<reason> clean=<yes|no>` and exits: 0 if a close
//   frame was received (clean closing handshake) and, with `--expect-close CODE`,
//   its code is CODE; 1 otherwise (also on any protocol error ws reports).
// - Exits 1 with `FAIL: ...` if nothing closed within 60 s.

import { WebSocketServer } from 'ws';

const TIMEOUT_MS = 60_000;

let expectClose = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 1) {
  if (argv[i] === '--expect-close' && i + 1 < argv.length) {
    expectClose = Number(argv[i + 1]);
    i += 1;
  } else {
    console.error('usage: node ws_server.mjs [--expect-close CODE]');
    process.exit(2);
  }
}

function log(line) {
  process.stdout.write(`${line}\n`);
}
function finish(status) {
  // Let stdout drain before exiting.
  process.stdout.write('', () => process.exit(status));
}

setTimeout(() => {
  log(`FAIL: ws_server.mjs: no client closed within ${TIMEOUT_MS} ms`);
  finish(1);
}, TIMEOUT_MS);

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: false,
});

wss.on('listening', () => log(`LISTENING ${wss.address().port}`));
wss.on('error', (err) => {
  log(`FAIL: ws_server.mjs: server error ${err}`);
  finish(1);
});

let served = false;
wss.on('connection', (ws) => {
  if (served) {
    ws.close(1013, 'only one client');
    return;
  }
  served = true;
  let messages = 0;
  let errorSeen = null;
  let pingTimer = null;

  ws.on('message', (data, isBinary) => {
    messages += 1;
    if (!isBinary && data.toString() === 'please-ping') {
      ws.ping(Buffer.from('srv-ping'));
      pingTimer = setTimeout(() => {
        pingTimer = null;
        ws.send('pong-timeout');
      }, 10_000);
      return;
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('pong', (data) => {
    if (pingTimer === null) return; // unsolicited pong: ignore (allowed by RFC 6455)
    clearTimeout(pingTimer);
    pingTimer = null;
    ws.send(data.toString() === 'srv-ping' ? 'pong-ok' : `pong-bad:${data.toString()}`);
  });
  ws.on('error', (err) => {
    errorSeen = err;
    log(`ERROR ${err.code || ''} ${err.message}`);
  });
  ws.on('close', (code, reason) => {
    const clean = code !== 1006;
    log(`CLOSED code=${code} reason=${JSON.stringify(reason.toString())} clean=${clean ? 'yes' : 'no'} messages=${messages}`);
    let status = 0;
    if (errorSeen) {
      log(`FAIL: ws_server.mjs: protocol error from the client: ${errorSeen.message}`);
      status = 1;
    } else if (!clean) {
      log('FAIL: ws_server.mjs: the connection closed without a close frame');
      status = 1;
    } else if (expectClose !== null && code !== expectClose) {
      log(`FAIL: ws_server.mjs: expected close code ${expectClose}, got ${code}`);
      status = 1;
    }
    wss.close();
    finish(status);
  });
});
