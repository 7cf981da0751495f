// `npm run demo`: plays the service manager for examples/service.js, on any Linux machine, and
// prints what systemd would receive. It stands in for systemd; nothing here needs systemd to run.
'use strict';
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const { backendInfo } = require('..');
const { NotifyListener } = require('../dist/testing');

const t0 = process.hrtime.bigint();
const stamp = () => `[${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)}s]`;
const say = (line) => console.log(`${stamp()} ${line}`);
const get = (port) =>
  new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: '/' }, (res) => res.resume().on('end', resolve))
      .on('error', reject),
  );

function show(msg, expect) {
  const lines = msg.assignments.map((a) => `${a.key}=${a.value}`);
  say(`manager <- pid ${msg.pid} (uid ${msg.uid}): ${lines.join(' | ')}`);
  if (msg.pid !== expect)
    say(
      `  !! sent from pid ${msg.pid}, not the main pid ${expect}: NotifyAccess=main would drop it`,
    );
  if (msg.fields.READY === '1')
    say('  => systemd would now mark the unit "active (running)"; `systemctl start` returns');
  if (msg.fields.STATUS !== undefined)
    say(`  => \`systemctl status\` would show: Status: "${msg.fields.STATUS}"`);
  if (msg.fields.STOPPING === '1') say('  => systemd would now show the unit as "deactivating"');
}

async function main() {
  console.log(
    'sdnotify demo: this program STANDS IN FOR SYSTEMD. It binds a notify socket, starts',
  );
  console.log(
    'examples/service.js with NOTIFY_SOCKET pointing at it, and prints every notification',
  );
  console.log('the way the service manager would receive it: bytes, sender pid and uid.\n');
  const listener = await NotifyListener.create();
  const info = backendInfo();
  console.log(`NOTIFY_SOCKET=${listener.notifySocket}`);
  console.log(`how the service will send (its "backend"): ${info.name}, because ${info.reason}\n`);

  const child = spawn(process.execPath, [path.join(__dirname, 'service.js')], {
    env: { ...process.env, ...listener.env },
    stdio: 'inherit',
  });
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  say(`started service.js as pid ${child.pid}; waiting for READY=1`);
  say('  (systemd counts a Type=notify service as started only once it sends READY=1)');

  const first = await listener.next(10000);
  show(first, child.pid);
  const port = Number(/port (\d+)/.exec(first.fields.STATUS ?? '')?.[1]);

  for (let i = 1; i <= 3; i++) {
    await get(port);
    say(`client: GET / #${i} answered`);
    show(await listener.next(), child.pid);
  }

  say(`sending SIGTERM to pid ${child.pid}, as \`systemctl stop\` would`);
  child.kill('SIGTERM');
  show(await listener.next(), child.pid);
  const { code, signal } = await exited;
  say(
    `service exited with ${signal ? `signal ${signal}` : `code ${code}`}${code === 0 ? ': systemd would record Result=success' : ''}`,
  );
  listener.close();

  console.log(
    require('node:fs').existsSync('/run/systemd/system')
      ? '\nTo run the same service as a real systemd unit (as root):'
      : '\nThis machine is not running systemd (a container?). Where systemd runs, the same service runs as a real unit (as root) with:',
  );
  console.log(
    `  systemd-run --unit=sdnotify-demo -p Type=notify ${process.execPath} ${path.join(__dirname, 'service.js')}`,
  );
  console.log(
    '  systemctl status sdnotify-demo     # Active: active (running), Status: "Serving on port ..."',
  );
  console.log('  systemctl stop sdnotify-demo');
  if (code !== 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
