#!/usr/bin/env node
// The msgflo runtime's connection limits under attack, with real clients on
// loopback against the real executable (started with --secret):
//
//   node ws-limits.js PATH/TO/msgflo
//
// Two attacks, each 1,000 unfinished HTTP requests plus 300 idle WebSocket
// clients (handshake done, no command), held open: every socket the server
// closes while legitimate clients are measured is opened again at once.
// (Not a reconnect storm: the attackers do not reopen the ~1,000 closed
// before; see docs/runtime-server.md for what a storm does.)
//   A: attackers spread over 127.0.0.2-127.0.0.11, legitimate clients on
//      127.0.0.1 (the table is full; the per-address cap holds each attacker
//      address to its share);
//   B: attackers and legitimate clients all on 127.0.0.1.
// Each time, 5 of 5 new legitimate clients are served within 0.5 s each (GET /
// answered, then a WebSocket runtime:getruntime with the secret answered with
// capabilities), and a trusted client connected before the attack is still
// there afterwards. Then, without attack: an unfinished request is closed
// after the request deadline (5 s) and a WebSocket client without a permitted
// command after the auth deadline (10 s, close code 1008).
// C: a reconnect storm from a separate process (this script with --storm):
// the 1,300 attackers of A reopen every socket the server closes, at once;
// 5 of 5 legitimate clients are still served (times printed, no bound: the
// storm's rate depends on the machine). This storm does not reliably catch
// a missing accept budget (docs/runtime-server.md says what does).
// Prints the measured times. Exit 77 when `ws` is not installed.
// WS_LIMITS_STDERR=1 passes the runtime's stderr through (with DEBUG=msgflo:http).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const crypto = require('crypto');
const assert = require('assert').strict;

const h = require('./harness');
const { ok, withTimeout, sleep } = h;
const WebSocket = h.need('ws-limits', ['ws']).ws;
const BIN = h.binArg('ws-limits.js');

// Defaults of src/runtime/conn_limits.h, which this test checks.
const MAX_CONNECTIONS = 256;
const MAX_PER_ADDRESS = 64;
const REQUEST_TIMEOUT_MS = 5000;
const AUTH_TIMEOUT_MS = 10000;
const N_HTTP = 1000;
const N_WS = 300;
const LEGIT = 5;
const BOUND_MS = 500;

// node ws-limits.js --storm PORT ADDR,ADDR...: the attacker of scenario C.
if (process.argv[2] === '--storm') {
  const [port, addrs] = [Number(process.argv[3]), process.argv[4].split(',')];
  const handshake = () => 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  let opens = 0;
  const open = (kind, addr) => {
    if (++opens > 1000000) return;
    const sock = net.connect({ host: '127.0.0.1', port, localAddress: addr });
    sock.on('connect', () => sock.write(kind === 'http' ? 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' : handshake()));
    sock.on('error', () => {});
    sock.resume(); // read (and drop) what comes, so the server's FIN is seen
    sock.on('close', () => setImmediate(() => open(kind, addr)));
  };
  for (let i = 0; i < N_HTTP; i++) open('http', addrs[i % addrs.length]);
  for (let i = 0; i < N_WS; i++) open('ws', addrs[i % addrs.length]);
  setInterval(() => process.stdout.write(`${opens}\n`), 500);
  process.stdin.on('end', () => process.exit(0)); // the parent is gone
  process.stdin.resume();
}

function openFiles() {
  const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
}

function startRuntime(args) {
  return withTimeout(new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', process.env.WS_LIMITS_STDERR ? 'inherit' : 'pipe'] });
    let out = '';
    child.stderrText = '';
    if (child.stderr) child.stderr.on('data', (d) => { child.stderrText += d; });
    child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^msgflo started on ws:\/\/[^:]+:(\d+)$/m.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`msgflo exited with ${code}: ${child.stderrText}`)));
  }), 10000, 'msgflo start');
}

