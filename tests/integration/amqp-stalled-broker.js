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
//   connects again; SIGTERM ends it with exit 0 (the close, on the loop,
//   sends connection.close and waits at most 1 s for its close-ok);
// - a participant (examples/repeat) on the stalled broker prints no "ready"
//   line (it announces only once its queues are set up) and stops on SIGTERM
//   within 1.8 s, having sent connection.close;
// - the binder's batches do not wait on the event loop either: the runtime
//   runs a graph of two participants the peer announces (discovery messages
//   delivered to its consumer of `fbp`; this case answers the runtime's data
//   connection, whose replies the binder waits for), the binder opens its
//   administration connection and sends the edge's declarations and binding
//   there, none answered, and for 12 s the runtime still answers within
//   200 ms.
//
// - msgflo-guv's queue statistics do not wait on its event loop: its
//   passive queue.declare goes to the peer on a connection of its own,
//   unanswered, and for 5 s GET /metrics is answered within 200 ms; SIGTERM
//   ends it within 3 s. Nor do its --management requests, to an HTTP
//   server that accepts them and never answers: the same checks, and polls
//   are skipped while a request hangs.
//
//   node amqp-stalled-broker.js PATH/TO/msgflo PATH/TO/repeat PATH/TO/msgflo-guv
//
// STALLED_CASE=runtimeCase|participantCase|binderCase|guvCase|guvManagementCase
// runs one case only.
//
// Needs npm `ws` and `amqplib` (tests/conformance/node_modules, through
// NODE_PATH); exit 77 without them.
'use strict';
const { spawn } = require('child_process');
const net = require('net');
const h = require('../conformance/harness');
const { ok, withTimeout, sleep } = h;
const { startRuntime, connect, checkResponsive, checkStops, httpGet } = require('./responsive');

const npm = h.need('amqp-stalled-broker', ['amqplib/lib/defs', 'amqplib/lib/frame']);
const [defs, frame] = [npm['amqplib/lib/defs'], npm['amqplib/lib/frame']];
const [BIN, REPEAT, GUV] = process.argv.slice(2);
if (!BIN || !REPEAT || !GUV) {
  console.error('usage: node amqp-stalled-broker.js PATH/TO/msgflo PATH/TO/repeat PATH/TO/msgflo-guv');
  process.exit(2);
}

const LIMIT_MS = 200;
const WATCH_MS = 12000; // longer than the reply timeout (10 s)

const until = async (cond, ms, what) =>
  withTimeout((async () => { while (!cond()) await sleep(20); })(), ms, what);

// What the peer answers: the handshake and the channel's set-up. Anything
// else is recorded and never answered.
const ANSWERS = {
  [defs.ChannelOpen]: [defs.ChannelOpenOk, {}],
  [defs.BasicQos]: [defs.BasicQosOk, {}],
  [defs.ConfirmSelect]: [defs.ConfirmSelectOk, {}],
};

// With `answerFirst`, the first connection (the runtime's data connection)
// gets its declarations, bindings and consumes answered; the others nothing.
const FIRST_ANSWERS = {
  [defs.QueueDeclare]: (f) => [defs.QueueDeclareOk,
    { queue: f.queue || 'amq.gen-stalled', messageCount: 0, consumerCount: 0 }],
  [defs.ExchangeDeclare]: () => [defs.ExchangeDeclareOk, {}],
  [defs.QueueBind]: () => [defs.QueueBindOk, {}],
  [defs.BasicConsume]: (f) => [defs.BasicConsumeOk, { consumerTag: f.consumerTag }],
  [defs.BasicCancel]: (f) => [defs.BasicCancelOk, { consumerTag: f.consumerTag }],
};

