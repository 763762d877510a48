#!/usr/bin/env node
// The discovery protocol 1.0 (docs/discovery-protocol.md) checked with a real
// JSON Schema validator (ajv) on docs/schemas/discovery-1.0.json.
//
//   node discovery-schema.js vectors TEST_DISCOVERY
//     every vector of tests/fixtures/discovery is judged by the schema as
//     vectors.json says (valid, or invalid at `field`), and every file there is
//     in the table. test_discovery (the C parser) runs on the same table.
//   node discovery-schema.js live TEST_DISCOVERY
//     on the MQTT test broker, the discovery messages of real senders are
//     captured from `fbp`: our C examples, a C participant using every
//     optional field, msgflo-register with the foreign fixtures, and
//     msgflo-nodejs 0.11 participants (as interop.js runs them, and one with
//     the port keys it knows). The schema and the C parser
//     (TEST_DISCOVERY FILE...) must both accept each.
//
// Exit 77 (skip) without ajv, or (live) without an MQTT test broker.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

let Ajv;
try {
  Ajv = require('ajv');
} catch (e) {
  console.log('ajv not installed (npm install --prefix tests/conformance): skipped');
  process.exit(77);
}

const top = path.join(__dirname, '..', '..');
const schema = JSON.parse(fs.readFileSync(path.join(top, 'docs', 'schemas', 'discovery-1.0.json'), 'utf8'));
const fixtures = path.join(top, 'tests', 'fixtures', 'discovery');

// maxBytes is the schema's own keyword: strings' limits are UTF-8 bytes.
function compile() {
  const ajv = new Ajv({ allErrors: false });
  ajv.addKeyword('maxBytes', {
    type: 'string',
    errors: false,
    validate: (max, data) => Buffer.byteLength(data, 'utf8') <= max,
  });
  return ajv.compile(schema);
}
const validate = compile();

// The field an ajv error is about, written as the C parser names it.
function fieldOf(err) {
  let p = err.dataPath.replace(/^\./, '');
  if (err.keyword === 'required') p = p ? `${p}.${err.params.missingProperty}` : err.params.missingProperty;
  return p === '' ? 'the message' : p;
}

function vectors() {
  const table = JSON.parse(fs.readFileSync(path.join(fixtures, 'vectors.json'), 'utf8')).vectors;
  let bad = 0;
  const listed = new Set(table.map((v) => v.file));
  for (const dir of ['valid', 'invalid']) {
    for (const f of fs.readdirSync(path.join(fixtures, dir))) {
      if (!listed.has(`${dir}/${f}`)) {
        console.error(`${dir}/${f}: not in vectors.json`);
        bad++;
      }
    }
  }
  for (const v of table) {
    if (v.file.startsWith('valid/') !== v.valid) {
      console.error(`${v.file}: in the wrong folder`);
      bad++;
    }
    const msg = JSON.parse(fs.readFileSync(path.join(fixtures, v.file), 'utf8'));
    const ok = validate(msg);
    if (ok !== v.valid) {
      console.error(`${v.file}: the schema says ${ok ? 'valid' : 'invalid'} (${v.about})` +
        (ok ? '' : `: ${JSON.stringify(validate.errors)}`));
      bad++;
    } else if (!ok && fieldOf(validate.errors[0]) !== v.field) {
      console.error(`${v.file}: the schema refuses ${fieldOf(validate.errors[0])}, the table says ${v.field}`);
      bad++;
    }
  }
  // The C parser on the same table (its unit test, which reads vectors.json).
  const c = spawnSync(process.argv[3], [], { encoding: 'utf8' });
  if (c.status !== 0) {
    console.error(`test_discovery failed:\n${c.stdout}${c.stderr}`);
    bad++;
  }
  console.log(`discovery vectors: ${table.length} judged by the schema, ${bad} disagreements`);
  return bad === 0;
}

// --- live: messages from real senders ---------------------------------------------------

const { loadEnv, program } = require('./harness');

