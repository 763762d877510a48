#!/usr/bin/env node
// Flowhub's live mode against the msgflo runtime, with a real WebSocket client
// (npm ws) connecting as Flowhub's page does (Origin https://app.flowhub.io,
// the secret of the printed link in every request), real brokers and real C
// participants:
//
//   node flowhub-live.js PATH/TO/msgflo BIN_DIR
//
// For MQTT and AMQP (brokers from $MSGFLO_TEST_BROKERS_ENV): msgflo loads a
// graph (--graph, --auto-save) that starts two Repeat participants; a client
// connects as Flowhub does (subprotocol noflo), reads the runtime, lists the
// components, gets the main graph's source, adds a Drop node and an edge to
// it, sends an IIP and sees the data on both edges; the auto-saved graph file
// holds the new node and edge. Exit 77 when `ws` is not installed.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const h = require('./harness');
const { ok, eq, withTimeout } = h;

const WebSocket = h.need('flowhub-live', ['ws']).ws;
const [BIN, BIN_DIR] = process.argv.slice(2);
h.loadEnv();
const brokers = process.env;

function startRuntime(args) {
  return withTimeout(new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.log = '';
    child.stderr.on('data', (d) => { child.log += d; });
    child.exited = new Promise((res) => child.on('exit', (code) => res(code)));
    child.stdout.on('data', (d) => {
      out += d;
      child.log += d;
      const m = /msgflo started on ws:\/\/[^:]+:(\d+)/.exec(out);
      const link = /Open in Flowhub: .*#runtime\/endpoint\?(\S*)/.exec(out);
      if (m && link) {
        const secret = new URLSearchParams(decodeURIComponent(link[1])).get('secret');
        resolve({ child, port: Number(m[1]), secret });
      }
    });
    child.on('exit', (code) => reject(new Error(`msgflo exited with ${code}: ${child.log}`)));
  }), 15000, 'msgflo start');
}

function connect(port, secret) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'noflo', { origin: 'https://app.flowhub.io' });
    ws.secret = secret;
    ws.inbox = [];
    ws.waiters = [];
    ws.on('message', (m) => {
      if (ws.secret && String(m).includes(ws.secret)) ws.leaked = String(m);
      ws.inbox.push(JSON.parse(m));
      for (const w of ws.waiters.splice(0)) w();
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  }), 5000, 'connect');
}

// With the secret in the payload, as Flowhub's fbp-protocol-client sends it.
function send(ws, protocol, command, payload) {
  ws.send(JSON.stringify({ protocol, command, payload: { ...payload, secret: ws.secret } }));
}

// Resolves with the first message (taken from the inbox) that matches. A
// waiter that timed out takes nothing any more.
function expect(ws, what, match, ms = 20000) {
  let done = false;
  return withTimeout(new Promise((resolve) => {
    const look = () => {
      if (done) return undefined;
      const i = ws.inbox.findIndex(match);
      if (i >= 0) {
        done = true;
        return resolve(ws.inbox.splice(i, 1)[0]);
      }
      ws.waiters.push(look);
      return undefined;
    };
    look();
  }), ms, what).finally(() => { done = true; });
}
const cmd = (p, c) => (m) => m.protocol === p && m.command === c;

