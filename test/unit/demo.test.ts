// The README's first command ends in `npm run demo`: it must keep working and keep saying what it is.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { ROOT } from '../helpers/node-child';

test('the demo runs the example service through start, requests and stop, and says it stands in for systemd', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'demo.js')], {
    encoding: 'utf8',
    timeout: 20000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/STANDS IN FOR SYSTEMD/);
  expect(r.stdout).toMatch(
    /manager <- pid (\d+) \(uid \d+\): READY=1 \| STATUS=Serving on port \d+/,
  );
  expect(r.stdout).toMatch(/STATUS=Serving on port \d+: 3 requests so far/);
  expect(r.stdout).toMatch(/STOPPING=1 \| STATUS=Shutting down after 3 requests/);
  expect(r.stdout).toMatch(/service exited with code 0: systemd would record Result=success/);
  expect(r.stdout).not.toMatch(/!!/); // no message from a pid other than the service's
});
