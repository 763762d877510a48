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
const net = require('net');
const h = require('../conformance/harness');
const { ok, withTimeout, sleep } = h;
const { startRuntime, connect, checkResponsive, checkStops } = require('./responsive');

const npm = h.need('amqp-stalled-broker', ['amqplib/lib/defs', 'amqplib/lib/frame']);
const [defs, frame] = [npm['amqplib/lib/defs'], npm['amqplib/lib/frame']];
const [BIN, REPEAT] = process.argv.slice(2);
if (!BIN || !REPEAT) {
  console.error('usage: node amqp-stalled-broker.js PATH/TO/msgflo PATH/TO/repeat');
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
  console.log(`amqp-stalled-broker: ${h.checks()} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
