#!/usr/bin/env node
// Interop: participants of the original Node library (msgflo-nodejs 0.11 with
// mqtt@2 / amqplib@0.5) and our C participants on the same broker.
//
//   test -> A.IN -> [C repeat A] -> A.OUT -> [Node repeat N] -> B.IN -> [C repeat B] -> B.OUT -> test
//
// plus, on RabbitMQ, a Node participant with the same role as A, consuming
// A.IN too: both declare A.IN / A.OUT and must agree on every argument
// (otherwise amqplib gets a PRECONDITION_FAILED channel error), and the work
// is shared. Every message must arrive exactly once, unchanged.
//
// Then msgflo-setup wires C and Node participants of one graph, started from a
// component library:  c1(Repeat) -> n(node/NodeRepeat) -> c2(Repeat).
//
// Usage: node interop.js   (brokers from $MSGFLO_TEST_BROKERS_ENV or
// $MSGFLO_TEST_MQTT / $MSGFLO_TEST_AMQP; programs from $MSGFLO_TEST_BIN_DIR)
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const h = require('./harness');
const { loadEnv, program } = h;
const npm = h.need('interop', ['msgflo-nodejs', 'mqtt', 'amqplib/callback_api']);
const [msgflo, mqtt, amqp] = [npm['msgflo-nodejs'], npm.mqtt, npm['amqplib/callback_api']];

function startC(role, url) {
  return new Promise((resolve, reject) => {
    const child = spawn(program('repeat'), [role, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`C participant ${role} did not start`)), 15000);
    child.stdout.once('data', (d) => {
      clearTimeout(timer);
      resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`C participant ${role} exited with ${code}`)));
  });
}

function nodeRepeat(url, role, inqueue, outqueue) {
  const def = {
    component: 'node/Repeat',
    icon: 'file-word-o',
    label: 'Repeats in data without changes',
    inports: [{ id: 'in', type: 'any', queue: inqueue }],
    outports: [{ id: 'out', type: 'any', queue: outqueue }],
  };
  const func = (inport, indata, send) => send('out', null, indata);
  const p = new msgflo.participant.Participant(url, def, func, role);
  return new Promise((resolve, reject) => {
    p.start((err) => (err ? reject(err) : resolve(p)));
  });
}

// A raw client of the test: send to a queue, collect from a topic/exchange.
function mqttTap(url, topic, onData) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url);
    c.on('error', reject);
    c.on('connect', () => {
      c.subscribe(topic, (err) => {
        if (err) return reject(err);
        c.on('message', (t, m) => { if (t === topic) onData(m.toString()); });
        resolve({
          send: (q, data) => c.publish(q, data),
          close: () => new Promise((r) => c.end(false, r)),
        });
      });
    });
  });
}

function amqpTap(url, exchange, onData) {
  return new Promise((resolve, reject) => {
    amqp.connect(url, (err, conn) => {
      if (err) return reject(err);
      conn.createChannel((err2, ch) => {
        if (err2) return reject(err2);
        ch.assertQueue('', { exclusive: true }, (err3, ok) => {
          if (err3) return reject(err3);
          ch.bindQueue(ok.queue, exchange, '', {}, (err4) => {
            if (err4) return reject(err4);
            ch.consume(ok.queue, (m) => onData(m.content.toString()), { noAck: true });
            resolve({
              send: (q, data) => ch.sendToQueue(q, Buffer.from(data)),
              close: () => new Promise((r) => conn.close(() => r())),
            });
          });
        });
      });
    });
  });
}

