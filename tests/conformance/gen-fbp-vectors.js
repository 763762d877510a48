#!/usr/bin/env node
// Generates .fbp parser test vectors with the reference parser (npm fbp@1.8.0).
//
//   node gen-fbp-vectors.js                  write the checked-in vectors to ./fbp/
//   node gen-fbp-vectors.js --out DIR        the same vectors into DIR
//   node gen-fbp-vectors.js --random N [--seed S] --out DIR
//                                            N random graphs (some broken) into DIR
//   node gen-fbp-vectors.js --inputs SRC --out DIR
//                                            every file of SRC (e.g. a fuzzing
//                                            corpus) as a vector in DIR
//
// For every input NAME.fbp it writes, for the default options (caseSensitive
// false, as msgflo calls the parser) and for caseSensitive true:
//   NAME.json / NAME.cs.json              JSON.stringify(result, null, 2) + "\n"
//   NAME.error.json / NAME.cs.error.json  {"message", "line", "column"} (0 when
//                                         the error has no place: validation)
// The inputs come from the reference's own test suite (spec/fbp.coffee and
// spec/json.coffee, extracted below), from the cases listed here, which
// cover every construct of the language and every error message, and from
// the fuzz-*.fbp inputs already in the directory (picked once from our
// libFuzzer corpus: one per distinct syntax error message, plus some that
// parse), whose expected outputs are regenerated too.
'use strict';
const fs = require('fs');
const path = require('path');

const here = __dirname;
const fbp = require(path.join(here, 'node_modules', 'fbp'));
const version = require(path.join(here, 'node_modules', 'fbp', 'package.json')).version;
if (version !== '1.8.0') {
  console.error(`gen-fbp-vectors: need fbp 1.8.0, found ${version}`);
  process.exit(1);
}

function parseArgs() {
  const args = { out: path.join(here, 'fbp'), random: 0, seed: 1, inputs: null };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--out') args.out = a[++i];
    else if (a[i] === '--random') args.random = parseInt(a[++i], 10);
    else if (a[i] === '--seed') args.seed = parseInt(a[++i], 10);
    else if (a[i] === '--inputs') args.inputs = a[++i];
    else { console.error('usage: gen-fbp-vectors.js [--random N [--seed S]] [--out DIR]'); process.exit(2); }
  }
  return args;
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

// JavaScript string escapes as CoffeeScript leaves them to JS.
function unescapeJs(s) {
  return s.replace(/\\(.)/g, (m, c) => ({ n: '\n', t: '\t', r: '\r', '0': '\0' }[c] || c));
}

// fbpData = "..." and fbpData = """ ... """ blocks of a CoffeeScript spec,
// named by the closest describe before them.
function extractSpec(file, prefix) {
  const lines = fs.readFileSync(file, 'utf-8').split('\n');
  const cases = [];
  let title = 'case';
  for (let i = 0; i < lines.length; i++) {
    const d = lines[i].match(/describe '((?:[^'\\]|\\.)*)'/);
    if (d) title = d[1];
    const single = lines[i].match(/fbpData = "((?:[^"\\]|\\.)*)"\s*$/);
    if (single) { cases.push([prefix + slug(title), unescapeJs(single[1])]); continue; }
    if (/fbpData = """\s*$/.test(lines[i])) {
      const body = [];
      for (i++; i < lines.length && !/^\s*"""\s*$/.test(lines[i]); i++) body.push(lines[i]);
      const indents = body.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length);
      const strip = indents.length ? Math.min(...indents) : 0;
      let text = body.map((l) => l.slice(strip)).join('\n');
      text = text.replace(/\n[ \t]*$/, ''); // CoffeeScript drops the last line break
      cases.push([prefix + slug(title), unescapeJs(text)]);
    }
  }
  return cases;
}