async function live() {
  let mqtt, msgflo;
  try {
    mqtt = require('mqtt');
    msgflo = require('msgflo-nodejs');
  } catch (e) {
    console.log('mqtt / msgflo-nodejs not installed: skipped');
    process.exit(77);
  }
  loadEnv();
  const url = process.env.MSGFLO_TEST_MQTT;
  if (!url) {
    console.log('no MSGFLO_TEST_MQTT: skipped');
    process.exit(77);
  }
  const tag = `ds${process.pid}`;
  const seen = new Map(); // role -> message text
  const client = mqtt.connect(url);
  await new Promise((resolve, reject) => {
    client.on('error', reject);
    client.on('connect', () => client.subscribe('fbp', (err) => (err ? reject(err) : resolve())));
  });
  client.on('message', (topic, m) => {
    try {
      const role = JSON.parse(m.toString()).payload.role;
      if (typeof role === 'string' && role.startsWith(tag) && !seen.has(role)) seen.set(role, m);
    } catch (e) { /* not ours */ }
  });

  const children = [];
  const nodes = [];
  const expected = [];
  const foreign = path.join(top, 'tests', 'fixtures', 'foreign');
  try {
    for (const name of ['repeat', 'drop', 'tonumber', 'button', 'motor', 'lamp', 'discovery_participant']) {
      const role = `${tag}-${name}`;
      expected.push(role);
      children.push(spawn(program(name), [role, url], { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    for (const yaml of ['lightbulb', 'processsomething', 'toggleswitch']) {
      const role = `${tag}-register-${yaml}`;
      expected.push(role);
      children.push(spawn(program('msgflo-register'),
        ['--broker', url, '--role', `${role}:${path.join(foreign, `${yaml}.yaml`)}`, '--forever=false'],
        { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    const defs = {
      // as interop.js runs it
      node: {
        component: 'node/Repeat', icon: 'file-word-o', label: 'Repeats in data without changes',
        inports: [{ id: 'in', type: 'any' }], outports: [{ id: 'out', type: 'any' }],
      },
      // the port keys msgflo-nodejs knows, a hidden port with and without a queue, no label
      nodeopts: {
        component: 'node/Options',
        inports: [
          { id: 'in', type: 'object', description: 'things', persistent: false, schema: 'https://example.org/s.json', default: {} },
          { id: 'admin', type: 'string', hidden: true, queue: `${tag}/admin` },
          { id: 'internal', type: 'any', hidden: true },
        ],
        outports: [{ id: 'out', type: 'object' }, { id: 'error', type: 'error' }],
      },
    };
    for (const [name, def] of Object.entries(defs)) {
      const role = `${tag}-${name}`;
      expected.push(role);
      const p = new msgflo.participant.Participant(url, def, (port, data, send) => send('out', null, data), role);
      await new Promise((resolve, reject) => p.start((err) => (err ? reject(err) : resolve())));
      nodes.push(p);
    }
    const deadline = Date.now() + 15000;
    while (expected.some((r) => !seen.has(r)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const p of nodes) await new Promise((r) => p.stop(() => r())).catch(() => {});
    await new Promise((r) => client.end(false, r));
  }

  let bad = 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discovery-schema-'));
  const files = [];
  for (const role of expected) {
    const text = seen.get(role);
    if (!text) {
      console.error(`${role}: no discovery message within 15 s`);
      bad++;
      continue;
    }
    const file = path.join(dir, `${role}.json`);
    fs.writeFileSync(file, text);
    files.push(file);
    if (!validate(JSON.parse(text.toString()))) {
      console.error(`${role}: refused by the schema: ${JSON.stringify(validate.errors)}\n  ${text}`);
      bad++;
    } else {
      console.log(`${role}: valid (${text.length} bytes)`);
    }
  }
  const c = spawnSync(process.argv[3], files, { encoding: 'utf8' });
  process.stdout.write(c.stdout.split(dir + path.sep).join(''));
  if (c.status !== 0) bad++;
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`discovery live: ${expected.length} senders, ${bad} problems`);
  return bad === 0;
}

async function main() {
  const mode = process.argv[2];
  if (!['vectors', 'live'].includes(mode) || !process.argv[3]) {
    console.error('usage: node discovery-schema.js vectors|live TEST_DISCOVERY');
    process.exit(2);
  }
  const ok = mode === 'vectors' ? vectors() : await live();
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
