// What the JavaScript test scripts share: counted assertions, time limits,
// the npm packages a script needs (exit 77, "skipped", without them), the
// test brokers' environment and the programs of the build tree.
//
//   const h = require('./harness');
//   const { ws: WebSocket } = h.need('ws-runtime', ['ws']);
//   const BIN = h.binArg('ws-runtime.js');
//   h.ok(cond, 'what'); h.eq(a, b, 'what'); ... console.log(`${h.checks()} checks`);
//
// Scripts outside tests/conformance reach it (and the npm packages) through
// NODE_PATH.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const assert = require('assert').strict;

let count = 0;

function ok(cond, what) {
  assert.ok(cond, what);
  count++;
}

function eq(a, b, what) {
  assert.deepStrictEqual(a, b, what);
  count++;
}

const checks = () => count;

// Counts checks that passed by getting this far (an awaited event).
function passed(n = 1) {
  count += n;
}

// The npm packages `names` (require() names) as {name: module}; exits 77
// (a skip, which scripts/test counts as a failure) when one is missing.
function need(script, names) {
  const mods = {};
  for (const n of names) {
    try {
      mods[n] = require(n);
    } catch (e) {
      console.error(`${script}: npm package ${n} missing (npm install --prefix tests/conformance): skipping`);
      process.exit(77);
    }
  }
  return mods;
}

// argv[2], the program under test; exit 2 with a usage line without it.
function binArg(script, what = 'PATH/TO/msgflo') {
  const bin = process.argv[2];
  if (!bin) {
    console.error(`usage: node ${script} ${what}`);
    process.exit(2);
  }
  return bin;
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
  })]).finally(() => clearTimeout(t));
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// Polls fn until it returns a truthy value (or throws its last error after ms).
async function eventually(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`not yet: ${what}`);
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`${what}: ${last && last.message}`);
    await sleep(100);
  }
}

// GET http://127.0.0.1:PORT/PATH -> {status, type, headers, body}, within 10 s.
function httpGet(port, urlPath, headers) {
  return withTimeout(new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: urlPath, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'],
        headers: res.headers, body }));
    }).on('error', reject);
  }), 10000, `GET ${urlPath}`);
}

// The value of metric `name` (with `labels` among its labels, when given)
// in a Prometheus text answer, or undefined.
function sample(text, name, labels) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (!labels || (m[2] || '').includes(labels))) return Number(m[3]);
  }
  return undefined;
}

// The test brokers' URLs (MSGFLO_TEST_MQTT, MSGFLO_TEST_AMQP, ...) from the
// file the brokers fixture writes, into process.env.
function loadEnv() {
  const file = process.env.MSGFLO_TEST_BROKERS_ENV;
  if (file && fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) process.env[line.slice(0, i)] = line.slice(i + 1);
    }
  }
}

// A program of the build tree, found in $MSGFLO_TEST_BIN_DIR (':'-separated).
function program(name) {
  const dirs = (process.env.MSGFLO_TEST_BIN_DIR || '.').split(':');
  for (const d of dirs) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return path.resolve(p);
  }
  throw new Error(`program ${name} not found in ${dirs}`);
}

module.exports = {
  ok, eq, checks, passed, need, binArg, withTimeout, sleep, eventually, httpGet, sample, loadEnv, program,
};