// GET / from localAddress: resolves with the status once the body is read.
function getPage(port, localAddress) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// A WebSocket client that sent runtime:getruntime (with `secret`, if given)
// and got runtime:runtime: resolves with {ws, payload}.
function wsGetruntime(port, localAddress, secret) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'noflo', { localAddress });
    ws.closed = new Promise((res) => ws.on('close', (code) => res(code)));
    ws.on('close', (code, reason) => reject(new Error(`closed before the reply: ${code} ${reason}`)));
    ws.on('error', reject);
    ws.on('open', () => {
      const msg = { protocol: 'runtime', command: 'getruntime', payload: {} };
      if (secret) msg.secret = secret;
      ws.send(JSON.stringify(msg));
    });
    ws.on('message', function first(text) {
      const m = JSON.parse(text);
      if (m.protocol === 'runtime' && m.command === 'runtime') {
        ws.off('message', first);
        resolve({ ws, payload: m.payload });
      }
    });
  });
}

const wsHandshake = () => 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: noflo\r\n\r\n';

// Attackers: unfinished requests ('http') and idle WebSocket clients ('ws')
// from given addresses. With `churn` on, each one the server closes is opened
// again (at most maxOpens sockets in all).
class Attack {
  constructor(port) {
    this.port = port;
    this.live = new Set();
    this.opens = 0;
    this.closedByServer = 0;
    this.churn = false;
    this.maxOpens = 200000;
    this.pending = 0;
  }

  open(kind, addr) {
    this.opens++;
    this.pending++;
    const sock = net.connect({ host: '127.0.0.1', port: this.port, localAddress: addr });
    sock.kind = kind;
    sock.addr = addr;
    let settled = false;
    const settle = () => { if (!settled) { settled = true; this.pending--; } };
    let head = '';
    sock.on('connect', () => {
      this.live.add(sock);
      if (kind === 'http') {
        sock.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        settle();
      } else {
        sock.write(wsHandshake());
      }
    });
    sock.on('data', (d) => {
      if (kind === 'ws' && !settled) {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) {
          sock.upgraded = head.startsWith('HTTP/1.1 101 ');
          settle();
        }
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      settle();
      if (!this.live.delete(sock)) return;
      if (sock.destroyedByUs) return;
      this.closedByServer++;
      if (this.churn && this.opens < this.maxOpens) setImmediate(() => this.open(kind, addr));
    });
  }

  // Every socket connected and handshaken or closed, then no close for 300 ms.
  async settle() {
    const deadline = Date.now() + 20000;
    while (this.pending > 0 && Date.now() < deadline) await sleep(20);
    ok(this.pending === 0, `attackers connected (${this.pending} pending)`);
    let last = -1;
    while (last !== this.closedByServer && Date.now() < deadline) {
      last = this.closedByServer;
      await sleep(300);
    }
  }

  perAddress() {
    const n = {};
    for (const s of this.live) n[s.addr] = (n[s.addr] || 0) + 1;
    return n;
  }

  stop() {
    this.churn = false;
    for (const s of this.live) {
      s.destroyedByUs = true;
      s.destroy();
    }
    this.live.clear();
  }
}

