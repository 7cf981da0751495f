#!/usr/bin/env node
// Runs at `npm install`. Uses a prebuild when one loads; otherwise builds the addon from source
// with cmake-js. A failed build does not fail the install: at run time the `none` backend says
// why it cannot send. SDNOTIFY_STRICT_BUILD=1 (CI) makes a failed build fatal and warnings errors.
// `--force` always builds (npm run build:native).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
const strict = process.env.SDNOTIFY_STRICT_BUILD === '1';

function say(msg) {
  process.stderr.write(`sdnotify: ${msg}\n`);
}

function prebuildLoads() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!fs.existsSync(dir)) return false;
  try {
    const file = require('node-gyp-build').resolve(root);
    if (!file.startsWith(dir)) return false;
    require(file);
    return true;
  } catch {
    return false;
  }
}

function fail(msg) {
  if (strict) {
    say(`${msg} (SDNOTIFY_STRICT_BUILD=1: failing the install)`);
    process.exit(1);
  }
  say(
    `${msg}\nsdnotify: the install goes on: without the addon, calls still work when NOTIFY_SOCKET is unset and fail with a clear error when it is set.`,
  );
  process.exit(0);
}

if (process.platform !== 'linux' && !force) process.exit(0); // systemd is Linux-only: nothing to build
if (!force && prebuildLoads()) process.exit(0);

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
} catch {
  fail(
    'no prebuild matches this platform and cmake-js is not installed, so the addon cannot be built from source',
  );
}
const args = [cmakeJs, 'compile', '--directory', root, '--out', path.join(root, 'build')];
if (strict) args.push('--CDSDNOTIFY_WERROR=ON');
// Strict (CI): the whole build log. Otherwise the log is kept quiet, and only its first error line
// is shown on failure, so a user's install output says what happened in a few lines, not fifty.
const r = spawnSync(process.execPath, args, {
  stdio: ['ignore', strict ? 'inherit' : 'pipe', strict ? 'inherit' : 'pipe'],
  cwd: root,
  encoding: 'utf8',
});
if (r.status !== 0) {
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').filter((l) => l.trim());
  const first = lines.find((l) => /error/i.test(l)) ?? lines.at(-1);
  if (!strict && first) say(`cmake-js: ${first.replace(/^(ERR!|ERROR) OMG /, '').slice(0, 300)}`);
  const missing = ['cmake', 'c++'].filter(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
  );
  const need = missing.length
    ? ` (missing: ${missing.join(', ')}; on Debian: apt-get install cmake g++ make)`
    : '';
  fail(`building the native addon failed${need}`);
}
say(`built ${path.join('build', 'Release', 'sdnotify.node')}`);
