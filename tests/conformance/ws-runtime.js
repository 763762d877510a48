#!/usr/bin/env node
// The msgflo executable's HTTP + WebSocket server with real clients: npm `ws`
// for WebSocket, Node's http and net for HTTP and hand-made bad input.
//
//   node ws-runtime.js PATH/TO/msgflo
//
// Starts msgflo on a free port (--port 0) several times (its own random
// secret, --secret, MSGFLO_SECRET, --secret '' for none) and checks: the
// printed lines, GET / with the Flowhub link (and the secret in it), 404/405/
// 400, the RFC 6455 handshake (subprotocol noflo, bad versions and keys), the
// Origin policy (a page on http://evil.example gets 403; no Origin, the
// runtime's own page, the IDE and --allow-origin pass), runtime:getruntime
// with and without the secret, graph commands refused without it,
// component:source refused unless --allow-component-write and for names
// leaving --componentdir, many clients at once, malformed and oversized
// frames not stopping the server, ping/pong, fragmented messages, SIGTERM
// closing clients with 1001 and exit 0, and a port in use failing with exit
// 1. Exit 77 when `ws` is not installed.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const net = require('net');
const crypto = require('crypto');

const h = require('./harness');
const { ok, eq, withTimeout } = h;
const WebSocket = h.need('ws-runtime', ['ws']).ws;
const BIN = h.binArg('ws-runtime.js');

const ALL_CAPS = ['protocol:runtime', 'protocol:component', 'protocol:graph', 'protocol:network',
  'component:getsource', 'component:setsource'];
// What runtime:runtime offers: component:setsource only with --allow-component-write.
const NO_WRITE_CAPS = ALL_CAPS.filter((c) => c !== 'component:setsource');
let CAPS = NO_WRITE_CAPS;

// Starts msgflo; resolves with {child, port, lines, url} after its two lines.
function startRuntime(args, env) {
  return withTimeout(new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.assign({}, process.env, env || {}),
    });
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
      const u = /^Open in Flowhub: (.*)$/.exec(lines[1]);
      if (!u) return reject(new Error(`unexpected second line: ${lines[1]}`));
      resolve({ child, host: m[1], port: Number(m[2]), url: u[1] });
    });
    child.on('exit', (code) => reject(new Error(`msgflo exited with ${code}: ${child.stderrText}`)));
  }), 10000, 'msgflo start');
}

async function stopRuntime(rt) {
  rt.child.kill('SIGTERM');
  const r = await withTimeout(rt.child.exited, 10000, 'msgflo exit after SIGTERM');
  eq(r, { code: 0, signal: null }, `msgflo exits 0 on SIGTERM (stderr: ${rt.child.stderrText})`);
}

function httpRequest(port, method, path) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  }), 5000, `${method} ${path}`);
}

// Sends raw bytes, resolves with everything received until the server closes.
function rawExchange(port, bytes) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('error', (e) => (e.code === 'ECONNRESET' ? resolve(data) : reject(e)));
    sock.on('close', () => resolve(data));
  }), 5000, 'raw exchange');
}

// Raw handshake: resolves with the response head, keeps the socket open.
function rawHandshake(port, headers) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.on('connect', () => sock.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\n`));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) resolve({ sock, head: data.slice(0, end) });
    });
    sock.on('error', reject);
    sock.on('close', () => resolve({ sock, head: data }));
  }), 5000, 'raw handshake');
}

function connect(port, protocols, options) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = protocols === undefined ? new WebSocket(`ws://127.0.0.1:${port}/`)
      : new WebSocket(`ws://127.0.0.1:${port}/`, protocols, options || {});
    ws.inbox = [];
    ws.waiters = [];
    ws.closed = new Promise((res) => ws.on('close', (code) => res(code)));
    ws.on('message', (m) => {
      ws.inbox.push(m);
      const w = ws.waiters.shift();
      if (w) w();
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  }), 5000, 'websocket connect');
}