// Our own cases: every construct of the language, every error.
const own = [
  ['msgflo-hello', "# @runtime msgflo\n# @name Hello\nINPORT=a.IN:input\nOUTPORT=b.OUT:output\n" +
    "a(foo/A:x=17,main) OUT[2] -> IN b(foo/B)\n'World' -> NAME a\n"],
  ['msgflo-old-runtime-comment', "# !runtime msgflo\nbutton(Button) PRESSED -> START motor(Motor)\n"],
  ['iip-escaped-quote', "'it\\'s' -> IN a(A)\n"],
  ['iip-backslash-n-literal', "'a\\nb\\\\' -> IN a(A)\n"],
  ['iip-multiline', "'line one\nline two\n' -> IN a(A)\n"],
  ['iip-crlf', "'x' -> IN a(A)\r\na OUT -> IN b(B)\r\n"],
  ['iip-unicode', "'h\u00e9llo \ud83d\ude00' -> IN a(A) # \u00fcn\u00efcode\n"],
  ['iip-json-numbers', "42 -> IN a(A)\n-1.5e3 -> X a\n0.1 -> Y a\n1e21 -> Z a\n123456789012345678901234 -> W a\n-0 -> V a\n1E-7 -> U a\n"],
  ['iip-json-number-leading-zero', "01 -> IN a(A)\n"],
  ['iip-json-string-escapes', "\"a\\\"b\\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00 \\u0041\" -> IN a(A)\n"],
  ['iip-json-object-multiline', "{\"a\": {\"b\": [1, 2, {}]},\n \"c\": null,\n\t\"d\": true, \"a\": false} -> IN a(A)\n"],
  ['iip-json-array', "[1, \"two\", [3], {\"four\": 4}, null, true, false] -> IN a(A)\n"],
  ['iip-json-empty', "[] -> IN a(A)\n{} -> OPTIONS a\n\"\" -> S a\n"],
  ['iip-json-integer-keys', "{\"b\": 1, \"10\": 2, \"2\": 3, \"a\": 4} -> IN a(A)\n"],
  ['iip-true-is-a-node', "true -> IN a(A)\n"],
  ['iip-null-is-a-node', "null -> IN a(A)\n"],
  ['iip-empty-quoted', "'' -> IN a(A)\n"],
  ['iip-bad-json', "{\"a\": } -> IN a(A)\n"],
  ['iip-bad-json-escape', "\"a\\x\" -> IN a(A)\n"],
  ['iip-unterminated', "'abc -> IN a(A)\n"],
  ['iip-to-undefined-node', "'localhost' -> IN a\n"],
  ['iip-zero-to-undefined-node', "0 -> IN a\n"],
  ['iip-empty-to-undefined-node', "'' -> IN a\n"],
  ['iip-object-to-undefined-node', "{\"a\": 1} -> IN a\n"],
  ['iip-array-to-undefined-node', "[1, [2, null], 3.5] -> IN a\n"],
  ['iip-into-chain', "'x' -> IN a(A) OUT -> IN b(B) OUT[2] -> IN[1] c(C)\n"],
  ['default-ports-custom', "DEFAULT_INPORT=Input\nDEFAULT_OUTPORT=Output\n(A) -> (B) -> (C)\n"],
  ['default-ports-change-midway', "(A) -> (B)\nDEFAULT_INPORT=data\n(C) -> (D)\n"],
  ['anonymous-slashes', "(core/Output) -> (a/b/c) -> (a-b_c) -> (core/Output)\n"],
  ['anonymous-leading-underscore', "(_x) -> (-y/z)\n"],
  ['anonymous-empty-component', "() -> (B)\n"],
  ['empty-component', "a() OUT -> IN b(B)\n"],
  ['mention-with-empty-parens', "a(A) OUT -> IN b(B)\nb() OUT -> IN a()\n"],
  ['redeclare-component', "a(A) OUT -> IN b(B)\na(C) OUT -> IN c(C)\n"],
  ['node-alone', "a(A)\n"],
  ['node-alone-comment', "a(A) # the only node\n"],
  ['node-alone-port', "a(A) OUT\n"],
  ['two-statements-one-line', "a(A) OUT -> IN b(B) c(C) OUT -> IN d(D)\n"],
  ['commas-and-comments', "a(A) OUT -> IN b(B), # comment\nb OUT -> IN c(C),b OUT -> IN d(D) ,\n"],
  ['only-comments', "# one\n  # two\n#\n"],
  ['empty', ""],
  ['only-newlines', "\n\n\r\n  \n"],
  ['cr-line-endings', "a(A) OUT -> IN b(B)\rb OUT -> IN c(C)\r"],
  ['unicode-line-separators', "a(A) OUT -> IN b(B)\u2028b OUT -> IN c(C)\u2029"],
  ['no-trailing-newline', "a(A) OUT -> IN b(B)"],
  ['annotation-slash-dropped', "# @runtime noflo/nodejs\na(A)\n"],
  ['annotation-spaces', "#   @name   two words here \na(A)\n"],
  ['annotation-last-line', "a(A)\n# @name Last"],
  ['annotation-indented-is-comment', "  # @name Indented\na(A)\n"],
  ['annotation-repeated', "# @name First\n# @runtime x\n# @name Second\n# @runtime y\na(A)\n"],
  ['annotation-numeric-key', "# @zz last\n# @123 num\n# @description a-b_c.d\na(A)\n"],
  ['annotation-no-space', "#@name x\na(A)\n"],
  ['metadata', "a(A:x=1,y=2,label=foo) OUT -> IN b(B:routes1,k=v=w,=e)\n"],
  ['metadata-bad-numbers', "a(A:x=abc,y=) OUT -> IN b(B:x=1e3,y=12ab)\nc(C:x=Infinity,y=007)\n"],
  ['metadata-empty-items', "a(A:,) OUT -> IN b(B:routes=,x=0)\n"],
  ['metadata-dot-breaks', "a(A:x=1.5)\n"],
  ['metadata-replaced', "a(A:x=1) OUT -> IN b(B)\na(A:y=2) OUT -> IN c(C)\n"],
  ['metadata-only', "a(:x=1) OUT -> IN b(B)\na(A)\n"],
  ['port-indexes', "a(A) OUT[0] -> IN[12] b(B)\n'x' -> IN[3] a\na OUT[007] -> IN b\n"],
  ['port-index-bad', "a(A) OUT[x] -> IN b(B)\n"],
  ['port-mixed-case', "INPORT=a.Foo:Bar\nOUTPORT=b.OutPut:Result\na(A) MixedCase -> In b(B)\n'x' -> DaTa a\n"],
  ['port-dots', "a(A) out.put -> in.put b(B)\n"],
  ['port-dash-error', "a(A) out-put -> IN b(B)\n"],
  ['tab-is-not-whitespace', "a(A)\tOUT -> IN b(B)\n"],
  ['export-with-declaration', "INPORT=a(A).IN:x\nOUTPORT=(B).OUT:y\n"],
  ['export-override', "INPORT=a.IN:x\nINPORT=b.IN:x\na(A) OUT -> IN b(B)\n"],
  ['export-trailing-comment', "INPORT=a.IN:x , # c\na(A)\n"],
  ['export-undefined-inport', "INPORT=nope.IN:broken\na(A)\n"],
  ['export-undefined-outport', "OUTPORT=nope.OUT:broken\na(A)\n"],
  ['export-legacy', "EXPORT=a.IN:x\na(A)\n"],
  ['export-bad', "INPORT=a.IN\na(A)\n"],
  ['arrow-long', "a(A) OUT --> IN b(B)\n"],
  ['arrow-missing-target', "a(A) OUT ->\n"],
  ['arrow-missing-target-eof', "a(A) OUT -> "],
  ['arrow-only', "->\n"],
  ['undefined-source', "a OUT -> IN b(B)\n"],
  ['undefined-target', "a(A) OUT -> IN b\n"],
  ['undefined-both', "a OUT -> IN b\n"],
  ['validation-before-syntax', "a OUT -> IN b(B)\n%%%\n"],
  ['syntax-after-nodes', "a(A) OUT -> IN b(B)\n%%%\n"],
  ['syntax-non-ascii-found', "a(A) \u00e9 -> IN b(B)\n"],
  ['syntax-astral-found', "'\ud83d\ude00' -> IN a(A) \ud83d\ude00\n"],
  ['syntax-control-found', "a(A) \u0001\n"],
  ['syntax-quote-found', "a(A) OUT -> IN b(B) \"\n"],
  ['syntax-bom', "\ufeffa(A)\n"],
  ['long-chain', "(A)" + " -> (B)".repeat(50) + "\n"],
  ['deep-json', "[".repeat(40) + "]".repeat(40) + " -> IN a(A)\n"],
  ['node-name-dashes', "my-node_1(my-comp/x_y-z) OUT -> IN other-node(C)\n"],
  ['names-like-keywords', "INPORT(A) OUT -> IN DEFAULT_INPORT(B)\n"],
  ['space-before-arrow-variants', "a(A)OUT -> IN b(B)\na(A)->b(B)\n a(A)  OUT  ->  IN  b(B)  \n"],
  ['iip-into-bridge-default-port', "# @runtime msgflo\n\n'Ada' -> greet(Greeter) OUT -> NAME again(Greeter) -> NAME last(Greeter)\n"],
  ['msgflo-roundrobin-deadletter', "\n# !runtime msgflo\nfront(shop/Api) ORDER -> IN queue(msgflo/RoundRobin) OUT -> JOB worker(shop/Worker)\nworker DONE -> RESULT front\nqueue DEADLETTER -> IN sink(Drop)\n"],
  ['iips-comma-separated', "web(api/Web) A -> IN one(api/Worker)\nweb B -> IN two(api/Worker)\n'9001' -> PORT one, '9002' -> PORT two\n"],
  ['bridge-without-component', "a(A) OUT -> IN b OUT -> IN c(C)\nb(B)\n"],
];

