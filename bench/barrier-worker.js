// Our barrier, N times in sequence, each timed, in its own process (the backend is chosen once
// per process). Usage: node bench/barrier-worker.js N  (NOTIFY_SOCKET, SDNOTIFY_BACKEND set).
// Prints one JSON line: { ns: [...], failed, backend }.
'use strict';
const path = require('node:path');

const { sd_notify_barrier, backendInfo } = require(path.resolve(__dirname, '..'));

async function main() {
  const n = Number(process.argv[2]);
  let failed = 0;
  for (let i = 0; i < 50; i++) failed += (await sd_notify_barrier(0, 5_000_000)) <= 0 ? 1 : 0;
  const ns = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    failed += (await sd_notify_barrier(0, 5_000_000)) <= 0 ? 1 : 0;
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  process.stdout.write(`${JSON.stringify({ ns, failed, backend: backendInfo().name })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
