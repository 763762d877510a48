#!/usr/bin/env node
// Quorum queues on the 3-node cluster (tests/integration/cluster):
//
// 1. dead letters: a C participant with ?queueType=quorum nacks a message;
//    it reaches the exchange dead-<queue> (x-dead-letter-exchange works on a
//    quorum queue) and a queue bound to it.
// 2. mixed with the original: declaring that queue as msgflo-nodejs does
//    (amqplib assertQueue(Q, {deadLetterExchange: 'dead-Q'})) is refused with
//    406 PRECONDITION_FAILED (inequivalent arg 'x-queue-type'); the other way
//    round, a C participant with ?queueType=quorum on a classic queue
//    declared by msgflo-nodejs is refused too and says why.
//
// Usage: node cluster-queues.js  (cluster from $MSGFLO_TEST_CLUSTER_ENV;
// programs from $MSGFLO_TEST_BIN_DIR)
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

let amqp;
try {
  amqp = require('amqplib/callback_api');
} catch (e) {
  console.error('cluster-queues: npm packages missing (npm install --prefix tests/conformance): skipping');
  process.exit(77);
}

const env = {};
const envFile = process.env.MSGFLO_TEST_CLUSTER_ENV;
if (!envFile || !fs.existsSync(envFile)) {
  console.error('cluster-queues: no cluster ($MSGFLO_TEST_CLUSTER_ENV)');
  process.exit(1);
}
for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
  const i = line.indexOf('=');
  if (i > 0) env[line.slice(0, i)] = line.slice(i + 1).replace(/^"|"$/g, '');
}
const clusterUrl = env.MSGFLO_TEST_CLUSTER; // amqp://guest:guest@h:p1,h:p2,h:p3/
const ports = env.MSGFLO_TEST_CLUSTER_PORTS.split(' ');
// amqplib takes one host: the last node (the failover case kills the first).
const nodeUrl = 'amqp://guest:guest@127.0.0.1:' + ports[ports.length - 1] + '/';

function findProgram(name) {
  for (const dir of (process.env.MSGFLO_TEST_BIN_DIR || '').split(':')) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error('program ' + name + ' not found in $MSGFLO_TEST_BIN_DIR');
}

const children = [];
function start(name, args) {
  const child = spawn(findProgram(name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.err = '';
  child.stdout.on('data', (d) => { child.out += d; });
  child.stderr.on('data', (d) => { child.err += d; });
  children.push(child);
  return child;
}

function until(what, cond, seconds) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + seconds * 1000;
    const t = setInterval(() => {
      if (cond()) { clearInterval(t); resolve(); } else if (Date.now() > deadline) {
        clearInterval(t);
        reject(new Error('timeout waiting for ' + what));
      }
    }, 50);
  });
}

const p = (f) => new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));

async function channel(conn) {
  const ch = await p((cb) => conn.createChannel(cb));
  ch.on('error', () => {}); // a refused declaration closes the channel: the callback reports it
  return ch;
}

async function main() {
  const tag = 'cq' + process.pid;
  const conn = await p((cb) => amqp.connect(nodeUrl, cb));
  conn.on('error', () => {});
  try {
    // 1. Dead letters from a quorum queue.
    const q = tag + 'n.IN';
    const dead = tag + 'n.DEAD';
    const nacker = start('fixture', [tag + 'n', clusterUrl + '?queueType=quorum', 'nack']);
    await until('the nacking participant', () => nacker.out.length > 0, 60);
    let ch = await channel(conn);
    await p((cb) => ch.assertExchange('dead-' + q, 'fanout', {}, cb));
    await p((cb) => ch.assertQueue(dead, { arguments: { 'x-queue-type': 'quorum' } }, cb));
    await p((cb) => ch.bindQueue(dead, 'dead-' + q, '', {}, cb));
    ch.sendToQueue(q, Buffer.from('dead letter 1'), { persistent: true });
    let got = null;
    await p((cb) => ch.consume(dead, (m) => { got = m.content.toString(); ch.ack(m); }, {}, cb));
    await until('the dead letter', () => got !== null, 30);
    if (got !== 'dead letter 1') throw new Error('dead letter was ' + got);
    console.log('ok: a message nacked on quorum queue ' + q + ' reached dead-' + q);

    // 2a. msgflo-nodejs' declaration of that queue is refused.
    ch = await channel(conn);
    let refusal = null;
    try {
      await p((cb) => ch.assertQueue(q, { deadLetterExchange: 'dead-' + q }, cb));
    } catch (e) {
      refusal = e.message;
    }
    if (!refusal || !/PRECONDITION_FAILED/.test(refusal) || !/x-queue-type/.test(refusal))
      throw new Error('msgflo-nodejs\' declaration was not refused as expected: ' + refusal);
    console.log('ok: msgflo-nodejs\' declaration refused: ' + refusal.split('\n')[0]);

    // 2b. A classic queue of msgflo-nodejs, then a C participant with quorum.
    const cq = tag + 'c.IN';
    ch = await channel(conn);
    await p((cb) => ch.assertQueue(cq, { deadLetterExchange: 'dead-' + cq }, cb));
    const refused = start('repeat', [tag + 'c', clusterUrl + '?queueType=quorum']);
    await until('the refusal in the C participant\'s log',
      () => /inequivalent arg 'x-queue-type'/.test(refused.err), 60);
    const line = refused.err.split('\n').find((l) => /inequivalent arg/.test(l));
    console.log('ok: the C participant says: ' + line);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    // Best effort: a participant still retrying may redeclare a queue meanwhile.
    for (const name of [tag + 'c.IN', tag + 'n.DEAD', tag + 'n.IN']) {
      try {
        const ch = await channel(conn);
        await p((cb) => ch.deleteQueue(name, {}, cb));
      } catch (e) {
        console.log('note: could not delete ' + name + ': ' + e.message);
      }
    }
    conn.close(() => {});
  }
}

main().then(() => process.exit(0), (e) => {
  console.error('cluster-queues: FAIL: ' + e.message);
  for (const c of children) console.error('--- ' + c.spawnargs.join(' ') + '\n' + c.err.slice(-2000));
  process.exit(1);
});
