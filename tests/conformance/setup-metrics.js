#!/usr/bin/env node
// msgflo-setup --forever --metrics-port: the demo graph (examples/
// motorcontrol.fbp, its participants started, the embedded broker), then
// GET /metrics: three running nodes, three bound edges, an IIP sent, the
// process's own metrics; promtool check metrics when installed; 404 for
// other paths; SIGTERM ends it with 0.
//
//   node setup-metrics.js PATH/TO/msgflo-setup BIN_DIR
//
// Exit 77 while msgflo-setup has no --metrics-port option (setup_options
// has the fields; the option parser does not set them yet).
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [SETUP, BIN_DIR] = process.argv.slice(2);
const h = require('./harness');
const { eq, sleep, sample } = h;
const get = h.httpGet;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgflo-setup-metrics-'));
  const library = path.join(dir, 'library.json');
  fs.writeFileSync(library, JSON.stringify({
    components: {
      'iot/Button': `${BIN_DIR}/button #ROLE`, 'iot/Motor': `${BIN_DIR}/motor #ROLE`,
      'iot/Lamp': `${BIN_DIR}/lamp #ROLE`,
    },
  }));
  const graph = path.join(__dirname, '..', '..', 'examples', 'motorcontrol.fbp');
  const env = Object.assign({}, process.env, { BUTTON_PRESS_EVERY: '0.5', BUTTON_PRESSES: '100000', MOTOR_RUN_SECONDS: '0.1' });
  delete env.MSGFLO_BROKER;
  delete env.CLOUDAMQP_URL;
  const child = spawn(SETUP, ['--participants', '--forever', '--library', library, '--metrics-port', '0', graph],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
  let log = '';
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  try {
    let port;
    for (let i = 0; i < 300 && !port; i++) {
      if (child.exitCode !== null) break;
      const m = /Metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log);
      if (m) port = Number(m[1]);
      else await sleep(100);
    }
    if (!port) {
      if (/unknown option --metrics-port/.test(log)) {
        console.error('setup-metrics: msgflo-setup has no --metrics-port option yet: skipping');
        process.exit(77);
      }
      throw new Error(`no metrics address printed: ${log}`);
    }
    let r;
    for (let i = 0; i < 200; i++) {
      r = await get(port, '/metrics');
      if (sample(r.body, 'msgflo_nodes', 'state="running"') === 3 && sample(r.body, 'msgflo_edges', 'state="bound"') === 3 &&
        sample(r.body, 'msgflo_iips_sent_total') >= 1) break;
      await sleep(100);
    }
    eq(r.status, 200, 'GET /metrics: 200');
    eq(r.type.split(';')[0], 'text/plain', 'text format');
    eq(sample(r.body, 'msgflo_nodes', 'state="running"'), 3, 'three running nodes');
    eq(sample(r.body, 'msgflo_edges', 'state="bound"'), 3, 'three bound edges');
    eq(sample(r.body, 'msgflo_broker_connected'), 1, 'connected');
    eq(sample(r.body, 'msgflo_processes'), 3, 'three processes started');
    eq(sample(r.body, 'process_resident_memory_bytes') > 1e6, true, 'its own memory');
    eq(sample(r.body, 'msgflo_iips_sent_total') >= 1, true, 'the IIP counted');
    let promtool = null;
    try { promtool = execFileSync('sh', ['-c', 'command -v promtool']).toString().trim(); } catch (e) { /* none */ }
    if (promtool) {
      execFileSync(promtool, ['check', 'metrics'], { input: r.body });
      h.passed();
    }
    eq((await get(port, '/other')).status, 404, 'other paths: 404');
    child.kill('SIGTERM');
    eq(await exited, { code: 0, signal: null }, 'msgflo-setup exits 0 on SIGTERM');
  } catch (e) {
    console.error(log.split('\n').slice(-30).join('\n'));
    throw e;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`setup-metrics: ${h.checks()} checks passed`);
}

main().catch((e) => { console.error(e.stack || e); process.exit(1); });