async function liveMode(name, broker) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-live-'));
  const graph = path.join(dir, 'live.json');
  fs.writeFileSync(path.join(dir, 'library.json'), JSON.stringify({
    namespace: 'core',
    components: { 'core/Repeat': `${BIN_DIR}/repeat #ROLE`, 'core/Drop': `${BIN_DIR}/drop #ROLE` },
  }));
  fs.writeFileSync(graph, JSON.stringify({
    processes: { first: { component: 'core/Repeat' }, second: { component: 'core/Repeat' } },
    connections: [{ src: { process: 'first', port: 'out' }, tgt: { process: 'second', port: 'in' } }],
  }));
  const rt = await startRuntime(['--broker', broker, '--graph', graph, '--auto-save',
    '--library', path.join(dir, 'library.json'), '--componentdir', path.join(dir, 'none')]);
  try {
    ok(/^[0-9a-f]{32}$/.test(rt.secret || ''), `${name}: the runtime's secret in the link`);
    const ws = await connect(rt.port, rt.secret);
    send(ws, 'runtime', 'getruntime', {});
    const runtime = await expect(ws, 'runtime', cmd('runtime', 'runtime'));
    eq(runtime.payload.graph, 'default/main', `${name}: main graph`);
    ok(runtime.payload.capabilities.includes('protocol:graph'), `${name}: may edit graphs`);

    send(ws, 'component', 'list', {});
    const ready = await expect(ws, 'componentsready', cmd('component', 'componentsready'));
    const components = ws.inbox.filter(cmd('component', 'component')).map((m) => m.payload.name);
    ok(Number.isInteger(ready.payload) && ready.payload >= 2, `${name}: componentsready counts`);
    ok(components.includes('core/Repeat') && components.includes('core/Drop'),
      `${name}: library components listed: ${components}`);

    send(ws, 'component', 'getsource', { name: 'default/main' });
    const source = await expect(ws, 'source', cmd('component', 'source'));
    eq([source.payload.name, source.payload.library, source.payload.language],
      ['main', 'default', 'json'], `${name}: main graph source`);
    const code = JSON.parse(source.payload.code);
    eq(Object.keys(code.processes).sort(), ['first', 'second'], `${name}: graph nodes`);
    eq(code.processes.first.component, 'core/Repeat', `${name}: node component`);
    eq(code.connections.length, 1, `${name}: graph edge`);

    send(ws, 'graph', 'addnode', { id: 'sink', component: 'core/Drop', metadata: { x: 10, y: 20 }, graph: 'default/main' });
    await expect(ws, 'addnode echo', (m) => cmd('graph', 'addnode')(m) && m.payload.id === 'sink');
    send(ws, 'graph', 'addedge', { src: { node: 'second', port: 'out' }, tgt: { node: 'sink', port: 'in' }, graph: 'default/main' });
    await expect(ws, 'addedge echo', (m) => cmd('graph', 'addedge')(m) && m.payload.tgt.node === 'sink');
    // Until every participant is up and bound, a message could be lost at the
    // sink; the IIP is delivered once its target is discovered, and the
    // edges carry it once bound: retry until the data shows.
    let seenFirst = null;
    let seenSecond = null;
    for (let attempt = 0; attempt < 20 && !(seenFirst && seenSecond); attempt++) {
      const data = { reading: attempt };
      send(ws, 'graph', 'addinitial', { src: { data }, tgt: { node: 'first', port: 'in' }, graph: 'default/main' });
      try {
        seenFirst = seenFirst || await expect(ws, 'data on first -> second', (m) => cmd('network', 'data')(m)
          && m.payload.id === 'first() OUT -> IN second()', 3000);
        seenSecond = seenSecond || await expect(ws, 'data on second -> sink', (m) => cmd('network', 'data')(m)
          && m.payload.id === 'second() OUT -> IN sink()', 3000);
      } catch (e) { /* not up yet */ }
      send(ws, 'graph', 'removeinitial', { tgt: { node: 'first', port: 'in' }, graph: 'default/main' });
    }
    ok(seenFirst && seenSecond, `${name}: data seen on both edges`);
    eq(Object.keys(seenSecond.payload).sort(), ['data', 'graph', 'id', 'src', 'tgt'], `${name}: network:data keys`);
    eq(seenSecond.payload.src, { node: 'second', port: 'out' }, `${name}: data source`);

    // Auto-save: the file gains the node and the edge (debounced, atomic).
    let saved = null;
    for (let i = 0; i < 50; i++) {
      saved = JSON.parse(fs.readFileSync(graph, 'utf8'));
      if (saved.processes.sink) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    eq(saved.processes.sink.component, 'core/Drop', `${name}: auto-saved node`);
    ok(saved.connections.some((c) => c.tgt && c.tgt.process === 'sink'), `${name}: auto-saved edge`);
    eq(fs.readdirSync(dir).filter((f) => f.includes('autosave')), [], `${name}: no temporary left`);
    eq(ws.leaked, undefined, `${name}: the secret never echoed`);
    ws.close();
  } catch (e) {
    console.error(rt.child.log);
    throw e;
  } finally {
    rt.child.kill('SIGTERM');
    eq(await withTimeout(rt.child.exited, 15000, 'exit'), 0, `${name}: exit 0 on SIGTERM`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  if (!process.env.ONLY || process.env.ONLY === 'mqtt') await liveMode('mqtt', brokers.MSGFLO_TEST_MQTT);
  if (!process.env.ONLY || process.env.ONLY === 'amqp') await liveMode('amqp', brokers.MSGFLO_TEST_AMQP);
  console.log(`flowhub-live: ${h.checks()} checks passed`);
})().catch((e) => {
  console.error(`flowhub-live: FAILED: ${e.stack || e}`);
  process.exit(1);
});
