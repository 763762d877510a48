// Every message the live layer emits in its unit test (test_live, run here
// with LIVE_DUMP) must validate against the fbp-protocol 0.9.8 JSON schemas,
// strictly (additionalProperties, date-time formats), as fbp-client checks
// them. Usage: node live-schemas.js path/to/test_live
// Exits 77 (skip) when fbp-protocol is not installed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

let tv4;
try {
  tv4 = require('fbp-protocol/schema');
} catch (e) {
  console.log('fbp-protocol not installed (npm install fbp-protocol@0.9.8): skipped');
  process.exit(77);
}

const bin = process.argv[2];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-schemas-'));
const dump = path.join(dir, 'messages.jsonl');
const run = spawnSync(bin, [], { env: Object.assign({}, process.env, { LIVE_DUMP: dump }),
                                 stdio: ['ignore', 'ignore', 'pipe'] });
if (run.status !== 0) {
  console.error(`${bin} failed (${run.status}):\n${run.stderr}`);
  process.exit(1);
}
const lines = fs.readFileSync(dump, 'utf8').split('\n').filter((l) => l.length > 0);
fs.rmSync(dir, { recursive: true });

// Outputs without an output schema of their own are the echoes of inputs
// (graph:*, runtime:packet, network:edges), schema'd as the input.
function schemaFor(m) {
  return tv4.getSchema(`/${m.protocol}/output/${m.command}`) ||
         tv4.getSchema(`/${m.protocol}/input/${m.command}`);
}

let bad = 0;
const seen = new Set();
for (const line of lines) {
  const m = JSON.parse(line);
  const key = `${m.protocol}:${m.command}`;
  seen.add(key);
  const schema = schemaFor(m);
  if (!schema) {
    console.error(`no schema for ${key}: ${line}`);
    bad++;
    continue;
  }
  const r = tv4.validateResult(m, schema, true, false);
  if (!r.valid || r.missing.length) {
    console.error(`invalid ${key}: ${r.error ? r.error.message + ' at ' + r.error.dataPath : r.missing}\n  ${line}`);
    bad++;
  }
}
// The check itself must reject what fbp-client rejects.
const probe = { protocol: 'network', command: 'data',
                payload: { id: 'x', graph: 'g', tgt: { node: 'a', port: 'in' }, data: 1, type: 'x' } };
if (tv4.validateResult(probe, schemaFor(probe), true, false).valid) {
  console.error('the schema check accepts an extra key: it checks nothing');
  bad++;
}
console.log(`${lines.length} messages (${seen.size} kinds: ${[...seen].sort().join(' ')}), ${bad} invalid`);
process.exit(bad ? 1 : 0);
