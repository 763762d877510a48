#!/usr/bin/env node
// The runtime pointed at an AMQP port that accepts TCP connections and never
// answers (a listener of this test): its event loop must not wait for the
// broker. Checks, for longer than the login timeout (10 s, so that a failed
// attempt and the next one are both covered):
// - msgflo starts and prints its lines at once;
// - HTTP GET / and a WebSocket runtime:getruntime are answered within 200 ms,
//   every time (an answer over it is asked again once, at most twice in the
//   run, for a busy test machine; a frozen loop misses both);
// - msgflo:getstatus says the broker is not connected, and stderr says the
//   login failed and the broker connection is lost (retrying);
// - SIGTERM during a login ends msgflo at once with exit 0.
//
//   node amqp-silent-broker.js PATH/TO/msgflo
//
// Needs npm `ws` (tests/conformance/node_modules, through NODE_PATH); exit 77
// without it.
'use strict';
const net = require('net');
const h = require('../conformance/harness');
const { ok, withTimeout, sleep } = h;
const { startRuntime, connect, ask, checkResponsive, checkStops } = require('./responsive');

const BIN = h.binArg('amqp-silent-broker.js');
const LIMIT_MS = 200;
const WATCH_MS = 12000; // longer than the AMQP login timeout (10 s)

// A TCP listener that accepts and never writes a byte.
function silentBroker() {
  return new Promise((resolve) => {
    const sockets = [];
    const server = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
    });
    server.accepted = () => sockets.length;
    server.stop = () => { sockets.forEach((s) => s.destroy()); server.close(); };
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  const broker = await silentBroker();
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  let rt;
  try {
    rt = await startRuntime(BIN, ['--broker', url, '--runtime-id', 'silent']);
  } catch (e) {
    broker.stop();
    throw e;
  }
  try {
    ok(rt.startMs < 3000, `started in ${rt.startMs} ms`);
    await withTimeout((async () => { while (broker.accepted() === 0) await sleep(20); })(), 5000,
      'the runtime connects to the silent broker');
    const ws = await connect(rt.port);
    const r = await checkResponsive('amqp-silent-broker', rt, ws, 'silent', WATCH_MS, LIMIT_MS);
    // The broker is reported as not reachable.
    const st = await ask(ws, { protocol: 'msgflo', command: 'getstatus', payload: {}, secret: rt.secret },
      'msgflo', 'status');
    ok(st.payload.counters.connected === false, `status: not connected ${JSON.stringify(st.payload.counters)}`);
    await withTimeout((async () => {
      while (!/login to 127\.0\.0\.1 failed/.test(rt.child.stderrText) ||
             !/broker connection lost \(.*\); reconnecting/.test(rt.child.stderrText)) await sleep(50);
    })(), 8000, `stderr reports the broker unreachable: ${rt.child.stderrText}`);
    // the retry follows the reported failure after its backoff
    await withTimeout((async () => {
      while (broker.accepted() < 2) await sleep(50);
    })(), 5000, `tried again after the failed login (${broker.accepted()} connections)`);
    ws.close();
    // SIGTERM while a login waits: msgflo ends at once.
    await checkStops(rt, 2000);
    console.log(`amqp-silent-broker: ${h.checks()} checks passed; ${r.rounds} rounds, slowest GET / ` +
      `${r.worstHttp.toFixed(1)} ms, slowest getruntime ${r.worstWs.toFixed(1)} ms, asked again ${r.again}`);
  } catch (e) {
    rt.child.kill('SIGKILL');
    console.error(`stderr of msgflo:\n${rt.child.stderrText}`);
    throw e;
  } finally {
    broker.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
