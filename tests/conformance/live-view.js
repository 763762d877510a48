#!/usr/bin/env node
// The runtime's live view and /metrics, with real participants on the MQTT
// test broker and the page in a real browser (headless Debian Chromium
// driven by npm playwright-core):
//
//   node live-view.js PATH/TO/msgflo BIN_DIR [SCREENSHOT.png]
//
// msgflo runs the demo graph (examples/motorcontrol.fbp: button, motor,
// warninglight; the button pressing itself every 0.2 s).
// /metrics: 401 without or with a wrong secret, 200 with it (Bearer header
// or ?secret=), the Prometheus text format (promtool check metrics, when
// promtool is installed), three running nodes, edge counters going up.
// The page: the graph drawn with its three nodes and three edges, the nodes
// running with the pids of their processes; the edge rates moving while
// messages flow; a participant started from outside appearing without a
// reload; an edge added by another client (as Flowhub would) drawn within a
// second; a participant that dies shown restarting; the latest payload of an
// edge on click, and no payload sent to the page before that nor after it
// shows something else; no request to any host but the runtime;
// network:edges per client (three WebSocket clients,
// only the one that selected an edge gets its data); a wrong secret refused
// on the page. With SCREENSHOT, a
// picture of the page (scripts/live-view-screenshot makes docs/live-view.png).
// Exit 77 without playwright-core, ws or Chromium.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const h = require('./harness');
const { ok, eq, sleep, withTimeout, eventually, sample } = h;
const npm = h.need('live-view', ['playwright-core', 'ws']);
const { chromium } = npm['playwright-core'];
const WebSocket = npm.ws;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  console.error(`live-view: ${CHROMIUM} missing (Debian package chromium): skipping`);
  process.exit(77);
}
const [BIN, BIN_DIR, SCREENSHOT] = process.argv.slice(2);
h.loadEnv();
const BROKER = process.env.MSGFLO_TEST_MQTT;

const children = [];
function startRuntime(args, env) {
  return withTimeout(new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: Object.assign({}, process.env, env),
    });
    children.push(child);
    let out = '';
    child.log = '';
    child.stderr.on('data', (d) => { child.log += d; });
    child.stdout.on('data', (d) => {
      out += d;
      child.log += d;
      const m = /msgflo started on ws:\/\/[^:]+:(\d+)/.exec(out);
      const live = /Live view: (http:\/\/\S+)/.exec(out);
      if (m && live) {
        const secret = /#secret=([0-9a-f]+)/.exec(live[1]);
        resolve({ child, port: Number(m[1]), live: live[1], secret: secret && secret[1] });
      }
    });
    child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    child.on('exit', (code) => reject(new Error(`msgflo exited with ${code}: ${child.log}`)));
  }), 20000, 'msgflo start');
}

const get = h.httpGet;

async function checkMetrics(rt) {
  const none = await get(rt.port, '/metrics');
  eq(none.status, 401, '/metrics without the secret: 401');
  ok(/Bearer/.test(none.headers['www-authenticate'] || ''), '401 says Bearer');
  eq((await get(rt.port, '/metrics', { Authorization: 'Bearer nope' })).status, 401,
    '/metrics with a wrong secret: 401');
  eq((await get(rt.port, '/metrics?secret=nope')).status, 401, '/metrics?secret=wrong: 401');
  eq((await get(rt.port, `/metrics?secret=${rt.secret}`)).status, 200, '/metrics?secret=: 200');
  const m = await eventually('three running nodes and counted edges', async () => {
    const r = await get(rt.port, '/metrics', { Authorization: `Bearer ${rt.secret}` });
    return sample(r.body, 'msgflo_nodes', 'state="running"') === 3 &&
      sample(r.body, 'msgflo_edge_messages_total', 'src="button"') > 0 &&
      sample(r.body, 'msgflo_iips_sent_total') >= 1 ? r : null; // the IIP goes out once settled
  });
  eq(m.status, 200, '/metrics with Bearer: 200');
  ok(m.headers['content-type'].startsWith('text/plain; version=0.0.4'), 'text format 0.0.4');
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes',
    'msgflo_participants', 'msgflo_bindings', 'msgflo_discovery_messages_total',
    'msgflo_iips_sent_total', 'msgflo_process_restarts_total', 'msgflo_broker_reconnects_total',
    'msgflo_websocket_clients', 'msgflo_data_messages_total']) {
    ok(sample(m.body, name) !== undefined, `/metrics has ${name}`);
  }
  ok(sample(m.body, 'msgflo_iips_sent_total') >= 1, 'the IIP is counted');
  ok(sample(m.body, 'process_resident_memory_bytes') > 1e6, 'resident memory in bytes');
  let promtool = null;
  try { promtool = execFileSync('sh', ['-c', 'command -v promtool']).toString().trim(); } catch (e) { /* none */ }
  if (promtool) {
    execFileSync(promtool, ['check', 'metrics'], { input: m.body }); // throws on a problem
    h.passed();
  } else {
    console.error('live-view: promtool missing (Debian package prometheus): format check skipped');
  }
  const before = sample(m.body, 'msgflo_edge_messages_total', 'src="button"');
  await eventually('edge counter goes up', async () => {
    const r = await get(rt.port, `/metrics?secret=${rt.secret}`);
    return sample(r.body, 'msgflo_edge_messages_total', 'src="button"') > before;
  });
  h.passed();
}