function utf8Invalid() {
  return Buffer.concat([Buffer.from("'a"), Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x82]), Buffer.from("' -> IN a(A)\n")]);
}

function result(text, caseSensitive) {
  try {
    const g = caseSensitive ? fbp.parse(text, { caseSensitive: true }) : fbp.parse(text);
    return { json: JSON.stringify(g, null, 2) + '\n' };
  } catch (e) {
    const loc = e.location ? e.location.start : null;
    return { error: JSON.stringify({ message: e.message, line: loc ? loc.line : 0, column: loc ? loc.column : 0 }, null, 2) + '\n' };
  }
}

function writeCase(dir, name, data) {
  const file = path.join(dir, name + '.fbp');
  fs.writeFileSync(file, data);
  // read back as the fbp command does, so invalid UTF-8 is decoded as Node decodes it
  const text = fs.readFileSync(file, 'utf-8');
  for (const cs of [false, true]) {
    const r = result(text, cs);
    const base = path.join(dir, name + (cs ? '.cs' : ''));
    for (const ext of ['.json', '.error.json']) if (fs.existsSync(base + ext)) fs.unlinkSync(base + ext);
    if (r.json) fs.writeFileSync(base + '.json', r.json);
    else fs.writeFileSync(base + '.error.json', r.error);
  }
}