async function timed(what, fn) {
  const t0 = process.hrtime.bigint();
  const r = await withTimeout(fn(), 5000, what);
  return { r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function scenario(name, rt, secret, keeper, attackAddrs, legitAddr) {
  const attack = new Attack(rt.port);
  for (let i = 0; i < N_HTTP; i++) attack.open('http', attackAddrs[i % attackAddrs.length]);
  for (let i = 0; i < N_WS; i++) attack.open('ws', attackAddrs[i % attackAddrs.length]);
  await attack.settle();
  const per = attack.perAddress();
  const held = attack.live.size;
  // What the attackers hold once the server has made room: the table, less
  // the trusted client, and at most MAX_PER_ADDRESS per address.
  for (const [addr, n] of Object.entries(per)) {
    ok(n <= MAX_PER_ADDRESS, `${name}: ${addr} holds ${n} > ${MAX_PER_ADDRESS}`);
  }
  const cap = Math.min(MAX_CONNECTIONS, attackAddrs.length * MAX_PER_ADDRESS) -
    (attackAddrs.includes(legitAddr) ? 1 : 0);
  ok(held <= cap && held >= cap - 10, `${name}: attackers hold ${held} connections (expected about ${cap})`);
  ok(attack.closedByServer >= N_HTTP + N_WS - cap, `${name}: server closed ${attack.closedByServer}`);

  // Legitimate clients while the attackers reopen every connection closed.
  attack.churn = true;
  const before = attack.opens;
  const pages = [];
  const sockets = [];
  for (let i = 0; i < LEGIT; i++) {
    const page = await timed('GET /', () => getPage(rt.port, legitAddr)).catch((e) => { throw new Error(`${name}: GET / ${i}: ${e.message}`); });
    ok(page.r.status === 200 && page.r.body.includes('flowhub_url'), `${name}: GET / answered: ${page.r.status}`);
    const ws = await timed('getruntime', () => wsGetruntime(rt.port, legitAddr, secret)).catch((e) => { throw new Error(`${name}: getruntime ${i}: ${e.message}`); });
    ok(ws.r.payload.capabilities.includes('protocol:graph'), `${name}: getruntime with the secret permitted`);
    pages.push(page.ms);
    sockets.push(ws.ms);
    ws.r.ws.terminate();
  }
  const reopened = attack.opens - before;
  const closedDuring = attack.closedByServer;
  attack.stop();
  console.log(`ws-limits: ${name}: attackers held ${held} of ${N_HTTP + N_WS} ` +
    `(per address max ${Math.max(...Object.values(per))}), reopened ${reopened} while measuring; ` +
    `GET / ms [${pages.map((t) => t.toFixed(1)).join(', ')}], ` +
    `WebSocket getruntime ms [${sockets.map((t) => t.toFixed(1)).join(', ')}]`);
  ok(closedDuring > 0, 'attack went on');
  for (const t of pages.concat(sockets)) ok(t < BOUND_MS, `${name}: served in ${t.toFixed(1)} ms >= ${BOUND_MS}`);
  // The trusted client was never evicted and still works.
  ok(keeper.readyState === WebSocket.OPEN, `${name}: trusted client still connected`);
  keeper.send(JSON.stringify({ protocol: 'runtime', command: 'getruntime', secret }));
  const reply = await withTimeout(new Promise((res) => {
    keeper.on('message', function answer(t) {
      const m = JSON.parse(t);
      if (m.command !== 'runtime') return;
      keeper.off('message', answer);
      res(m);
    });
  }), 5000, 'keeper reply');
  ok(reply.command === 'runtime', `${name}: trusted client answered`);
}

async function storm(rt, secret, attackAddrs, legitAddr) {
  const child = spawn(process.execPath, [__filename, '--storm', String(rt.port), attackAddrs.join(',')],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  let opens = 0;
  child.stdout.on('data', (d) => { opens = Number(String(d).trim().split('\n').pop()); });
  try {
    // Until the storm is going: the first 1,300 and as many reconnects.
    const deadline = Date.now() + 30000;
    while (opens < 2 * (N_HTTP + N_WS) && Date.now() < deadline) await sleep(50);
    ok(opens >= 2 * (N_HTTP + N_WS), `storm started: ${opens} connects`);
    const before = opens;
    const t0 = Date.now();
    const times = [];
    for (let i = 0; i < LEGIT; i++) {
      const page = await timed('GET / in a storm', () => getPage(rt.port, legitAddr));
      ok(page.r.status === 200, `storm: GET / answered: ${page.r.status}`);
      const ws = await timed('getruntime in a storm', () => wsGetruntime(rt.port, legitAddr, secret));
      ok(ws.r.payload.capabilities.includes('protocol:graph'), 'storm: getruntime permitted');
      ws.r.ws.terminate();
      times.push(`${page.ms.toFixed(0)}+${ws.ms.toFixed(0)}`);
    }
    const ms = Date.now() - t0;
    await sleep(600); // its next report
    ok(opens > before, `storm went on: ${opens - before} connects`);
    console.log(`ws-limits: C (reconnect storm from 10 addresses, another process): ${opens - before} ` +
      `connects from the start of the ${ms} ms of measuring to the storm's next report; ` +
      `GET / + getruntime ms [${times.join(', ')}]`);
  } finally {
    child.kill('SIGKILL');
  }
}

async function deadlines(rt, secret) {
  const t0 = Date.now();
  const http1 = net.connect({ host: '127.0.0.1', port: rt.port });
  http1.on('connect', () => http1.write('GET / HTTP/1.1\r\n'));
  http1.on('error', () => {});
  const httpClosed = new Promise((res) => http1.on('close', () => res(Date.now() - t0)));
  // A client that asks without the secret is answered but not trusted.
  const guest = await wsGetruntime(rt.port, '127.0.0.1', null);
  ok(guest.payload.capabilities.length === 0, 'no capabilities without the secret');
  const silent = new WebSocket(`ws://127.0.0.1:${rt.port}/`, 'noflo');
  const silentClosed = new Promise((res) => silent.on('close', (code) => res({ code, ms: Date.now() - t0 })));
  const guestClosed = guest.ws.closed.then((code) => ({ code, ms: Date.now() - t0 }));
  const h = await withTimeout(httpClosed, REQUEST_TIMEOUT_MS + 5000, 'unfinished request closed');
  ok(h >= REQUEST_TIMEOUT_MS - 200 && h < REQUEST_TIMEOUT_MS + 3000, `request deadline: closed after ${h} ms`);
  const s = await withTimeout(silentClosed, AUTH_TIMEOUT_MS + 5000, 'silent client closed');
  const g = await withTimeout(guestClosed, AUTH_TIMEOUT_MS + 5000, 'guest closed');
  for (const [what, r] of [['silent', s], ['without secret', g]]) {
    ok(r.code === 1008, `${what}: close code ${r.code}`);
    ok(r.ms >= AUTH_TIMEOUT_MS - 200 && r.ms < AUTH_TIMEOUT_MS + 3000, `${what}: closed after ${r.ms} ms`);
  }
  console.log(`ws-limits: deadlines: unfinished request closed after ${h} ms, ` +
    `WebSocket without permitted command after ${s.ms} / ${g.ms} ms (code 1008)`);
}

if (process.argv[2] !== '--storm') (async () => {
  const started = Date.now();
  const need = N_HTTP + N_WS + 200;
  if (openFiles() < need) {
    console.error(`ws-limits: needs ${need} open files, RLIMIT_NOFILE is ${openFiles()} (ulimit -n)`);
    process.exit(1);
  }
  const secret = `s-${crypto.randomBytes(8).toString('hex')}`;
  const rt = await startRuntime(['--secret', secret]);
  try {
    const keeper = (await wsGetruntime(rt.port, '127.0.0.1', secret)).ws;
    const spread = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);
    await scenario('A (attackers on 10 addresses)', rt, secret, keeper, spread, '127.0.0.1');
    await sleep(200);
    await scenario('B (all on 127.0.0.1)', rt, secret, keeper, ['127.0.0.1'], '127.0.0.1');
    await storm(rt, secret, spread, '127.0.0.1');
    await sleep(300);
    await deadlines(rt, secret);
    const closed = keeper.readyState === WebSocket.OPEN ? keeper.closed : Promise.resolve(1001);
    rt.child.kill('SIGTERM');
    const r = await withTimeout(rt.child.exited, 10000, 'msgflo exit');
    assert.deepStrictEqual(r, { code: 0, signal: null }, `msgflo exits 0 (stderr: ${rt.child.stderrText})`);
    ok((await withTimeout(closed, 5000, 'keeper closed')) === 1001, 'trusted client gets 1001 at shutdown');
  } catch (e) {
    rt.child.kill('SIGKILL');
    throw e;
  }
  console.log(`ws-limits: ${h.checks()} checks passed in ${Date.now() - started} ms`);
})().catch((e) => {
  console.error('ws-limits: FAILED:', e && e.stack ? e.stack : e);
  process.exit(1);
});
