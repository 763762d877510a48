#!/usr/bin/env node
// /metrics across broker losses: msgflo on a private mosquitto (started here
// on a free loopback port, so no other test sees its restarts); the broker is
// killed (SIGKILL: the connection just breaks) and started again on the same
// port, twice. msgflo_broker_connected goes 1 -> 0 -> 1 and
// msgflo_broker_reconnects_total 0 -> 1 -> 2; msgflo:getstatus over the FBP
// protocol says the same.
//
//   node metrics-reconnect.js PATH/TO/msgflo
//
// Exit 77 without mosquitto or the npm package ws.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');

const h = require('./harness');
const { eq, sleep, eventually, sample } = h;
const WebSocket = h.need('metrics-reconnect', ['ws']).ws;
let MOSQUITTO;
try {
  MOSQUITTO = execFileSync('sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto']).toString().trim().split('\n')[0];
} catch (e) {
  console.error('metrics-reconnect: mosquitto missing: skipping');
  process.exit(77);
}
const [BIN] = process.argv.slice(2);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

const children = [];
async function startBroker(dir, port) {
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  children.push(child);
  child.exited = new Promise((res) => child.on('exit', res));
  await eventually('mosquitto listening', () => new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => { sock.end(); resolve(true); });
    sock.on('error', () => resolve(false));
  }), 10000);
  return child;
}

function startRuntime(broker, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', '--broker', broker, '--componentdir', path.join(dir, 'none')], {
      stdio: ['ignore', 'pipe', 'pipe'], env: Object.assign({}, process.env, { MSGFLO_SECRET: 'reconnect-test' }),
    });
    children.push(child);
    let out = '';
    child.log = '';
    child.stderr.on('data', (d) => { child.log += d; });
    child.stdout.on('data', (d) => {
      out += d;
      child.log += d;
      const m = /msgflo started on ws:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    child.on('exit', (code) => reject(new Error(`msgflo exited with ${code}: ${child.log}`)));
  });
}

async function metrics(port) {
  const r = await h.httpGet(port, '/metrics', { Authorization: 'Bearer reconnect-test' });
  return { status: r.status, connected: sample(r.body, 'msgflo_broker_connected'),
    reconnects: sample(r.body, 'msgflo_broker_reconnects_total') };
}

// msgflo:getstatus's counters, over the FBP protocol.
function status(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'noflo');
    ws.on('open', () => ws.send(JSON.stringify({ protocol: 'msgflo', command: 'getstatus', payload: {}, secret: 'reconnect-test' })));
    ws.on('message', (text) => {
      const m = JSON.parse(text);
      if (m.protocol === 'msgflo' && m.command === 'status') { ws.close(); resolve(m.payload.counters); }
    });
    ws.on('error', reject);
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-reconnect-'));
  const port = await freePort();
  let rt;
  try {
    let broker = await startBroker(dir, port);
    rt = await startRuntime(`mqtt://127.0.0.1:${port}`, dir);
    let m = await eventually('connected', async () => { const r = await metrics(rt.port); return r.connected === 1 ? r : null; });
    eq(m.status, 200, '/metrics answers');
    eq(m.reconnects, 0, 'no reconnect yet');
    for (let round = 1; round <= 2; round++) {
      broker.kill('SIGKILL');
      await broker.exited;
      m = await eventually(`connection lost (${round})`, async () => { const r = await metrics(rt.port); return r.connected === 0 ? r : null; });
      eq(m.reconnects, round - 1, `not counted while down (${round})`);
      broker = await startBroker(dir, port);
      m = await eventually(`connection back (${round})`, async () => { const r = await metrics(rt.port); return r.connected === 1 ? r : null; }, 30000);
      eq(m.reconnects, round, `msgflo_broker_reconnects_total after ${round} restart(s)`);
      const c = await status(rt.port);
      eq([c.connected, c.reconnects], [true, round], `msgflo:getstatus counters after ${round} restart(s)`);
    }
    rt.child.kill('SIGTERM');
    eq(await rt.child.exited, { code: 0, signal: null }, 'msgflo exits 0 on SIGTERM');
  } catch (e) {
    if (rt) console.error(rt.child.log.split('\n').slice(-30).join('\n'));
    throw e;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`metrics-reconnect: ${h.checks()} checks passed`);
}

main().catch((e) => {
  console.error(e.stack || e);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(1);
});
