#!/usr/bin/env node
// An AMQP broker that accepts the login and then stalls: a scripted peer of
// this test (amqplib's codec, from tests/conformance/node_modules) completes
// the handshake (connection.start/tune/open, channel.open, basic.qos,
// confirm.select) and then reads every method and answers none. Neither the
// runtime's nor a participant's event loop may wait for it. Checks:
// - the peer receives every method of a set-up without answering the first
//   (the runtime's queue.declare and basic.consume of `fbp`; a participant's
//   declarations, binding and consume of its inport): nothing waits for a
//   reply before sending the next;
// - for longer than the reply timeout (10 s), the runtime answers HTTP GET /
//   and a WebSocket runtime:getruntime within 200 ms, every time (one answer
//   over it is asked again, at most twice in the run, for a busy machine);
// - after 10 s without a reply the runtime says so, naming the method, and
//   connects again; SIGTERM ends it with exit 0 (the close waits at most 1 s
//   for each of the broker's channel.close-ok and connection.close-ok);
// - a participant (examples/repeat) on the stalled broker prints no "ready"
//   line (it announces only once its queues are set up) and stops on SIGTERM.
//
//   node amqp-stalled-broker.js PATH/TO/msgflo PATH/TO/repeat
//
// Needs npm `ws` and `amqplib` (tests/conformance/node_modules, through
// NODE_PATH); exit 77 without them.
'use strict';
const { spawn } = require('child_process');
const http = require('http');
const net = require('net');
const assert = require('assert').strict;

let WebSocket, defs, frame;
try {
  WebSocket = require('ws');
  defs = require('amqplib/lib/defs');
  frame = require('amqplib/lib/frame');
} catch (e) {
  console.error('amqp-stalled-broker: npm packages ws, amqplib missing (npm install --prefix tests/conformance): skipping');
  process.exit(77);
}

const [BIN, REPEAT] = process.argv.slice(2);
if (!BIN || !REPEAT) {
  console.error('usage: node amqp-stalled-broker.js PATH/TO/msgflo PATH/TO/repeat');
  process.exit(2);
}

const LIMIT_MS = 200;
const WATCH_MS = 12000; // longer than the reply timeout (10 s)

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
const until = async (cond, ms, what) =>
  withTimeout((async () => { while (!cond()) await sleep(20); })(), ms, what);

// What the peer answers: the handshake and the channel's set-up. Anything
// else is recorded and never answered.
const ANSWERS = {
  [defs.ChannelOpen]: [defs.ChannelOpenOk, {}],
  [defs.BasicQos]: [defs.BasicQosOk, {}],
  [defs.ConfirmSelect]: [defs.ConfirmSelectOk, {}],
};