function stalledBroker(answerFirst) {
  return new Promise((resolve) => {
    const conns = [];
    const server = net.createServer((s) => {
      const c = { methods: [], loggedIn: false, tag: 0 };
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
            if (answerFirst && c === conns[0] && FIRST_ANSWERS[m.id]) {
              const [id, fields] = FIRST_ANSWERS[m.id](m.fields);
              send(id, m.channel, fields);
            }
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

// A message delivered to consumer `tag` on channel 1 (method, header, body frames).
function deliver(c, tag, body) {
  const ch = 1;
  const payload = Buffer.from(body);
  c.socket.write(defs.encodeMethod(defs.BasicDeliver, ch, {
    consumerTag: tag, deliveryTag: ++c.tag, redelivered: false, exchange: '', routingKey: 'fbp',
  }));
  c.socket.write(defs.encodeProperties(defs.BasicProperties, ch, payload.length, {}));
  const f = Buffer.alloc(8 + payload.length);
  f.writeUInt8(defs.constants.FRAME_BODY, 0);
  f.writeUInt16BE(ch, 1);
  f.writeUInt32BE(payload.length, 3);
  payload.copy(f, 7);
  f.writeUInt8(defs.constants.FRAME_END, 7 + payload.length);
  c.socket.write(f);
}

const names = (c) => c.methods.map((m) => m.name);
const has = (c, name, key, value) => c.methods.some((m) => m.name === name && m.fields[key] === value);

async function runtimeCase(broker) {
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  const rt = await startRuntime(BIN, ['--broker', url, '--runtime-id', 'stalled']);
  try {
    await until(() => broker.conns.length > 0 && broker.conns[0].loggedIn, 5000, 'the runtime logs in');
    const c = broker.conns[0];
    // Both sent, neither answered: the consume did not wait for the declare.
    await until(() => has(c, 'QueueDeclare', 'queue', 'fbp') && has(c, 'BasicConsume', 'queue', 'fbp'),
      3000, `the runtime declares and consumes fbp without waiting (got ${names(c)})`);
    ok(true, `runtime sent ${names(c).join(', ')} unanswered`);
    const ws = await connect(rt.port);
    const st = await checkResponsive('amqp-stalled-broker', rt, ws, 'stalled', WATCH_MS, LIMIT_MS);
    // The reply timeout ends the connection, naming what was not answered; it connects again.
    const port = broker.address().port;
    await until(() => new RegExp(`no reply from 127\\.0\\.0\\.1:${port} to declare queue fbp in 10 s`).test(rt.child.stderrText) &&
      /broker connection lost \(.*\); reconnecting/.test(rt.child.stderrText), 5000,
      `stderr reports the broker not answering: ${rt.child.stderrText}`);
    await until(() => broker.conns.length >= 2 && broker.conns[1].loggedIn, 5000,
      `logged in again after the timeout (${broker.conns.length} connections)`);
    ws.close();
    await checkStops(rt, 3000);
    console.log(`amqp-stalled-broker: runtime: ${st.rounds} rounds, slowest GET / ${st.worstHttp.toFixed(1)} ms, ` +
      `slowest getruntime ${st.worstWs.toFixed(1)} ms, asked again ${st.again}`);
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
    // The close runs on the loop: connection.close sent, its close-ok awaited
    // for 1 s (a close blocking on channel.close-ok and then on
    // connection.close-ok took 2 s).
    const stopMs = Date.now() - t0;
    ok(stopMs < 1800, `participant stopped in ${stopMs} ms`);
    ok(has(c, 'ConnectionClose', 'replyCode', 200) && !names(c).includes('ChannelClose'),
      `connection.close sent, without a channel.close first (got ${names(c)})`);
    console.log(`amqp-stalled-broker: participant stopped in ${stopMs} ms`);
  } catch (e) {
    child.kill('SIGKILL');
    console.error(`stderr of repeat:\n${err}`);
    throw e;
  }
}

// Two participants announced to the runtime; its graph's edge between them
// makes the binder declare and bind on its administration connection. The
// binder's thread starts once the data connection's replies are in: the peer
// answers those (the first connection's), and nothing on the binder's.
async function binderCase(broker) {
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  const fs = require('fs');
  const os = require('os');
  const path = require('path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stalled-binder-'));
  const graph = path.join(dir, 'main.fbp');
  fs.writeFileSync(graph, 'stalleda(StalledRepeat) OUT -> IN stalledb(StalledRepeat)\n');
  const rt = await startRuntime(BIN, ['--broker', url, '--runtime-id', 'stalledbinder', '--graph', graph,
    '--componentdir', path.join(dir, 'none')]);
  try {
    await until(() => broker.conns.length > 0 && broker.conns[0].loggedIn, 5000, 'the runtime logs in');
    const c = broker.conns[0];
    await until(() => c.methods.some((m) => m.name === 'BasicConsume' && m.fields.queue === 'fbp'), 3000,
      `the runtime consumes fbp (got ${names(c)})`);
    const tag = c.methods.find((m) => m.name === 'BasicConsume' && m.fields.queue === 'fbp').fields.consumerTag;
    for (const role of ['stalleda', 'stalledb']) {
      deliver(c, tag, JSON.stringify({
        protocol: 'discovery', command: 'participant', payload: {
          id: `${role}-1`, role, component: 'StalledRepeat', label: 'repeats', icon: 'code',
          inports: [{ id: 'in', type: 'any', queue: `${role}.IN` }],
          outports: [{ id: 'out', type: 'any', queue: `${role}.OUT` }],
        },
      }));
    }
    // The administration connection: logged in, the edge's batch sent, unanswered.
    const edgeSent = (a) => a.methods.some((m) => ['queue', 'exchange'].some((k) =>
      ['stalleda.OUT', 'stalledb.IN'].includes(m.fields[k])));
    await until(() => broker.conns.length >= 2 && broker.conns[1].loggedIn && edgeSent(broker.conns[1]), 5000,
    `the binder sends its batch on a connection of its own (${broker.conns.length} connections, ` +
      `got ${broker.conns.length >= 2 ? names(broker.conns[1]) : '-'}); stderr: ${rt.child.stderrText}`);
    ok(true, `binder sent ${names(broker.conns[1]).join(', ')} unanswered`);
    const ws = await connect(rt.port);
    const st = await checkResponsive('amqp-stalled-broker', rt, ws, 'stalledbinder', WATCH_MS, LIMIT_MS);
    ws.close();
    await checkStops(rt, 3000);
    console.log(`amqp-stalled-broker: binder: ${st.rounds} rounds, slowest GET / ${st.worstHttp.toFixed(1)} ms, ` +
      `slowest getruntime ${st.worstWs.toFixed(1)} ms, asked again ${st.again}`);
  } catch (e) {
    rt.child.kill('SIGKILL');
    console.error(`stderr of msgflo:\n${rt.child.stderrText}`);
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// msgflo-guv --dry-run on the stalled peer: the statistics of its one role
// go to the peer on the worker's connection and are never answered.
// msgflo-guv --dry-run on `broker` with `args` more, its metrics served:
// once asked() holds (`what`), GET /metrics is answered within 200 ms for
// 5 s, then beforeStop(stderr) if given, and SIGTERM ends it with exit 0
// within 3 s.
async function watchGuv(broker, args, asked, what, beforeStop) {
  const url = `amqp://127.0.0.1:${broker.address().port}`;
  const fs = require('fs');
  const os = require('os');
  const path = require('path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stalled-guv-'));
  const config = path.join(dir, 'stalled.guv.yaml');
  fs.writeFileSync(config, "'*': {pollinterval: 0.5}\nstalledguv: {queue: 'stalledguv.IN'}\n");
  const child = spawn(GUV, ['--config', config, '--broker', url, '--dry-run', '--metrics-port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout.on('data', () => {});
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  try {
    let port;
    await until(() => (port = (/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(err) || [])[1]), 5000,
      `msgflo-guv serves its metrics (stderr: ${err})`);
    await until(asked, 5000, `${what()}; stderr: ${err}`);
    ok(true, 'queue statistics asked, unanswered');
    let worst = 0;
    let again = 0;
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(250)) {
      let t0 = Date.now();
      let r = await httpGet(Number(port), '/metrics');
      if (Date.now() - t0 >= LIMIT_MS && again++ < 2) { // a busy machine: once more
        t0 = Date.now();
        r = await httpGet(Number(port), '/metrics');
      }
      const ms = Date.now() - t0;
      ok(r.status === 200 && /msgflo_guv_polls_total/.test(r.body), `GET /metrics: ${r.status}`);
      ok(ms < LIMIT_MS, `GET /metrics answered in ${ms} ms`);
      worst = Math.max(worst, ms);
    }
    if (beforeStop) await beforeStop(() => err);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await withTimeout(exited, 5000, 'msgflo-guv exit after SIGTERM');
    h.eq(r, { code: 0, signal: null }, `msgflo-guv exits 0 (stderr: ${err})`);
    ok(Date.now() - t0 < 3000, `msgflo-guv stopped in ${Date.now() - t0} ms`);
    console.log(`amqp-stalled-broker: guv ${args.join(' ')}: slowest GET /metrics ${worst} ms, asked again ${again}`);
  } catch (e) {
    child.kill('SIGKILL');
    console.error(`stderr of msgflo-guv:\n${err}`);
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function guvCase(broker) {
  const asked = () => broker.conns.some((c, i) => i > 0 && c.loggedIn && has(c, 'QueueDeclare', 'queue', 'stalledguv.IN'));
  await watchGuv(broker, [], asked, () => `the statistics go to a connection of their own (${broker.conns.length} ` +
    `connections, got ${broker.conns.map(names).join(' | ')})`);
}

// --management pointed at an HTTP server that accepts connections, reads
// the requests and never answers (libcurl gives up after 5 s): the requests
// do not hold msgflo-guv's loop; a poll that comes while one is under way is
// skipped (pollinterval 0.5 s: 1 request in the first 5 s); the timeout is
// logged as before (written by the loop); SIGTERM during the next request
// still ends it within 3 s.
async function guvManagementCase(broker) {
  const requests = [];
  const sockets = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    let head = '';
    s.on('data', (d) => {
      head += d;
      const m = /^GET (\S+) HTTP/.exec(head);
      if (m && head.includes('\r\n\r\n')) {
        requests.push({ path: m[1], at: Date.now() });
        head = '';
      }
    });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  try {
    const mgmt = `http://127.0.0.1:${server.address().port}`;
    const queue = '/api/queues/%2F/stalledguv.IN';
    await watchGuv(broker, ['--management', mgmt], () => requests.some((r) => r.path === queue),
      () => `msgflo-guv asks ${mgmt}${queue} (got ${JSON.stringify(requests)})`, async (stderr) => {
        const first = requests[0].at;
        const inFirst = requests.filter((r) => r.at - first < 4500).length;
        ok(inFirst === 1, `polls skipped while a request hangs: ${inFirst} requests in its first 4.5 s`);
        const line = `msgflo:guv warning: management API ${mgmt}${queue}: Timeout was reached`;
        await until(() => stderr().includes(line), 3000, `"${line}" (stderr: ${stderr()})`);
        await until(() => requests.length >= 2, 3000, 'the next poll asks again');
        ok(true, 'the timeout logged; the next request hangs');
      });
    ok(!broker.conns.some((c) => has(c, 'QueueDeclare', 'queue', 'stalledguv.IN')),
      'no passive declare with --management');
  } finally {
    sockets.forEach((s) => s.destroy());
    server.close();
  }
}

async function main() {
  const only = process.env.STALLED_CASE;
  const all = [runtimeCase, participantCase, binderCase, guvCase, guvManagementCase].filter((f) => !only || f.name === only);
  for (const run of all) {
    const broker = await stalledBroker(run === binderCase);
    try {
      await run(broker);
    } finally {
      broker.stop();
    }
  }
  console.log(`amqp-stalled-broker: ${h.checks()} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
