// The runtime under an AMQP broker that does not answer (amqp-silent-broker.js:
// nothing at all; amqp-stalled-broker.js: nothing after the login): starting
// it, a WebSocket client, and the check both make, that HTTP GET / and
// runtime:getruntime are answered within `limit` ms, every 250 ms for `ms`.
'use strict';
const { spawn } = require('child_process');
const http = require('http');
const h = require('../conformance/harness');
const { ok, withTimeout, sleep } = h;
const WebSocket = h.need('responsive', ['ws']).ws;

// Starts BIN --port 0 ARGS; resolves after its lines with {child, port,
// secret, startMs}; child.stderrText collects stderr, child.exited resolves
// with {code, signal}. A runtime that does not start is killed.
function startRuntime(bin, args) {
  const started = Date.now();
  let child;
  return withTimeout(new Promise((resolve, reject) => {
    child = spawn(bin, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (child) child.kill('SIGKILL'); // a runtime stuck in a blocking connect must not outlive the test
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

// GET / and runtime:getruntime (on `ws`, answering with runtime id `id`)
// every 250 ms for `ms`, then a new client's getruntime: each answered within
// `limit` ms. One answer over it is asked again at once (the test machine
// may be busy with other work), at most twice in the run: a loop frozen in a
// broker call (10 s) misses both. Returns {rounds, worstHttp, worstWs, again}.
async function checkResponsive(script, rt, ws, id, ms, limit) {
  const getruntime = { protocol: 'runtime', command: 'getruntime', payload: {}, secret: rt.secret };
  const s = { rounds: 0, worstHttp: 0, worstWs: 0, again: 0 };
  const answered = async (what, fn) => {
    let t = await timed(fn);
    if (t.ms >= limit) {
      console.error(`${script}: ${what} took ${t.ms.toFixed(1)} ms (round ${s.rounds}); asking again`);
      s.again++;
      t = await timed(fn);
    }
    ok(t.ms < limit, `${what} answered in ${t.ms.toFixed(1)} ms (round ${s.rounds})`);
    return t;
  };
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const g = await answered('GET /', () => httpGet(rt.port, '/'));
    ok(g.r.status === 200, `GET / status ${g.r.status}`);
    const w = await answered('getruntime', () => ask(ws, getruntime, 'runtime', 'runtime'));
    ok(w.r.payload && w.r.payload.id === id, `runtime:runtime ${JSON.stringify(w.r)}`);
    s.worstHttp = Math.max(s.worstHttp, g.ms);
    s.worstWs = Math.max(s.worstWs, w.ms);
    s.rounds++;
    await sleep(250);
  }
  await answered('a new client\'s getruntime', async () => {
    const c = await connect(rt.port);
    const m = await ask(c, getruntime, 'runtime', 'runtime');
    c.close();
    return m;
  });
  ok(s.again <= 2, `at most 2 answers over ${limit} ms asked again (${s.again})`);
  return s;
}

// SIGTERM: exit 0 within `ms`.
async function checkStops(rt, ms) {
  const t0 = Date.now();
  rt.child.kill('SIGTERM');
  const r = await withTimeout(rt.child.exited, 5000, 'msgflo exit after SIGTERM');
  h.eq(r, { code: 0, signal: null }, `exit 0 (stderr: ${rt.child.stderrText})`);
  ok(Date.now() - t0 < ms, `exited in ${Date.now() - t0} ms`);
}

module.exports = { startRuntime, connect, ask, checkResponsive, checkStops, httpGet };
