#!/usr/bin/env node
// npm run bench: what one STATUS= notification costs through sdnotify on each backend, against
// references measured in the same run: libsystemd's sd_notify() from C, the npm package
// `sd-notify` (when it can load), and spawning systemd-notify(1). Also the cost of the probe that
// guards the libsystemd backend's blocking send. Every send goes to a real AF_UNIX datagram socket
// drained by a small C receiver, which counts what arrived. Nothing leaves the machine.
//
// Options: --seconds S (per round, default 1), --rounds R (default 3), --quick (0.25 s rounds).
// Needs: `npm run build` (dist/ and the addon), cc, libsystemd.so.0; systemd-notify optional.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TEXT = 'Serving 1234 requests/s on :8080'; // a typical status line
const MAX_CALLS = 5_000_000; // per round, whatever the speed
const SPAWN_SECONDS = 1.5; // per systemd-notify case
const SPAWN_MAX = 500;

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : fallback;
}
const quick = process.argv.includes('--quick');
const SECONDS = option('--seconds', quick ? 0.25 : 1);
const ROUNDS = option('--rounds', 3);

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

function firstLine(text) {
  return String(text).trim().split('\n')[0];
}

// ---------------------------------------------------------------- preparation

function compile(tmp) {
  const cc = process.env.CC || 'cc';
  const build = (src, out, libs) => {
    const r = spawnSync(cc, ['-O2', '-Wall', '-o', out, path.join(__dirname, src), ...libs], {
      encoding: 'utf8',
    });
    if (r.error) die(`${cc} not found (${r.error.code}): install gcc, or set CC`);
    if (r.status !== 0) die(`${cc} ${src} failed:\n${r.stderr}`);
    return out;
  };
  return {
    receiver: build('receiver.c', path.join(tmp, 'receiver'), []),
    loop: build('sd-notify-loop.c', path.join(tmp, 'sd-notify-loop'), ['-ldl']),
    barrier: build('barrier-loop.c', path.join(tmp, 'barrier-loop'), ['-ldl']),
  };
}

// The npm package sd-notify, from the project's node_modules or bench/.deps (npm run bench:deps).
function findSdNotify() {
  let file;
  try {
    file = require.resolve('sd-notify', { paths: [ROOT, path.join(__dirname, '.deps')] });
  } catch {
    return {
      skip: 'not installed (npm run bench:deps installs it; it builds against libsystemd-dev)',
    };
  }
  try {
    require(file);
    return { file };
  } catch (err) {
    return { skip: `installed but does not load: ${firstLine(err.message)}` };
  }
}

// ---------------------------------------------------------------- running one case

// A fresh receiver per case, so each case's delivered count is its own.
async function withReceiver(bin, socketPath, fn) {
  const rx = spawn(bin, [socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  rx.stdout.setEncoding('utf8');
  const ready = new Promise((resolve, reject) => {
    rx.stdout.on('data', (chunk) => {
      out += chunk;
      if (/^ready \S+\n/.test(out)) resolve();
    });
    rx.on('exit', (code) => reject(new Error(`receiver exited (${code}) before it was ready`)));
  });
  const exited = new Promise((resolve) => rx.on('close', resolve)); // after its last output
  await ready;
  let result;
  try {
    result = await fn();
  } finally {
    rx.kill('SIGTERM');
    await exited;
  }
  const [, qlen, datagrams] = out.trim().split(/\s+/).map(Number);
  return { ...result, datagrams, qlen };
}

// Runs a measuring child (worker.js or the C loop) and parses its one JSON line.
function runChild(cmd, args, env) {
  const timeoutMs = (0.2 + SECONDS * ROUNDS) * 1000 + 20_000;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(signal ? `killed by ${signal}` : `exit ${code}`);
        const res = JSON.parse(stdout.trim().split('\n').pop());
        if (res.failed && !res.errors) res.errors = { 'rc <= 0': res.failed };
        resolve(res);
      } catch (err) {
        resolve({ skip: `failed (${err.message}): ${firstLine(stderr || stdout) || 'no output'}` });
      }
    });
  });
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Per-call cost of a whole process: spawnSync(systemd-notify), as a Node service would shell out.
function spawnCase(args, socketPath) {
  const env = { ...process.env, NOTIFY_SOCKET: socketPath };
  let calls = 0;
  let failed = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    const r = spawnSync('systemd-notify', args, { env, stdio: 'ignore', timeout: 10_000 });
    if (r.error) return { skip: `cannot run systemd-notify (${r.error.code})` };
    if (r.status !== 0) failed++;
    calls++;
    elapsed = Number(process.hrtime.bigint() - t0);
  } while (elapsed < SPAWN_SECONDS * 1e9 && calls < SPAWN_MAX);
  return {
    rounds: [[calls, elapsed]],
    calls,
    failed,
    errors: failed ? { 'exit != 0': failed } : {},
  };
}