function stalledBroker() {
  return new Promise((resolve) => {
    const conns = [];
    const server = net.createServer((s) => {
      const c = { methods: [], loggedIn: false };
      conns.push(c);
      s.on('error', () => {});
      let buf = Buffer.alloc(0);
      let header = false;
      const send = (id, ch, fields) => s.write(defs.encodeMethod(id, ch, fields));
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (!header) {
          if (buf.length < 8) return;
          buf = buf.slice(8); // "AMQP\0\0\9\1"
          header = true;
          send(defs.ConnectionStart, 0, {
            versionMajor: 0, versionMinor: 9, serverProperties: {}, mechanisms: Buffer.from('PLAIN'),
            locales: Buffer.from('en_US'),
          });
        }
        for (;;) {
          const f = frame.parseFrame(buf, 1 << 20);
          if (!f) return;
          buf = f.rest;
          const m = frame.decodeFrame(f);
          if (m.id === undefined || f.type !== defs.constants.FRAME_METHOD) continue; // heartbeats
          if (m.id === defs.ConnectionStartOk) {
            send(defs.ConnectionTune, 0, { channelMax: 2047, frameMax: 131072, heartbeat: 0 });
          } else if (m.id === defs.ConnectionOpen) {
            send(defs.ConnectionOpenOk, 0, { knownHosts: '' });
            c.loggedIn = true;
          } else if (ANSWERS[m.id]) {
            send(ANSWERS[m.id][0], m.channel, ANSWERS[m.id][1]);
          } else if (m.id !== defs.ConnectionTuneOk) {
            c.methods.push({ name: defs.info(m.id).name, fields: m.fields });
          }
        }
      });
      c.socket = s;
    });
    server.conns = conns;
    server.stop = () => { conns.forEach((c) => c.socket.destroy()); server.close(); };
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
    if (child) child.kill('SIGKILL');
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

const names = (c) => c.methods.map((m) => m.name);
const has = (c, name, key, value) => c.methods.some((m) => m.name === name && m.fields[key] === value);

async function runtimeCase(broker) {
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  const rt = await startRuntime(['--broker', url, '--runtime-id', 'stalled']);
  try {
    await until(() => broker.conns.length > 0 && broker.conns[0].loggedIn, 5000, 'the runtime logs in');
    const c = broker.conns[0];
    // Both sent, neither answered: the consume did not wait for the declare.
    await until(() => has(c, 'QueueDeclare', 'queue', 'fbp') && has(c, 'BasicConsume', 'queue', 'fbp'),
      3000, `the runtime declares and consumes fbp without waiting (got ${names(c)})`);
    ok(true, `runtime sent ${names(c).join(', ')} unanswered`);
    const getruntime = { protocol: 'runtime', command: 'getruntime', payload: {}, secret: rt.secret };
    const ws = await connect(rt.port);
    let worstHttp = 0;
    let worstWs = 0;
    let rounds = 0;
    let again = 0;
    const answered = async (what, fn) => {
      let t = await timed(fn);
      if (t.ms >= LIMIT_MS) {
        console.error(`amqp-stalled-broker: ${what} took ${t.ms.toFixed(1)} ms (round ${rounds}); asking again`);
        again++;
        t = await timed(fn);
      }
      ok(t.ms < LIMIT_MS, `${what} answered in ${t.ms.toFixed(1)} ms (round ${rounds})`);
      return t;
    };
    const end = Date.now() + WATCH_MS;
    while (Date.now() < end) {
      const h = await answered('GET /', () => httpGet(rt.port, '/'));
      ok(h.r.status === 200, `GET / status ${h.r.status}`);
      const w = await answered('getruntime', () => ask(ws, getruntime, 'runtime', 'runtime'));
      ok(w.r.payload && w.r.payload.id === 'stalled', `runtime:runtime ${JSON.stringify(w.r)}`);
      worstHttp = Math.max(worstHttp, h.ms);
      worstWs = Math.max(worstWs, w.ms);
      rounds++;
      await sleep(250);
    }
    ok(again <= 2, `at most 2 answers over ${LIMIT_MS} ms asked again (${again})`);
    // The reply timeout ends the connection, naming what was not answered; it connects again.
    const port = broker.address().port;
    await until(() => new RegExp(`no reply from 127\\.0\\.0\\.1:${port} to declare queue fbp in 10 s`).test(rt.child.stderrText) &&
      /broker connection lost \(.*\); reconnecting/.test(rt.child.stderrText), 5000,
      `stderr reports the broker not answering: ${rt.child.stderrText}`);
    await until(() => broker.conns.length >= 2 && broker.conns[1].loggedIn, 5000,
      `logged in again after the timeout (${broker.conns.length} connections)`);
    ws.close();
    const t0 = Date.now();
    rt.child.kill('SIGTERM');
    const r = await withTimeout(rt.child.exited, 5000, 'msgflo exit after SIGTERM');
    assert.deepStrictEqual(r, { code: 0, signal: null }, `exit 0 (stderr: ${rt.child.stderrText})`);
    ok(Date.now() - t0 < 3000, `exited in ${Date.now() - t0} ms`);
    console.log(`amqp-stalled-broker: runtime: ${rounds} rounds, slowest GET / ${worstHttp.toFixed(1)} ms, ` +
      `slowest getruntime ${worstWs.toFixed(1)} ms, asked again ${again}`);
  } catch (e) {
    rt.child.kill('SIGKILL');
    console.error(`stderr of msgflo:\n${rt.child.stderrText}`);
    throw e;
  }
}

async function participantCase(broker) {
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  const child = spawn(REPEAT, ['stalledrepeat', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  try {
    await until(() => broker.conns.length > 0 && broker.conns[0].loggedIn, 5000, 'the participant logs in');
    const c = broker.conns[0];
    await until(() => has(c, 'BasicConsume', 'queue', 'stalledrepeat.IN'), 3000,
      `the participant sends its set-up without waiting (got ${names(c)})`);
    ok(has(c, 'ExchangeDeclare', 'exchange', 'stalledrepeat.OUT'), 'outport exchange declared');
    ok(has(c, 'QueueDeclare', 'queue', 'stalledrepeat.IN'), 'inport queue declared');
    ok(has(c, 'QueueBind', 'queue', 'stalledrepeat.IN'), 'inport queue bound');
    await sleep(500);
    ok(out === '', `no ready line before the broker answered (stdout: ${JSON.stringify(out)})`);
    ok(!c.methods.some((m) => m.name === 'BasicPublish'), 'not announced before the broker answered');
    const t0 = Date.now();
    child.kill('SIGTERM');
    await withTimeout(exited, 5000, 'participant exit after SIGTERM');
    ok(Date.now() - t0 < 3000, `participant stopped in ${Date.now() - t0} ms`);
  } catch (e) {
    child.kill('SIGKILL');
    console.error(`stderr of repeat:\n${err}`);
    throw e;
  }
}

async function main() {
  for (const run of [runtimeCase, participantCase]) {
    const broker = await stalledBroker();
    try {
      await run(broker);
    } finally {
      broker.stop();
    }
  }
  console.log(`amqp-stalled-broker: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
