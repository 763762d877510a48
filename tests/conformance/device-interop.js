#!/usr/bin/env node
// A device-core participant (examples/device_repeat: msgflo/device.h on
// libmosquitto) seen by the original Node tools (msgflo-nodejs 0.11 with
// mqtt@2) on MQTT:
//  1. msgflo-nodejs's MessageBroker.subscribeParticipantChange (what the Node
//     coordinator listens with) receives its discovery message: the envelope,
//     exactly the payload keys msgflo's heterogenous test requires, the ports;
//  2. data flows both ways between it and a Node participant:
//       test -> D.IN -> [device_repeat D] -> D.OUT -> [Node repeat N] -> N.OUT -> test
//       test -> M.IN -> [Node repeat M] -> M.OUT = E.IN -> [device_repeat E] -> E.OUT -> test
//     every message exactly once, unchanged.
// Usage: node device-interop.js  (broker from $MSGFLO_TEST_BROKERS_ENV or
// $MSGFLO_TEST_MQTT; programs from $MSGFLO_TEST_BIN_DIR)
'use strict';
const { spawn } = require('child_process');

const h = require('./harness');
const { loadEnv, program } = h;
const npm = h.need('device-interop', ['msgflo-nodejs', 'mqtt']);
const [msgflo, mqtt] = [npm['msgflo-nodejs'], npm.mqtt];

function startDevice(role, url) {
  return new Promise((resolve, reject) => {
    const child = spawn(program('device_repeat'), [role, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`device_repeat ${role} did not start`)), 15000);
    child.stdout.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`device_repeat ${role} exited with ${code}`)));
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
  const p = new msgflo.participant.Participant(url, def, (port, data, send) => send('out', null, data), role);
  return new Promise((resolve, reject) => p.start((err) => (err ? reject(err) : resolve(p))));
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function main() {
  loadEnv();
  const url = process.env.MSGFLO_TEST_MQTT;
  if (!url) {
    console.error('device-interop: no MSGFLO_TEST_MQTT: skipping');
    process.exit(77);
  }
  const tag = `${process.pid}`;
  const D = `ddev${tag}`, N = `dnode${tag}`, M = `mnode${tag}`, E = `edev${tag}`;
  const children = [], nodes = [];
  let broker, tap, ok = false;
  try {
    // 1. the Node side's discovery subscription
    broker = msgflo.transport.getBroker(url);
    await new Promise((resolve, reject) => broker.connect((err) => (err ? reject(err) : resolve())));
    const seen = {};
    broker.subscribeParticipantChange((msg) => {
      const m = msg.data;
      if (m && m.payload && m.payload.role) seen[m.payload.role] = m;
    });
    await new Promise((r) => setTimeout(r, 500)); // it takes no callback: let it subscribe
    children.push(await startDevice(D, url));
    const deadline = Date.now() + 10000;
    while (!seen[D] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const m = seen[D];
    check(m, `msgflo-nodejs saw no discovery message from ${D}`);
    check(Object.keys(m).sort().join() === 'command,payload,protocol', 'envelope keys');
    check(m.protocol === 'discovery' && m.command === 'participant', 'envelope values');
    const p = m.payload;
    check(Object.keys(p).sort().join() === 'component,icon,id,inports,label,outports,role',
      `payload keys ${Object.keys(p)}`);
    check(p.role === D && p.component === 'c/Repeat' && p.id, 'payload values');
    check(p.inports.length === 1 && p.inports[0].id === 'in' && p.inports[0].queue === `${D}.IN`, 'inports');
    check(p.outports.length === 1 && p.outports[0].queue === `${D}.OUT`, 'outports');
    console.log(`device-interop: msgflo-nodejs discovered ${p.id} (${p.component}): ok`);

    // 2. data between the device and Node participants
    children.push(await startDevice(E, url));
    nodes.push(await nodeRepeat(url, N, `${D}.OUT`, `${N}.OUT`));
    nodes.push(await nodeRepeat(url, M, `${M}.IN`, `${E}.IN`));
    const received = { [`${N}.OUT`]: [], [`${E}.OUT`]: [] };
    tap = mqtt.connect(url);
    await new Promise((resolve, reject) => {
      tap.on('error', reject);
      tap.on('connect', () => tap.subscribe(Object.keys(received), (err) => (err ? reject(err) : resolve())));
    });
    tap.on('message', (t, msg) => { if (received[t]) received[t].push(msg.toString()); });
    const sent = [];
    for (let i = 0; i < 20; i++) {
      sent.push(JSON.stringify({ device: 'interop', i }));
      tap.publish(i % 2 ? `${M}.IN` : `${D}.IN`, sent[i]);
    }
    const until = Date.now() + 10000;
    const count = () => received[`${N}.OUT`].length + received[`${E}.OUT`].length;
    while (count() < sent.length && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // duplicates would show up now
    const viaNode = sent.filter((x, i) => i % 2 === 0), viaDevice = sent.filter((x, i) => i % 2 === 1);
    const same = (a, b) => a.length === b.length && a.every((x) => b.filter((y) => y === x).length === 1);
    ok = same(viaNode, received[`${N}.OUT`]) && same(viaDevice, received[`${E}.OUT`]);
    console.log(`device-interop: device -> Node and Node -> device, sent ${sent.length}, received ${count()}: ${ok ? 'ok' : 'FAILED'}`);
    if (!ok) console.log('received:', received);
  } catch (e) {
    console.log(`device-interop: FAILED: ${e.message}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const n of nodes) await new Promise((r) => n.stop(() => r())).catch(() => {});
    if (tap) await new Promise((r) => tap.end(false, r));
    if (broker) await new Promise((r) => broker.disconnect(() => r())).catch(() => {});
  }
  process.exit(ok ? 0 : 1);
}

main();