// ---------------------------------------------------------------- report

function fmtNumber(n, digits = 0) {
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function report(rows, refNs) {
  const head = ['what', 'backend', 'calls/s', 'µs/call', 'vs C', 'datagrams/sent', 'notes'];
  const lines = rows.map((r) => {
    if (r.skip) return [r.what, r.backend, '-', '-', '-', '-', `skipped: ${r.skip}`];
    const ns = median(r.rounds.map(([calls, t]) => t / calls));
    const notes = [];
    for (const [name, n] of Object.entries(r.errors || {})) {
      const pct = (100 * n) / r.calls;
      notes.push(
        `${fmtNumber(n)} × ${name} (${pct < 0.01 ? '<0.01' : fmtNumber(pct, 2)}% of calls)`,
      );
    }
    if (r.note) notes.push(r.note);
    return [
      r.what,
      r.backend,
      fmtNumber(1e9 / ns),
      fmtNumber(ns / 1000, ns < 100_000 ? 2 : 0),
      refNs ? `${fmtNumber(ns / refNs, 2)}x` : '-',
      r.datagrams === undefined ? '-' : fmtNumber(r.datagrams / (r.calls - r.failed), 2),
      notes.join('; '),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const right = new Set([2, 3, 4, 5]);
  const fmt = (cols) =>
    cols
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

// ---------------------------------------------------------------- main

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    die('dist/ is missing: run `npm run build:ts`');
  try {
    require('node-gyp-build')(ROOT);
  } catch (err) {
    die(`the addon does not load (run \`npm run build:native\`): ${firstLine(err.message)}`);
  }
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sdnotify-bench-'));
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  const bin = compile(tmp);
  const socketPath = path.join(tmp, 'notify.sock');
  const sdNotify = findSdNotify();
  const version = spawnSync('systemd-notify', ['--version'], { encoding: 'utf8' });

  const cpu = (os.cpus()[0] || { model: 'unknown cpu' }).model;
  console.log(`sdnotify bench: node ${process.version}, ${cpu}, ${os.cpus().length} cpus`);
  console.log(
    `libsystemd: ${version.stdout ? firstLine(version.stdout) : 'systemd-notify not found'}`,
  );
  console.log(
    `${ROUNDS} rounds of ${SECONDS} s per case (median shown), status "STATUS=${TEXT}"\n`,
  );

  const worker = (kind, backend) => () =>
    runChild(
      process.execPath,
      [path.join(__dirname, 'worker.js'), kind, SECONDS, ROUNDS, MAX_CALLS, TEXT],
      {
        NOTIFY_SOCKET: socketPath,
        SDNOTIFY_BACKEND: backend,
        BENCH_SD_NOTIFY_PATH: sdNotify.file || '',
      },
    );
  const cases = [
    {
      what: 'C: sd_notify(0, "STATUS=…")',
      backend: 'libsystemd',
      run: () =>
        runChild(bin.loop, [SECONDS, ROUNDS, MAX_CALLS, `STATUS=${TEXT}`], {
          NOTIFY_SOCKET: socketPath,
        }),
    },
    {
      what: 'sdnotify sd_notify(0, "STATUS=…")',
      backend: 'libsystemd',
      run: worker('sd_notify', 'libsystemd'),
    },
    {
      what: 'sdnotify notify({ status })',
      backend: 'libsystemd',
      run: worker('notify', 'libsystemd'),
    },
    {
      what: 'sdnotify sd_notify(0, "STATUS=…")',
      backend: 'builtin',
      run: worker('sd_notify', 'builtin'),
    },
    { what: 'sdnotify notify({ status })', backend: 'builtin', run: worker('notify', 'builtin') },
    {
      what: 'probeUnix(address) alone',
      backend: 'libsystemd',
      note: "the libsystemd backend's queue-room guard",
      run: worker('probe', 'libsystemd'),
    },
    {
      what: 'npm sd-notify sendStatus()',
      backend: 'libsystemd',
      note: "sends a trailing \\n; C's return code is dropped",
      skip: sdNotify.skip,
      run: worker('sd-notify-package', ''),
    },
    {
      what: 'spawn systemd-notify --status=…',
      backend: 'process',
      note: 'waits for a barrier (BARRIER=1 + fd): 2 datagrams',
      run: () => spawnCase([`--status=${TEXT}`], socketPath),
    },
    {
      what: 'spawn systemd-notify --no-block …',
      backend: 'process',
      run: () => spawnCase(['--no-block', `--status=${TEXT}`], socketPath),
    },
  ];

  const rows = [];
  for (const c of cases) {
    if (c.skip) {
      rows.push(c);
      continue;
    }
    process.stderr.write(`  measuring ${c.what} [${c.backend}]\n`);
    const { backend: chosen, ...measured } = await withReceiver(bin.receiver, socketPath, c.run);
    const row = { ...c, ...measured };
    // The library falls back quietly when libsystemd is unusable: say so rather than mislabel.
    if (chosen && chosen.name !== c.backend) row.note = `ran on ${chosen.name}: ${chosen.reason}`;
    rows.push(row);
  }
  const ref = rows[0];
  const refNs = ref.skip ? 0 : median(ref.rounds.map(([calls, t]) => t / calls));
  console.log('');
  report(rows, refNs);
  const qlens = [...new Set(rows.filter((r) => r.qlen).map((r) => r.qlen))].join(', ');
  console.log(`\nreceiver queue (net.unix.max_dgram_qlen): ${qlens}; systemd sets 512 at boot`);
  if (rows.some((r) => r.qlen < 512)) {
    console.log(
      '  (a shorter queue makes EAGAIN likely; run as root to get 512 in a private netns)',
    );
  }
  console.log(
    '"vs C": µs/call ÷ the C reference\'s; "datagrams/sent": what the receiver counted per',
  );
  console.log(
    'successful call; "failed" calls (e.g. EAGAIN: the receiver fell behind) count in the time.',
  );
  await barrierRoundTrips(bin, socketPath);
  importCost();
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

// Barrier round trips (BARRIER=1 sent, the receiver drops the fd, the hang-up seen), one at a
// time: libsystemd's blocking sd_notify_barrier() from C against ours on each backend.
async function barrierRoundTrips(bin, socketPath) {
  const n = quick ? 200 : 1000;
  const run = (cmd, args, backend) =>
    withReceiver(bin.receiver, socketPath, () =>
      runChild(cmd, args, { NOTIFY_SOCKET: socketPath, SDNOTIFY_BACKEND: backend }),
    );
  const cases = [
    ['C: sd_notify_barrier(0, 5 s)', await run(bin.barrier, [String(n)], '')],
    [
      'sdnotify sd_notify_barrier (libsystemd)',
      await run(
        process.execPath,
        [path.join(__dirname, 'barrier-worker.js'), String(n)],
        'libsystemd',
      ),
    ],
    [
      'sdnotify sd_notify_barrier (builtin)',
      await run(
        process.execPath,
        [path.join(__dirname, 'barrier-worker.js'), String(n)],
        'builtin',
      ),
    ],
  ];
  console.log(
    `\nbarrier round trip, median of ${n} in sequence (the receiver closes the fd on receipt):`,
  );
  const ref = cases[0][1].ns ? median(cases[0][1].ns) : undefined;
  for (const [what, res] of cases) {
    if (!res.ns) {
      console.log(`  ${what.padEnd(42)} skipped: ${res.skip}`);
      continue;
    }
    const med = median(res.ns);
    const vs = ref ? `  ${(med / ref).toFixed(2)}x C` : '';
    const failed = res.failed ? `  (${res.failed} failed)` : '';
    console.log(`  ${what.padEnd(42)} ${(med / 1000).toFixed(1).padStart(7)} µs${vs}${failed}`);
  }
}

// What `require('sdnotify')` costs a process, against requiring an empty file in the same run
// (both after node's own start-up): median of 15 fresh processes each.
function importCost() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sdnotify-import-'));
  const empty = path.join(tmp, 'empty.js');
  fs.writeFileSync(empty, 'module.exports = {};\n');
  const measure = (target) =>
    median(
      Array.from({ length: 15 }, () => {
        const code = `require(${JSON.stringify(path.join(tmp, 'warm.js'))});
          const t = process.hrtime.bigint(); require(${JSON.stringify(target)});
          process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
        fs.writeFileSync(path.join(tmp, 'warm.js'), 'module.exports = 1;\n');
        return Number(spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' }).stdout);
      }),
    );
  const ours = measure(ROOT);
  const base = measure(empty);
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(
    `\nimport: require('sdnotify') ${ours.toFixed(3)} ms vs an empty file ${base.toFixed(3)} ms: ` +
      `${(ours - base).toFixed(3)} ms for sdnotify itself (median of 15 processes each)`,
  );
}

main().catch((err) => die(err.stack || String(err)));
