// Times the reference parser (npm fbp@1.8.0) on a file: best and median of
// R runs of fbp.parse(text), as msgflo calls it (default options).
//   node bench_reference.js FILE [RUNS]
// Prints: processes connections best_ms median_ms
'use strict';
const fs = require('fs');
const path = require('path');
const fbp = require(path.join(__dirname, '..', '..', 'tests', 'conformance', 'node_modules', 'fbp'));
const file = process.argv[2];
const runs = parseInt(process.argv[3] || '5', 10);
const text = fs.readFileSync(file, 'utf-8');
const times = [];
let g;
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint();
  g = fbp.parse(text);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
console.log(`${Object.keys(g.processes).length} ${g.connections.length} ${times[0].toFixed(3)} ${times[Math.floor(runs / 2)].toFixed(3)}`);