// A client as Flowhub: adds what the page must show.
function flowhubClient(port, secret) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'noflo', { origin: 'https://app.flowhub.io' });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  }), 5000, 'flowhub client').then((ws) => {
    ws.cmd = (protocol, command, payload) => ws.send(JSON.stringify({ protocol, command, payload: { ...payload, secret } }));
    return ws;
  });
}

// network:edges per client, with three FBP clients: one selects button ->
// motor and gets network:data of that edge only; one selects none and gets
// nothing; one never selects and gets every edge's (as fbp-test expects).
// Selecting none stops the first one's data.
async function checkEdgeSelection(rt) {
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => flowhubClient(rt.port, rt.secret)));
  const got = new Map([[a, []], [b, []], [c, []]]);
  const replies = new Map([[a, 0], [b, 0], [c, 0]]);
  const statuses = [];
  for (const ws of [a, b, c]) {
    ws.on('message', (text) => {
      const m = JSON.parse(text);
      if (m.protocol === 'network' && m.command === 'status') statuses.push(m.payload);
      if (m.protocol === 'network' && m.command === 'data') got.get(ws).push(m.payload);
      if (m.protocol === 'network' && m.command === 'edges') replies.set(ws, replies.get(ws) + 1);
    });
  }
  const graph = 'default/main';
  const edge = { src: { node: 'button', port: 'pressed' }, tgt: { node: 'motor', port: 'start' } };
  c.cmd('network', 'getstatus', { graph }); // known to the runtime, never selects
  a.cmd('network', 'edges', { graph, edges: [edge] });
  b.cmd('network', 'edges', { graph, edges: [] });
  await eventually('network:edges acknowledged', () => replies.get(a) === 1 && replies.get(b) === 1, 5000);
  for (const ws of [a, b, c]) got.get(ws).length = 0;
  await eventually('data on the selected edge and on every edge', () => got.get(a).length >= 3 &&
    got.get(c).some((d) => d.src.node === 'motor'), 10000);
  ok(got.get(a).every((d) => d.src.node === 'button' && d.tgt.node === 'motor' && d.data === true),
    `the selecting client gets its edge only (${got.get(a).length} messages)`);
  eq(got.get(b).length, 0, 'the client that selected none gets no network:data');
  ok(got.get(c).some((d) => d.src.node === 'button') && got.get(c).some((d) => d.src.node === 'motor'),
    'a client that never selected gets every edge');
  // Settled, data flowing: the graph runs, as the original says (the
  // default --network-running started).
  c.cmd('network', 'getstatus', { graph });
  await eventually('network:status answered twice', () => statuses.length === 2, 5000);
  eq(statuses[1], { graph, running: true, started: true }, 'the running demo reports running');
  a.cmd('network', 'edges', { graph, edges: [] });
  await eventually('second network:edges acknowledged', () => replies.get(a) === 2, 5000);
  const n = got.get(a).length;
  await sleep(1500);
  eq(got.get(a).length, n, 'selecting none stops the data');
  ok(got.get(c).length > 0, 'the other client still gets it');
  for (const ws of [a, b, c]) ws.close();
}