// The next message as parsed JSON. runtime:ports, which follows every
// permitted runtime:runtime, is checked and passed over.
async function next(ws, what) {
  for (;;) {
    if (!ws.inbox.length) {
      await withTimeout(new Promise((res) => ws.waiters.push(res)), 5000, what || 'a message');
    }
    const text = ws.inbox.shift();
    ok(typeof text === 'string', 'text frame');
    const msg = JSON.parse(text);
    if (msg.protocol === 'runtime' && msg.command === 'ports') {
      eq(msg.payload, { graph: 'default/main', inPorts: [], outPorts: [] }, 'runtime:ports');
      continue;
    }
    return { text, msg };
  }
}

// Asserts no message arrives within ms.
async function silence(ws, ms) {
  await new Promise((res) => setTimeout(res, ms));
  const isPorts = (t) => typeof t === 'string' && JSON.parse(t).command === 'ports';
  eq(ws.inbox.filter((t) => !isPorts(t)), [], 'no reply expected');
  ws.inbox.length = 0;
}

async function rpc(ws, msg, what) {
  ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  return next(ws, what);
}

// getruntime as the current run's clients send it: with its secret.
let getruntime = { protocol: 'runtime', command: 'getruntime', payload: {} };
const withSecret = (secret) => {
  getruntime = { protocol: 'runtime', command: 'getruntime', payload: {} };
  if (secret) getruntime.secret = secret;
};

// The secret in a printed Flowhub link (undefined when none).
function linkSecret(url) {
  const q = decodeURIComponent(url.slice(url.indexOf('#runtime/endpoint?') + 18));
  const m = /(?:^|&)secret=([^&]*)/.exec(q);
  return m ? m[1] : undefined;
}

function checkRuntime(msg, id, permitted) {
  eq(msg.protocol, 'runtime');
  eq(msg.command, 'runtime');
  eq(Object.keys(msg).sort(), ['command', 'payload', 'protocol']);
  const p = msg.payload;
  const keys = ['capabilities', 'graph', 'id', 'type', 'version'];
  if (!permitted) keys.push('allCapabilities');
  eq(Object.keys(p).sort(), keys.sort(), 'runtime:runtime keys');
  eq(p.id, id);
  eq(p.type, 'msgflo');
  eq(p.version, '0.7');
  eq(p.graph, 'default/main');
  eq(p.capabilities, permitted ? CAPS : []);
  if (!permitted) eq(p.allCapabilities, CAPS);
}

async function httpChecks(rt, id, secret) {
  const expectedUrl = 'http://app.flowhub.io#runtime/endpoint?' +
    encodeURIComponent(`protocol=websocket&address=ws://localhost:${rt.port}&id=${id}` +
      (secret ? `&secret=${secret}` : ''));
  eq(rt.url, expectedUrl, 'printed Flowhub URL');

  const page = await httpRequest(rt.port, 'GET', '/');
  eq(page.status, 200);
  ok(/^text\/html/.test(page.headers['content-type']), 'html');
  const a = /<a id="flowhub_url" href="([^"]*)"/.exec(page.body);
  ok(a, `page has the flowhub_url link: ${page.body}`);
  // Without the secret: anyone reaching the port may read the page (the
  // page's script adds it once the user gave it: live-view.js).
  const pageUrl = 'http://app.flowhub.io#runtime/endpoint?' +
    encodeURIComponent(`protocol=websocket&address=ws://localhost:${rt.port}&id=${id}`);
  eq(a[1], pageUrl, 'link of the page');
  if (secret) ok(!page.body.includes(secret), 'the page does not show the secret');
  eq((await httpRequest(rt.port, 'GET', '/?x=1')).status, 200);
  eq((await httpRequest(rt.port, 'GET', '/nope')).status, 404);
  eq((await httpRequest(rt.port, 'GET', '/nope/../x')).status, 404);
  const head = await httpRequest(rt.port, 'HEAD', '/');
  eq(head.status, 200);
  eq(head.body, '');
  const post = await httpRequest(rt.port, 'POST', '/');
  eq(post.status, 405);
  eq(post.headers.allow, 'GET, HEAD');
  eq((await httpRequest(rt.port, 'DELETE', '/nope')).status, 405);

  // DNS rebinding: a page of evil.example resolved to 127.0.0.1 asks for GET /
  // under its own name; it gets 403, not the page with the secret.
  const rebound = (await rawExchange(rt.port,
    `GET / HTTP/1.1\r\nHost: evil.example:${rt.port}\r\n\r\n`)).toString('latin1');
  ok(rebound.startsWith('HTTP/1.1 403 '), `403 for Host evil.example: ${rebound.slice(0, 40)}`);
  ok(!secret || !rebound.includes(secret), 'no secret for another host');
  const own = (await rawExchange(rt.port,
    `GET / HTTP/1.1\r\nHost: localhost:${rt.port}\r\n\r\n`)).toString('latin1');
  ok(own.startsWith('HTTP/1.1 200 '), `200 for Host localhost: ${own.slice(0, 40)}`);

  // Malformed and oversized requests: 400 and the connection closed.
  const bad = [
    'GARBAGE\r\n\r\n',
    'GET / HTTP/1.1\r\nHost x\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
    '\x00\x01\x02\x03\r\n\r\n',
    `GET /${'a'.repeat(4000)} HTTP/1.1\r\n\r\n`,
    `GET / HTTP/1.1\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`,
    `GET / HTTP/1.1\r\nUpgrade: ${'w'.repeat(2000)}\r\n\r\n`,
  ];
  for (const req of bad) {
    const res = (await rawExchange(rt.port, req)).toString('latin1');
    ok(res.startsWith('HTTP/1.1 400 '), `400 for ${JSON.stringify(req.slice(0, 40))}: ${res.slice(0, 40)}`);
  }
  // A body larger than the limit.
  const big = await rawExchange(rt.port,
    `POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(100000)}`);
  ok(/^HTTP\/1\.1 (400|405) /.test(big.toString('latin1')), 'big body refused');
  // A client that hangs up mid-request does not matter.
  await rawExchange(rt.port, 'GET / HT').catch(() => {});
}