// ---- random graphs (for the differential test) ----
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

function randomGraph(r) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const chance = (p) => r() < p;
  const nodes = ['a', 'b', 'c', 'Read', 'my-node', '_x', 'n1', 'OUT', 'IN', 'true'];
  const comps = ['A', 'core/Output', 'a/b/c', 'my-comp', '', 'X_1', '-y'];
  const ports = ['IN', 'OUT', 'in', 'Out', 'data.x', 'ERROR', '_p', 'x1'];
  const sp = () => pick([' ', ' ', '  ', '']);
  const port = () => pick(ports) + (chance(0.2) ? '[' + Math.floor(r() * 12) + ']' : '');
  const meta = () => ':' + pick(['x=1,y=2', 'label=foo', 'routes', 'x=abc', 'a=b=c', ',']);
  const comp = () => '(' + pick(comps) + (chance(0.15) ? meta() : '') + ')';
  const node = () => chance(0.2) ? comp() : pick(nodes) + (chance(0.5) ? comp() : '');
  const iip = () => pick(["'hello'", "'it\\'s'", "''", '42', '-1.5e3', '"str"', '{"a": [1, {}]}',
    '[1,2]', 'null', "'multi\nline'", '0', '{"10": 1, "b": 2}']);
  const lines = [];
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (kind < 0.08) lines.push((chance(0.5) ? 'INPORT=' : 'OUTPORT=') + pick(nodes) + '.' + pick(ports) + ':' + pick(ports));
    else if (kind < 0.12) lines.push((chance(0.5) ? 'DEFAULT_INPORT=' : 'DEFAULT_OUTPORT=') + pick(ports));
    else if (kind < 0.17) lines.push(pick(['# @name Foo', '# @runtime msgflo', '# a comment', '# @runtime a/b', '']));
    else {
      let s = chance(0.3) ? iip() : node() + (chance(0.7) ? ' ' + port() : '');
      const hops = 1 + Math.floor(r() * 3);
      for (let h = 0; h < hops; h++) {
        s += sp() + '->' + sp() + (chance(0.8) ? port() + ' ' : '') + node();
        if (h + 1 < hops && chance(0.8)) s += ' ' + port();
      }
      if (chance(0.1)) s += pick([',', ' # c', ' ,', '']);
      lines.push(s);
    }
  }
  let text = lines.join(pick(['\n', '\n', '\r\n', ', '])) + (chance(0.8) ? '\n' : '');
  if (chance(0.25)) { // mutate: a syntax error somewhere
    const at = Math.floor(r() * (text.length + 1));
    const what = pick(['', '%', '-', '(', "'", '\t', '[', '"', '{', ' ']);
    text = text.slice(0, at) + what + text.slice(at + (chance(0.5) ? 1 : 0));
  }
  return text;
}

