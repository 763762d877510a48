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
const { spawn } = require('child_process');
const http = require('http');
const net = require('net');
const assert = require('assert').strict;

let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  console.error('amqp-silent-broker: npm package ws missing (npm install --prefix tests/conformance): skipping');
  process.exit(77);
}

const BIN = process.argv[2];
if (!BIN) {
  console.error('usage: node amqp-silent-broker.js PATH/TO/msgflo');
  process.exit(2);
}

const LIMIT_MS = 200;
const WATCH_MS = 12000; // longer than the AMQP login timeout (10 s)

let checks = 0;
function ok(cond, what) {
  assert.ok(cond, what);
  checks++;
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

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

function startRuntime(args) {
  const started = Date.now();
  let child;
  return withTimeout(new Promise((resolve, reject) => {
    child = spawn(BIN, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderrText = '';
    child.stderr.on('data', (d) => { child.stderrText += d; });
    child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    child.stdout.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      if (lines.length < 3) return;
      const m = /^msgflo started on ws:\/\/([^:]+):(\d+)$/.exec(lines[0]);
      if (!m) return reject(new Error(`unexpected first line: ${lines[0]}`));
      const q = decodeURIComponent(lines[1].slice(lines[1].indexOf('#runtime/endpoint?') + 18));
      const s = /(?:^|&)secret=([^&]*)/.exec(q);
      resolve({ child, port: Number(m[2]), secret: s ? s[1] : undefined, startMs: Date.now() - started });
    });
    child.on('exit', (code) => reject(new Error(`msgflo exited with ${code}: ${child.stderrText}`)));
  }), 10000, 'msgflo start').catch((e) => {
    child.kill('SIGKILL'); // a runtime stuck in a blocking connect must not outlive the test
    throw e;
  });
}

function httpGet(port, path) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  }), 5000, `GET ${path}`);
}

function connect(port) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'noflo');
    ws.inbox = [];
    ws.waiters = [];
    ws.on('message', (m) => {
      ws.inbox.push(String(m));
      const w = ws.waiters.shift();
      if (w) w();
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  }), 5000, 'websocket connect');
}

// Sends msg; resolves with the first reply of `protocol:command`.
async function ask(ws, msg, protocol, command) {
  ws.inbox.length = 0;
  ws.send(JSON.stringify(msg));
  for (;;) {
    if (!ws.inbox.length) await withTimeout(new Promise((res) => ws.waiters.push(res)), 5000, command);
    const m = JSON.parse(ws.inbox.shift());
    if (m.protocol === protocol && m.command === command) return m;
  }
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return { r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function main() {
  const broker = await silentBroker();
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  let rt;
  try {
    rt = await startRuntime(['--broker', url, '--runtime-id', 'silent']);
  } catch (e) {
    broker.stop();
    throw e;
  }
  try {
    ok(rt.startMs < 3000, `started in ${rt.startMs} ms`);
    await withTimeout((async () => { while (broker.accepted() === 0) await sleep(20); })(), 5000,
      'the runtime connects to the silent broker');
    const getruntime = { protocol: 'runtime', command: 'getruntime', payload: {}, secret: rt.secret };
    const ws = await connect(rt.port);
    let worstHttp = 0;
    let worstWs = 0;
    let rounds = 0;
    const until = Date.now() + WATCH_MS;
    // One answer over the limit is asked again at once (the test machine may
    // be busy with other work): a loop frozen in a login (10 s) misses both.
    let again = 0;
    const answered = async (what, fn) => {
      let t = await timed(fn);
      if (t.ms >= LIMIT_MS) {
        console.error(`amqp-silent-broker: ${what} took ${t.ms.toFixed(1)} ms (round ${rounds}); asking again`);
        again++;
        t = await timed(fn);
      }
      ok(t.ms < LIMIT_MS, `${what} answered in ${t.ms.toFixed(1)} ms (round ${rounds})`);
      return t;
    };
    while (Date.now() < until) {
      const h = await answered('GET /', () => httpGet(rt.port, '/'));
      ok(h.r.status === 200, `GET / status ${h.r.status}`);
      const w = await answered('getruntime', () => ask(ws, getruntime, 'runtime', 'runtime'));
      ok(w.r.payload && w.r.payload.id === 'silent', `runtime:runtime ${JSON.stringify(w.r)}`);
      worstHttp = Math.max(worstHttp, h.ms);
      worstWs = Math.max(worstWs, w.ms);
      rounds++;
      await sleep(250);
    }
    // A new client is served as well.
    await answered('a new client\'s getruntime', async () => {
      const c = await connect(rt.port);
      const m = await ask(c, getruntime, 'runtime', 'runtime');
      c.close();
      return m;
    });
    ok(again <= 2, `at most 2 answers over ${LIMIT_MS} ms asked again (${again})`);
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
    const t0 = Date.now();
    rt.child.kill('SIGTERM');
    const r = await withTimeout(rt.child.exited, 5000, 'msgflo exit after SIGTERM');
    assert.deepStrictEqual(r, { code: 0, signal: null }, `exit 0 (stderr: ${rt.child.stderrText})`);
    ok(Date.now() - t0 < 2000, `exited in ${Date.now() - t0} ms`);
    console.log(`amqp-silent-broker: ${checks} checks passed; ${rounds} rounds, slowest GET / ` +
      `${worstHttp.toFixed(1)} ms, slowest getruntime ${worstWs.toFixed(1)} ms, asked again ${again}`);
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