async function handshakeChecks(rt) {
  const key = crypto.randomBytes(16).toString('base64');
  const accept = crypto.createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  const base = `Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n';

  let r = await rawHandshake(rt.port, `${base}Sec-WebSocket-Protocol: chat, noflo\r\n`);
  ok(r.head.startsWith('HTTP/1.1 101 '), `101: ${r.head}`);
  ok(r.head.includes(`Sec-WebSocket-Accept: ${accept}`), 'accept key');
  ok(/\r\nSec-WebSocket-Protocol: noflo(\r\n|$)/.test(r.head), 'noflo chosen');
  r.sock.destroy();

  // A client asking for other subprotocols only is accepted without one, as the original.
  r = await rawHandshake(rt.port, `${base}Sec-WebSocket-Protocol: chat\r\n`);
  ok(r.head.startsWith('HTTP/1.1 101 '), 'accepted without noflo');
  ok(!/Sec-WebSocket-Protocol/i.test(r.head), 'no subprotocol echoed');
  // Garbage instead of frames: the server drops this client.
  r.sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02]));
  ok(await withTimeout(new Promise((res) => r.sock.on('close', () => res(true))), 5000, 'garbage frame closes'), 'garbage frame closes');

  r = await rawHandshake(rt.port, base.replace('Version: 13', 'Version: 8'));
  ok(r.head.startsWith('HTTP/1.1 426 '), `426 for version 8: ${r.head}`);
  ok(r.head.includes('Sec-WebSocket-Version: 13'), 'tells the version');
  r.sock.destroy();
  r = await rawHandshake(rt.port, base.replace(key, 'c2hvcnQ='));
  ok(r.head.startsWith('HTTP/1.1 400 '), 'bad key: 400');
  r.sock.destroy();
  r = await rawHandshake(rt.port, base.replace(/Sec-WebSocket-Key: .*\r\n/, ''));
  ok(r.head.startsWith('HTTP/1.1 400 '), 'no key: 400');
  r.sock.destroy();
  r = await rawHandshake(rt.port, base.replace('Upgrade: websocket', 'Upgrade: h2c'));
  ok(r.head.startsWith('HTTP/1.1 400 '), 'other upgrade: 400');
  r.sock.destroy();
  // Upgrade header without Connection: Upgrade is a plain request.
  r = await rawHandshake(rt.port, base.replace('Connection: keep-alive, Upgrade', 'Connection: close'));
  ok(r.head.startsWith('HTTP/1.1 200 '), 'plain GET when Connection lacks Upgrade');
  r.sock.destroy();
}

// Random bytes as HTTP requests and as WebSocket frames: the server answers
// or drops each connection, and keeps serving.
async function garbageChecks(rt, id) {
  for (let i = 0; i < 100; i++) {
    const len = 1 + crypto.randomInt(2000);
    const bytes = i % 2 ? crypto.randomBytes(len)
      : Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), crypto.randomBytes(len), Buffer.from('\r\n\r\n')]);
    const res = (await rawExchange(rt.port, bytes)).toString('latin1');
    ok(res === '' || /^HTTP\/1\.1 [1-5]\d\d /.test(res), `an HTTP answer or none: ${res.slice(0, 30)}`);
  }
  const key = crypto.randomBytes(16).toString('base64');
  const head = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: noflo\r\n';
  for (let i = 0; i < 50; i++) {
    const r = await rawHandshake(rt.port, head);
    ok(r.head.startsWith('HTTP/1.1 101 '), 'handshake');
    // A masked text frame header claiming a random length, then random bytes.
    const body = crypto.randomBytes(1 + crypto.randomInt(3000));
    r.sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | crypto.randomInt(126)]), body]));
    r.sock.destroy();
  }
  const ws = await connect(rt.port, 'noflo');
  checkRuntime((await rpc(ws, getruntime)).msg, id, true);
  ws.close();
  await withTimeout(ws.closed, 5000, 'close');
}

// Browsers send Origin and let any page open a WebSocket to localhost: the
// attack of a page on http://evil.example is refused at the handshake.
async function originChecks(rt, id, secret) {
  const key = crypto.randomBytes(16).toString('base64');
  const base = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: noflo\r\n';
  const refused = ['http://evil.example', 'http://evil.example', 'https://evil.example:3569', 'null', '',
    `http://localhost:${rt.port + 1}`, 'http://app.flowhub.io.evil.example', 'file://',
    'http://app.flowhub.io, http://evil.example', `http://127.0.0.1:${rt.port}/x`];
  for (const origin of refused) {
    const res = (await rawExchange(rt.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${base}Origin: ${origin}\r\n\r\n`))
      .toString('latin1');
    ok(res.startsWith('HTTP/1.1 403 '), `Origin '${origin}' refused: ${res.slice(0, 40)}`);
    ok(res.includes(`Origin '${origin}' is not allowed`), `403 names the origin: ${res}`);
  }
  const allowed = ['http://app.flowhub.io', 'https://app.flowhub.io', 'HTTP://App.Flowhub.IO:80',
    `http://localhost:${rt.port}`, `http://127.0.0.1:${rt.port}`, `http://[::1]:${rt.port}`];
  for (const origin of allowed) {
    const r = await rawHandshake(rt.port, `${base}Origin: ${origin}\r\n`);
    ok(r.head.startsWith('HTTP/1.1 101 '), `Origin '${origin}' allowed: ${r.head}`);
    r.sock.destroy();
  }
  // npm ws as a page of evil.example would: 403, no connection.
  const err = await connect(rt.port, 'noflo', { origin: 'http://evil.example' }).then(() => null, (e) => e);
  ok(err && /403/.test(err.message), `ws from http://evil.example refused: ${err && err.message}`);
  // As Flowhub's page, and with no Origin: the protocol works.
  const flowhub = await connect(rt.port, 'noflo', { origin: 'http://app.flowhub.io' });
  checkRuntime((await rpc(flowhub, getruntime)).msg, id, true);
  flowhub.close();
  const plain = await connect(rt.port, 'noflo');
  checkRuntime((await rpc(plain, getruntime)).msg, id, true);
  plain.close();
  // Refusals are logged once per origin.
  await new Promise((res) => setTimeout(res, 100));
  const warnings = rt.child.stderrText.split('\n').filter((l) => l.includes("'http://evil.example' refused"));
  eq(warnings.length, 1, `one warning for http://evil.example: ${rt.child.stderrText}`);
  ok(warnings[0].startsWith('msgflo:http warning: '), warnings[0]);
  ok(!rt.child.stderrText.includes(secret), 'the log does not show the secret');
}

// The attack's commands need the secret, and component:source writes nothing
// unless --allow-component-write.
async function commandChecks(rt, secret, componentdir) {
  const ws = await connect(rt.port, 'noflo');
  const texts = [];
  const ask = async (msg) => { const r = await rpc(ws, msg); texts.push(r.text); return r.msg; };
  let m = await ask({ protocol: 'graph', command: 'removenode', payload: { id: 'r1', graph: 'default/main' } });
  eq(m, { protocol: 'graph', command: 'error', payload: { message: 'graph:removenode is not permitted' } });
  const pwn = { name: 'pwn', language: 'python', code: 'import os\n' };
  m = await ask({ protocol: 'component', command: 'source', payload: pwn });
  eq(m, { protocol: 'component', command: 'error', payload: { message: 'component:source is not permitted' } });
  m = await ask({ protocol: 'component', command: 'source', payload: pwn, secret });
  eq([m.protocol, m.command], ['component', 'error'], 'component:source refused with the secret too');
  ok(/not enabled.*--allow-component-write/.test(m.payload.message), `says why: ${m.payload.message}`);
  m = await ask({ protocol: 'graph', command: 'addnode', payload: { id: 'x', component: 'pwn', graph: 'default/main' } });
  eq(m.command, 'error', 'addnode without the secret refused');
  eq(fs.readdirSync(componentdir), [], 'no file written');
  for (const t of texts) ok(!t.includes(secret), 'secret never echoed');
  ws.close();
}

async function defaultRun() {
  const id = crypto.randomUUID();
  const componentdir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-ws-components-'));
  const rt = await startRuntime(['--runtime-id', id, '--componentdir', componentdir]);
  try {
    eq(rt.host, 'localhost');
    // With no --secret, a random one (128 bits, hex), in the link.
    const secret = linkSecret(rt.url);
    ok(/^[0-9a-f]{32}$/.test(secret || ''), `a random secret in the link: ${rt.url}`);
    withSecret(secret);
    await httpChecks(rt, id, secret);
    await handshakeChecks(rt);
    await originChecks(rt, id, secret);
    await commandChecks(rt, secret, componentdir);
    await garbageChecks(rt, id);

    // Without the secret: getruntime answered, nothing permitted.
    const anon = await connect(rt.port, 'noflo');
    checkRuntime((await rpc(anon, { protocol: 'runtime', command: 'getruntime', payload: {} })).msg, id, false);
    anon.close();

    // Subprotocol noflo when asked for, none otherwise.
    const a = await connect(rt.port, 'noflo');
    eq(a.protocol, 'noflo');
    const b = await connect(rt.port);
    eq(b.protocol, '');
    checkRuntime((await rpc(a, getruntime)).msg, id, true);
    checkRuntime((await rpc(b, { protocol: 'runtime', command: 'getruntime', payload: { secret } })).msg, id, true);

    // Malformed frames: an error reply, and the connection keeps working.
    let r = await rpc(a, '{not json');
    eq([r.msg.protocol, r.msg.command], ['runtime', 'error']);
    ok(typeof r.msg.payload.message === 'string' && r.msg.payload.message.length > 0, 'message');
    r = await rpc(a, JSON.stringify({ protocol: 'graph', payload: {} }));
    eq([r.msg.protocol, r.msg.command], ['graph', 'error']);
    r = await rpc(a, JSON.stringify({ protocol: 'runtime', command: 'getruntime', payload: 7 }));
    eq([r.msg.protocol, r.msg.command], ['runtime', 'error']);
    r = await rpc(a, '[' .repeat(100000));
    eq([r.msg.protocol, r.msg.command], ['runtime', 'error']);
    // Unknown commands: no reply, as the original.
    a.send(JSON.stringify({ protocol: 'runtime', command: 'nosuch', payload: {}, secret }));
    a.send(JSON.stringify({ protocol: 'graph', command: 'nosuch', payload: { id: 'x', graph: 'g', secret } }));
    await silence(a, 300);
    // Binary frames are ignored.
    a.send(Buffer.from([1, 2, 3]));
    await silence(a, 200);
    // A fragmented text message is reassembled.
    const text = JSON.stringify(getruntime);
    a.send(text.slice(0, 10), { fin: false });
    a.send(text.slice(10), { fin: true });
    checkRuntime((await next(a, 'reply to a fragmented message')).msg, id, true);
    // Ping -> pong (wslay answers).
    ok(await withTimeout(new Promise((res) => { a.once('pong', () => res(true)); a.ping('hi'); }), 5000, 'pong'), 'pong');
    // A message over the limit (8 MiB) closes that client with 1009, and only it.
    const big = await connect(rt.port, 'noflo');
    big.send('"' + 'x'.repeat(9 * 1024 * 1024) + '"');
    eq(await withTimeout(big.closed, 10000, 'oversized message closes'), 1009);
    checkRuntime((await rpc(a, getruntime)).msg, id, true);

    // Many clients at once, each gets exactly its own reply.
    const many = await Promise.all(Array.from({ length: 20 }, () => connect(rt.port, 'noflo')));
    many.forEach((ws) => ws.send(JSON.stringify(getruntime)));
    for (const ws of many) checkRuntime((await next(ws, 'reply of one of many')).msg, id, true);
    await Promise.all(many.map((ws) => silence(ws, 100)));
    // Some leave abruptly, the rest keep working.
    many.slice(0, 10).forEach((ws) => ws.terminate());
    for (const ws of many.slice(10)) checkRuntime((await rpc(ws, getruntime)).msg, id, true);
    many.slice(10, 15).forEach((ws) => ws.close(1000));
    await Promise.all(many.slice(10, 15).map((ws) => withTimeout(ws.closed, 5000, 'close')));

    // Broadcasts reach only clients the protocol permitted a command: one
    // without the secret learns nothing of a graph change; a trusted one does.
    const spy = await connect(rt.port, 'noflo');
    checkRuntime((await rpc(spy, { protocol: 'runtime', command: 'getruntime', payload: {} })).msg, id, false);
    const cleared = await rpc(a, { protocol: 'graph', command: 'clear', payload: { id: 'default/main', secret } });
    eq([cleared.msg.protocol, cleared.msg.command], ['graph', 'clear'], 'graph:clear echoed');
    eq([(await next(b, 'the broadcast to a trusted client')).msg.command], ['clear'], 'b sees the change');
    await new Promise((res) => setTimeout(res, 300));
    eq(spy.inbox, [], 'a client without the secret gets no broadcast');
    spy.close();

    // A second runtime on the same port fails cleanly.
    const clash = spawn(BIN, ['--port', String(rt.port), '--listen', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let clashErr = '';
    clash.stderr.on('data', (d) => { clashErr += d; });
    const code = await withTimeout(new Promise((res) => clash.on('exit', res)), 5000, 'clash exit');
    eq(code, 1, 'port in use: exit 1');
    ok(/cannot start|in use/i.test(clashErr), `says why: ${clashErr}`);

    // SIGTERM: every connected client gets 1001 "going away", the process exits 0.
    const remaining = [a, b, ...many.slice(15)];
    const codes = Promise.all(remaining.map((ws) => ws.closed));
    await stopRuntime(rt);
    eq(await withTimeout(codes, 5000, 'clients closed on shutdown'), remaining.map(() => 1001));
  } catch (e) {
    rt.child.kill('SIGKILL');
    throw e;
  } finally {
    fs.rmSync(componentdir, { recursive: true, force: true });
  }
}

// --secret '': no secret (with a warning); --allow-component-write: files
// only inside --componentdir, names checked.
async function noSecretRun() {
  const id = crypto.randomUUID();
  const componentdir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-ws-components-'));
  const rt = await startRuntime(['--runtime-id', id, '--secret', '', '--componentdir', componentdir,
    '--allow-component-write', '--broker', 'mqtt://127.0.0.1:1']);
  try {
    withSecret(undefined);
    CAPS = ALL_CAPS;
    eq(linkSecret(rt.url), undefined, 'no secret in the link');
    // stderr and stdout are separate pipes: the warning may come after the lines
    ok(await h.eventually('the warning', () => /warning: --secret '': no secret/.test(rt.child.stderrText), 5000)
      .catch(() => false), `warns: ${rt.child.stderrText}`);
    const a = await connect(rt.port, 'noflo');
    checkRuntime((await rpc(a, getruntime)).msg, id, true);
    // A secret sent to a runtime without one is fine and not echoed.
    const r = await rpc(a, { protocol: 'runtime', command: 'getruntime', payload: { secret: 'zz9' } });
    checkRuntime(r.msg, id, true);
    ok(!r.text.includes('zz9'), 'secret not echoed');
    // Names that would leave the component directory, or hide the file.
    for (const name of ['../pwn', '../../tmp/pwn', 'a/b/c', '.bashrc', 'core/.hidden', '/etc/x', 'a b', 'x/']) {
      const m = (await rpc(a, { protocol: 'component', command: 'source', payload: { name, language: 'python', code: 'x' } })).msg;
      eq([m.protocol, m.command], ['component', 'error'], `component:source '${name}' refused`);
      ok(m.payload.message.startsWith('invalid component name'), `says why: ${m.payload.message}`);
    }
    eq(fs.readdirSync(componentdir), [], 'nothing written');
    ok(!fs.existsSync(path.join(componentdir, '..', 'pwn.py')), 'nothing written beside it');
    // A good name: written inside --componentdir.
    a.send(JSON.stringify({ protocol: 'component', command: 'source',
      payload: { name: 'Hello', library: 'mine', language: 'python', code: 'print(1)\n' } }));
    const m = (await next(a, 'source echo')).msg;
    eq([m.protocol, m.command, m.payload.name], ['component', 'source', 'Hello']);
    eq(fs.readFileSync(path.join(componentdir, 'Hello.py'), 'utf8'), 'print(1)\n', 'file written');
    await stopRuntime(rt);
  } catch (e) {
    rt.child.kill('SIGKILL');
    throw e;
  } finally {
    CAPS = NO_WRITE_CAPS;
    fs.rmSync(componentdir, { recursive: true, force: true });
  }
}

async function secretRun(how) {
  const id = crypto.randomUUID();
  const secret = `s3-${crypto.randomBytes(6).toString('hex')}`;
  const rt = how === 'option'
    ? await startRuntime(['--runtime-id', id, '--secret', secret])
    : await startRuntime([], { MSGFLO_SECRET: secret, MSGFLO_RUNTIME_ID: id });
  try {
    eq(linkSecret(rt.url), secret, 'the given secret in the link');
    withSecret(undefined);
    const ws = await connect(rt.port, 'noflo');
    const texts = [];
    const ask = async (msg) => { const r = await rpc(ws, msg); texts.push(r.text); return r.msg; };
    checkRuntime(await ask(getruntime), id, false);
    checkRuntime(await ask({ protocol: 'runtime', command: 'getruntime', payload: { secret: 'nope' } }), id, false);
    checkRuntime(await ask({ protocol: 'runtime', command: 'getruntime', payload: { secret: secret.slice(0, -1) } }), id, false);
    checkRuntime(await ask({ protocol: 'runtime', command: 'getruntime', payload: { secret } }), id, true);
    checkRuntime(await ask({ protocol: 'runtime', command: 'getruntime', secret, payload: {} }), id, true);
    // Other commands without the secret: <protocol>:error, permission message.
    let m = await ask({ protocol: 'graph', command: 'clear', payload: { id: 'g', secret: 'bad' } });
    eq(m, { protocol: 'graph', command: 'error', payload: { message: 'graph:clear is not permitted' } });
    m = await ask({ protocol: 'network', command: 'getstatus', payload: { graph: 'g' } });
    eq(m, { protocol: 'network', command: 'error', payload: { message: 'network:getstatus is not permitted' } });
    for (const t of texts) ok(!t.includes(secret) && !t.includes('"secret"'), 'secret never echoed');
    // With the secret the command is carried out; the echo holds no secret.
    m = await ask({ protocol: 'graph', command: 'clear', payload: { id: 'g', secret } });
    eq(m, { protocol: 'graph', command: 'clear', payload: { id: 'g' } });
    ok(!texts[texts.length - 1].includes(secret), 'secret not echoed by clear');
    await stopRuntime(rt);
    eq(await withTimeout(ws.closed, 5000, 'closed on shutdown'), 1001);
  } catch (e) {
    rt.child.kill('SIGKILL');
    throw e;
  }
}

async function optionsRun() {
  // --host is advertised only; the listen address stays loopback.
  const rt = await startRuntime(['--host', 'example.test', '--ide', 'http://ide.test/', '--runtime-id', 'rid',
    '--listen', 'localhost', '--broker', 'mqtt://127.0.0.1:1', '--secret', 'opt-s3',
    '--allow-origin', 'https://extra.test:8443/', '--allow-origin=http://a.test,http://b.test:81']);
  try {
    withSecret('opt-s3');
    eq(rt.host, 'example.test');
    eq(rt.url, 'http://ide.test/#runtime/endpoint?' +
      encodeURIComponent(`protocol=websocket&address=ws://example.test:${rt.port}&id=rid&secret=opt-s3`));
    // The IDE's origin (and its https form), the advertised host's page,
    // --allow-origin's; not the default IDE any more.
    for (const origin of ['http://ide.test', 'https://ide.test', `http://example.test:${rt.port}`,
      'https://extra.test:8443', 'http://a.test', 'http://b.test:81']) {
      const o = await connect(rt.port, 'noflo', { origin });
      checkRuntime((await rpc(o, getruntime)).msg, 'rid', true);
      o.close();
    }
    for (const origin of ['http://app.flowhub.io', 'https://extra.test', 'http://b.test', 'http://evil.example']) {
      const err = await connect(rt.port, 'noflo', { origin }).then(() => null, (e) => e);
      ok(err && /403/.test(err.message), `${origin} refused: ${err && err.message}`);
    }
    const ws = await connect(rt.port, 'noflo');
    checkRuntime((await rpc(ws, getruntime)).msg, 'rid', true);
    // SIGINT ends it like SIGTERM.
    rt.child.kill('SIGINT');
    eq(await withTimeout(rt.child.exited, 10000, 'exit after SIGINT'), { code: 0, signal: null });
    eq(await withTimeout(ws.closed, 5000, 'closed on SIGINT'), 1001);
    // A broker that cannot be reached is retried; the runtime serves meanwhile.
    ok(rt.child.stderrText.includes('cannot connect to 127.0.0.1:1'), 'says the broker is unreachable');
  } catch (e) {
    rt.child.kill('SIGKILL');
    throw e;
  }
  // --allow-origin '*': every page, with a warning.
  const any = await startRuntime(['--allow-origin', '*', '--broker', 'mqtt://127.0.0.1:1', '--runtime-id', 'any']);
  try {
    withSecret(linkSecret(any.url));
    ok(await h.eventually('the warning', () => /warning: --allow-origin '\*'/.test(any.child.stderrText), 5000)
      .catch(() => false), `warns: ${any.child.stderrText}`);
    const o = await connect(any.port, 'noflo', { origin: 'http://evil.example' });
    checkRuntime((await rpc(o, getruntime)).msg, 'any', true);
    await stopRuntime(any);
  } catch (e) {
    any.child.kill('SIGKILL');
    throw e;
  }
  // Bad options: exit 2 with usage.
  for (const args of [['--port', 'x'], ['--port', '70000'], ['--nosuch', '1'], ['--port'],
    ['--auto-save'], ['--wait-timeout', '-1'], ['--expire-periods', 'x'],
    ['--allow-origin', 'evil.example'], ['--allow-origin', ''], ['--allow-origin', 'http://a/,x'],
    ['--ide', 'app.flowhub.io'], ['--allow-component-write', 'maybe']]) {
    const child = spawn(BIN, args, { stdio: 'ignore' });
    const code = await withTimeout(new Promise((res) => child.on('exit', res)), 5000, 'bad option');
    eq(code, 2, `exit 2 for ${args.join(' ')}`);
  }
  // A graph that cannot be loaded: exit 1, naming the file.
  const child = spawn(BIN, ['--port', '0', '--graph', 'none.fbp', '--broker', 'mqtt://127.0.0.1:1'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  eq(await withTimeout(new Promise((res) => child.on('exit', res)), 5000, 'bad graph'), 1, 'exit 1 for a missing graph');
  ok(err.includes('none.fbp: cannot open'), `names the graph file: ${err}`);
}

(async () => {
  const started = Date.now();
  await defaultRun();
  await noSecretRun();
  await secretRun('option');
  await secretRun('env');
  await optionsRun();
  console.log(`ws-runtime: ${h.checks()} checks passed in ${Date.now() - started} ms`);
})().catch((e) => {
  console.error('ws-runtime: FAILED:', e && e.stack ? e.stack : e);
  process.exit(1);
});