function main() {
  const args = parseArgs();
  fs.mkdirSync(args.out, { recursive: true });
  if (args.inputs) {
    const files = fs.readdirSync(args.inputs).sort();
    files.forEach((f, i) => writeCase(args.out, 'input-' + String(i).padStart(6, '0'), fs.readFileSync(path.join(args.inputs, f))));
    console.log(`gen-fbp-vectors: ${files.length} inputs from ${args.inputs} in ${args.out}`);
    return;
  }
  if (args.random > 0) {
    const r = rng(args.seed);
    for (let i = 0; i < args.random; i++) writeCase(args.out, 'random-' + String(i).padStart(5, '0'), randomGraph(r));
    console.log(`gen-fbp-vectors: ${args.random} random graphs (seed ${args.seed}) in ${args.out}`);
    return;
  }
  const specDir = path.join(here, 'node_modules', 'fbp', 'spec');
  const cases = [].concat(extractSpec(path.join(specDir, 'fbp.coffee'), 'spec-'),
    extractSpec(path.join(specDir, 'json.coffee'), 'spec-json-'), own);
  cases.push(['utf8-invalid', utf8Invalid()]);
  if (fs.existsSync(args.out)) {
    for (const f of fs.readdirSync(args.out).sort()) {
      if (/^fuzz-.*\.fbp$/.test(f)) cases.push([f.slice(0, -4), fs.readFileSync(path.join(args.out, f))]);
    }
  }
  const seen = {};
  for (const [name0, text] of cases) {
    let name = name0;
    for (let k = 2; seen[name]; k++) name = name0 + '-' + k;
    seen[name] = true;
    writeCase(args.out, name, text);
  }
  console.log(`gen-fbp-vectors: ${cases.length} vectors in ${args.out}`);
}

main();