async function checkPage(browser, rt, dir) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Every request of the page, WebSocket included: to the runtime only.
  const hosts = new Set();
  page.on('request', (r) => hosts.add(new URL(r.url()).host));
  page.on('websocket', (w) => hosts.add(new URL(w.url()).host));
  await page.goto(rt.live);
  eq(new URL(page.url()).hash, '', 'the secret is taken off the address bar');
  await page.waitForFunction(() => document.querySelector('#conn').textContent === 'live', null, { timeout: 20000 });
  const flowhub = await page.getAttribute('#flowhub_url', 'href');
  ok(flowhub.startsWith('http://app.flowhub.io#runtime/endpoint?'), 'the Flowhub link stays');
  eq(new URLSearchParams(decodeURIComponent(flowhub.split('?')[1])).get('secret'), rt.secret,
    'the page adds the secret to the Flowhub link');
  await page.waitForFunction(() => document.querySelectorAll('#graph g.node').length === 3, null, { timeout: 20000 });
  const ids = await page.$$eval('#graph g.node', (ns) => ns.map((n) => n.dataset.id).sort());
  eq(ids, ['button', 'motor', 'warninglight'], 'the demo graph drawn: three nodes');
  eq(await page.$$eval('#graph g.edge', (es) => es.length), 3, 'and its three edges');
  // Laid out: no two nodes at the same place.
  const places = await page.$$eval('#graph g.node', (ns) => ns.map((n) => n.getAttribute('transform')));
  eq(new Set(places).size, 3, 'nodes laid out apart');
  await page.waitForFunction(() => [...document.querySelectorAll('#graph g.node')].every((n) => n.classList.contains('running')), null, { timeout: 20000 });
  const motor = await page.textContent('#graph g.node[data-id="motor"] .state');
  ok(/running · pid \d+/.test(motor), `motor shows its pid: ${motor}`);
  eq(await page.textContent('#conn'), 'live', 'connection shown live');

  // Rates move while the button presses.
  const rate = () => page.textContent('#graph g.edge[data-id^="button"] .rate');
  await eventually('a rate above zero on button -> motor', async () => {
    const t = await rate();
    const m = /^([\d.]+)\/s · (\d+)$/.exec(t);
    return m && Number(m[1]) > 0 && Number(m[2]) > 0;
  });
  const c1 = Number(/· (\d+)$/.exec(await rate())[1]);
  await eventually('the count goes on', async () => Number(/· (\d+)$/.exec(await rate())[1]) > c1);
  h.passed(2);

  // No payloads while no edge is shown (network:edges selected none; before
  // the runtime has that selection, the page is a client like any other),
  // though the button presses five times a second.
  await page.waitForFunction(() => window.msgfloLiveView.selections >= 1, null, { timeout: 5000 });
  const before = await page.evaluate(() => window.msgfloLiveView.dataMessages);
  await sleep(1500);
  eq(await page.evaluate(() => window.msgfloLiveView.dataMessages), before, 'no network:data while no edge is shown');
  // The latest payload on demand: click the edge; its data alone comes.
  await page.click('#graph g.edge[data-id^="button"] path.hit', { force: true });
  await eventually('the latest payload of button -> motor', async () => (await page.textContent('#payload')) === 'true');
  eq(await page.evaluate(() => [...window.msgfloLiveView.latest.keys()]), ['button\u001fpressed\u001fmotor\u001fstart'],
    'network:data of the shown edge only');
  // Showing a node stops the subscription.
  await page.click('#graph g.node[data-id="motor"] rect', { force: true });
  await page.waitForFunction(() => window.msgfloLiveView.selections >= 3, null, { timeout: 5000 });
  const stopped = await page.evaluate(() => window.msgfloLiveView.dataMessages);
  await sleep(1500);
  eq(await page.evaluate(() => window.msgfloLiveView.dataMessages), stopped, 'no network:data once no edge is shown');

  // A participant started from outside appears without a reload (within a
  // second of its discovery message: it announces at once).
  const outsider = spawn(path.join(BIN_DIR, 'repeat'), ['outsider', BROKER], { stdio: 'ignore' });
  children.push(outsider);
  const t0 = Date.now();
  await page.waitForSelector('#graph g.node[data-id="outsider"]', { timeout: 15000 });
  console.log(`live-view: outside participant drawn after ${Date.now() - t0} ms (process start included)`);
  await page.waitForSelector('#graph g.node.running[data-id="outsider"]', { timeout: 5000 });
  eq(await page.textContent('#graph g.node[data-id="outsider"] .state'), 'running',
    'an outside participant: running, no pid');
  h.passed();

  // An edge added by Flowhub is drawn within a second.
  const fh = await flowhubClient(rt.port, rt.secret);
  const t1 = Date.now();
  fh.cmd('graph', 'addedge', { graph: 'default/main', src: { node: 'motor', port: 'running' }, tgt: { node: 'outsider', port: 'in' } });
  await page.waitForSelector('#graph g.edge[data-id^="motor\u001frunning\u001foutsider"]', { timeout: 3000 });
  const took = Date.now() - t1;
  ok(took < 1000, `edge from Flowhub drawn in ${took} ms`);
  fh.close();

  // A participant dying: its process restarted, shown within a second.
  const pid = Number(/pid (\d+)/.exec(await page.textContent('#graph g.node[data-id="warninglight"] .state'))[1]);
  const t2 = Date.now();
  process.kill(pid, 'SIGKILL');
  await page.waitForFunction(() => {
    const n = document.querySelector('#graph g.node[data-id="warninglight"]');
    return n && (!n.classList.contains('running') || /restart/.test(n.textContent));
  }, null, { timeout: 3000 });
  const died = Date.now() - t2;
  ok(died < 1500, `a killed participant shown in ${died} ms`);
  await page.waitForFunction(() => /running · pid \d+ · 1 restart$/.test(document.querySelector('#graph g.node[data-id="warninglight"] .state').textContent), null, { timeout: 20000 });
  h.passed();

  if (SCREENSHOT) {
    await page.click('#graph g.edge[data-id^="button"] path.hit', { force: true });
    await page.screenshot({ path: SCREENSHOT });
    console.log(`live-view: screenshot ${SCREENSHOT}`);
  }
  eq(errors, [], 'no script errors on the page');
  eq([...hosts], [new URL(rt.live).host], 'the page asks the runtime only, nothing from elsewhere');
  await page.close();

  // No secret at all: the form asks for it, no refusal yet.
  const none = await browser.newPage();
  await none.goto(rt.live.replace(/#secret=.*/, ''));
  await none.waitForSelector('#secret_form:not([hidden])', { timeout: 10000 });
  eq(await none.isHidden('#refused'), true, 'no secret: asked, not refused');
  eq(await none.textContent('#conn'), 'needs the secret', 'no secret: said so');
  await none.close();

  // A wrong secret: refused on the page, nothing drawn.
  const bad = await browser.newPage();
  await bad.goto(rt.live.replace(/#secret=.*/, '#secret=wrong'));
  await bad.waitForSelector('#refused:not([hidden])', { timeout: 10000 });
  eq(await bad.textContent('#refused'), 'The runtime refused this secret.', 'a wrong secret: refusal shown');
  eq(await bad.$$eval('#graph g.node', (ns) => ns.length), 0, 'nothing drawn without the secret');
  // The form then takes the right one.
  await bad.fill('#secret', rt.secret);
  await bad.click('#secret_form button');
  await bad.waitForFunction(() => document.querySelectorAll('#graph g.node').length >= 3, null, { timeout: 10000 });
  h.passed();
  await bad.close();
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-liveview-'));
  const library = path.join(dir, 'library.json');
  fs.writeFileSync(library, JSON.stringify({
    components: {
      'iot/Button': `${BIN_DIR}/button #ROLE`, 'iot/Motor': `${BIN_DIR}/motor #ROLE`,
      'iot/Lamp': `${BIN_DIR}/lamp #ROLE`,
    },
  }));
  const graph = path.join(__dirname, '..', '..', 'examples', 'motorcontrol.fbp');
  const rt = await startRuntime(['--broker', BROKER, '--graph', graph, '--library', library,
    '--componentdir', path.join(dir, 'none'), '--forward', ''],
  { BUTTON_PRESS_EVERY: '0.2', BUTTON_PRESSES: '100000', MOTOR_RUN_SECONDS: '0.1' });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-chromium-'));
  let browser;
  try {
    ok(/^[0-9a-f]{32}$/.test(rt.secret || ''), 'the live view link carries the secret');
    await checkMetrics(rt);
    await checkEdgeSelection(rt);
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    await checkPage(browser, rt, dir);
    // SIGTERM: a clean exit (under ASan: no error, no leak reported).
    rt.child.kill('SIGTERM');
    eq(await withTimeout(rt.child.exited, 20000, 'msgflo exit'), { code: 0, signal: null },
      'msgflo exits 0 on SIGTERM');
    ok(!/Sanitizer|runtime error:/.test(rt.child.log), 'no sanitizer report');
  } catch (e) {
    console.error(rt.child.log.split('\n').slice(-40).join('\n'));
    throw e;
  } finally {
    if (browser) await browser.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    fs.rmSync(profile, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`live-view: ${h.checks()} checks passed`);
}

main().catch((e) => {
  console.error(e.stack || e);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(1);
});
