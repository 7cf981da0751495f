// One measurement in its own process (the backend is chosen once per process), started by
// bench/send.js with NOTIFY_SOCKET and SDNOTIFY_BACKEND set. Times CASE in rounds of SECONDS,
// after a short warm-up, the same way bench/sd-notify-loop.c times libsystemd from C.
// Usage: node bench/worker.js CASE SECONDS ROUNDS MAX-CALLS STATUS-TEXT
// Prints one JSON line: { rounds: [[calls, ns], ...], calls, failed, errors, backend }.
'use strict';
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BATCH = 256;
const [kind, seconds, rounds, maxCalls, text] = process.argv.slice(2);
const state = `STATUS=${text}`;

// Each case is a function that makes one call and returns an error name, or '' on success.
function makeCase() {
  switch (kind) {
    case 'sd_notify': {
      const { sd_notify } = require(ROOT);
      return () => {
        const rc = sd_notify(0, state);
        return rc > 0 ? '' : `rc ${rc}`;
      };
    }
    case 'notify': {
      const { notify } = require(ROOT);
      return () => {
        try {
          return notify({ status: text }) ? '' : 'not supervised';
        } catch (err) {
          return err.code || err.name;
        }
      };
    }
    case 'probe': {
      // The libsystemd backend's guard alone: connect + poll(POLLOUT) on its kept probe socket.
      const binding = require('node-gyp-build')(ROOT);
      const address = Buffer.from(process.env.NOTIFY_SOCKET);
      return () => {
        const rc = binding.probeUnix(address);
        return rc === 1 ? '' : `probe ${rc}`;
      };
    }
    case 'sd-notify-package': {
      const sdNotify = require(process.env.BENCH_SD_NOTIFY_PATH);
      return () => {
        sdNotify.sendStatus(text); // returns nothing: C's return code is dropped
        return '';
      };
    }
    default:
      throw new Error(`unknown case ${kind}`);
  }
}

function main() {
  const call = makeCase();
  const errors = {};
  let failed = 0;
  let total = 0;
  const batch = () => {
    for (let i = 0; i < BATCH; i++) {
      const e = call();
      if (e) {
        failed++;
        errors[e] = (errors[e] || 0) + 1;
      }
    }
    total += BATCH;
  };

  const budget = BigInt(Math.round(Number(seconds) * 1e9));
  for (const t0 = process.hrtime.bigint(); process.hrtime.bigint() - t0 < 200_000_000n;) batch();
  const out = [];
  for (let r = 0; r < Number(rounds); r++) {
    let calls = 0;
    let elapsed = 0n;
    const t0 = process.hrtime.bigint();
    do {
      batch();
      calls += BATCH;
      elapsed = process.hrtime.bigint() - t0;
    } while (elapsed < budget && calls < Number(maxCalls));
    out.push([calls, Number(elapsed)]);
  }

  let backend = null;
  if (kind === 'sd_notify' || kind === 'notify') backend = require(ROOT).backendInfo();
  process.stdout.write(
    `${JSON.stringify({ rounds: out, calls: total, failed, errors, backend })}\n`,
  );
}

main();