async function scenario(kind, url) {
  const tag = `${kind}${process.pid}`;
  const A = `ia${tag}`, N = `in${tag}`, B = `ib${tag}`;
  const children = [];
  const nodes = [];
  const received = [];
  let tap;
  try {
    children.push(await startC(A, url));
    children.push(await startC(B, url));
    nodes.push(await nodeRepeat(url, N, `${A}.OUT`, `${B}.IN`));
    // Same role as the C participant A: same queues, same declarations, and
    // on AMQP a competing consumer (MQTT subscribers would each get a copy).
    if (kind === 'amqp') nodes.push(await nodeRepeat(url, A, `${A}.IN`, `${A}.OUT`));
    tap = kind === 'mqtt'
      ? await mqttTap(url, `${B}.OUT`, (d) => received.push(d))
      : await amqpTap(url, `${B}.OUT`, (d) => received.push(d));
    const sent = [];
    for (let i = 0; i < 20; i++) {
      const msg = JSON.stringify({ bar: 'foo', i });
      sent.push(msg);
      tap.send(`${A}.IN`, msg);
    }
    const deadline = Date.now() + 10000;
    while (received.length < sent.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300)); // duplicates would show up now
    const ok = received.length === sent.length &&
      sent.every((m) => received.filter((x) => x === m).length === 1);
    console.log(`interop ${kind}: sent ${sent.length}, received ${received.length}: ${ok ? 'ok' : 'FAILED'}`);
    if (!ok) console.log('received:', received);
    return ok;
  } catch (e) {
    console.log(`interop ${kind}: FAILED: ${e.message}`);
    return false;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const p of nodes) await new Promise((r) => p.stop(() => r())).catch(() => {});
    if (tap) await tap.close().catch(() => {});
  }
}

const os = require('os');

function setupScenario(kind, url) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-interop-'));
  const components = path.join(dir, 'participants');
  fs.mkdirSync(components);
  fs.symlinkSync(program('repeat'), path.join(components, 'Repeat'));
  const launcher = path.join(__dirname, 'node_modules', 'msgflo-nodejs', 'bin', 'msgflo-nodejs');
  const module = path.join(__dirname, 'node-repeat.js');
  const library = path.join(dir, 'library.json');
  fs.writeFileSync(library, JSON.stringify({
    msgflo: { components: { 'node/NodeRepeat': `${process.execPath} ${launcher} --name #ROLE ${module}` } },
  }));
  const tag = `${kind}${process.pid}`;
  const [c1, n, c2] = [`sc${tag}`, `sn${tag}`, `sd${tag}`];
  const graph = path.join(dir, 'graph.fbp');
  fs.writeFileSync(graph, `${c1}(Repeat) OUT -> IN ${n}(node/NodeRepeat)\n${n} OUT -> IN ${c2}(Repeat)\n`);
  const setup = spawn(program('msgflo-setup'), ['--broker', url, '--participants', '--forever',
    '--library', library, '--componentdir', components, graph],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const received = [];
  let tap;
  const finish = async (ok, why) => {
    console.log(`interop msgflo-setup ${kind}: ${ok ? 'ok' : 'FAILED'}${why ? ': ' + why : ''}`);
    if (tap) await tap.close().catch(() => {});
    const exited = new Promise((r) => setup.once('exit', (code) => r(code)));
    setup.kill('SIGTERM');
    const code = await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    return ok && code === 0;
  };
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(finish(false, `no set-up in time; saw: ${out}`)), 30000);
    setup.stdout.on('data', async (d) => {
      out += d.toString();
      if (!out.includes('--forever enabled, keeping alive') || tap) return;
      clearTimeout(timer);
      try {
        tap = kind === 'mqtt'
          ? await mqttTap(url, `${c2}.OUT`, (x) => received.push(x))
          : await amqpTap(url, `${c2}.OUT`, (x) => received.push(x));
        const sent = [];
        for (let i = 0; i < 10; i++) {
          sent.push(JSON.stringify({ via: 'setup', i }));
          tap.send(`${c1}.IN`, sent[i]);
        }
        const deadline = Date.now() + 10000;
        while (received.length < sent.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 300));
        const ok = received.length === sent.length && sent.every((m) => received.includes(m)) &&
          out.includes(`Set up participants [ '${c1}', '${n}', '${c2}' ]`);
        resolve(finish(ok, ok ? '' : `received ${JSON.stringify(received)}`));
      } catch (e) {
        resolve(finish(false, e.message));
      }
    });
  });
}

async function main() {
  loadEnv();
  const brokers = [['mqtt', process.env.MSGFLO_TEST_MQTT], ['amqp', process.env.MSGFLO_TEST_AMQP]]
    .filter(([, url]) => url);
  if (!brokers.length) {
    console.error('interop: no MSGFLO_TEST_MQTT / MSGFLO_TEST_AMQP: skipping');
    process.exit(77);
  }
  let passed = 0, failed = 0;
  for (const [kind, url] of brokers) {
    if (await scenario(kind, url)) passed++; else failed++;
    if (await setupScenario(kind, url)) passed++; else failed++;
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
