// Connects one socket.io-client to URL, asks the server to `broadcast`
// [null, "once"] with an ack, prints the ack as JSON and exits (1 when no
// ack comes within 5 s). For tests/redis_cluster.rs: a sockwire node acks
// {"error": ...} while its Redis is down.
//
// Usage: node sio_broadcast_once.mjs URL
import { io as connect } from 'socket.io-client';

const s = connect(process.argv[2], { transports: ['websocket'], reconnection: false });
s.on('connect_error', (e) => {
  console.log(`FAIL: ${e.message}`);
  process.exit(1);
});
s.on('connect', async () => {
  try {
    console.log(`ACK ${JSON.stringify(await s.timeout(5000).emitWithAck('broadcast', null, 'once'))}`);
    process.exit(0);
  } catch (e) {
    console.log(`FAIL: ${e.message}`);
    process.exit(1);
  }
});
