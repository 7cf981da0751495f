// Node services as real Type=notify units under a real systemd manager (../shared/tools/with-systemd).
import * as path from 'node:path';

import {
  builtPackage,
  describeWithSystemd,
  environment,
  nodeExecStart,
  repoRoot,
  unitFile,
  useManager,
} from '../helpers/with-systemd';

const fixture = (name: string): string => path.join(repoRoot, 'test', 'e2e', 'fixtures', name);

describeWithSystemd('Type=notify units under a real systemd', () => {
  const manager = useManager();
  let entry: string;

  beforeAll(() => {
    entry = builtPackage();
  });

  describe.each(['libsystemd', 'builtin'] as const)('with SDNOTIFY_BACKEND=%s', (backend) => {
    const unit = `sdnotify-ready-${backend}.service`;
    const finalStatus = `sdnotify e2e: ${backend} backend up and serving`;

    beforeAll(async () => {
      await manager().install(
        unit,
        unitFile({
          Unit: { Description: `sdnotify e2e: ready service (${backend})` },
          Service: {
            Type: 'notify',
            ExecStart: nodeExecStart(fixture('ready-service.js')),
            Environment: environment({
              SDNOTIFY_BACKEND: backend,
              SDNOTIFY_E2E_PACKAGE: entry,
              E2E_STATUS: finalStatus,
              E2E_STATUS_DELAY_MS: '300',
            }),
            TimeoutStartSec: 15,
            TimeoutStopSec: 10,
          },
        }),
      );
    });

    test('becomes active and running once the node process sends READY=1, and shows its later STATUS=', async () => {
      const m = manager();
      await m.start(unit); // blocks until READY=1 (or fails with the journal)
      const started = await m.waitFor(unit, { ActiveState: 'active', SubState: 'running' }, 2_000);
      // READY=1 carried "Serving on <url>"; the later STATUS= may already have replaced it.
      await m.explain(unit, () =>
        expect([
          finalStatus,
          expect.stringMatching(/^Serving on http:\/\/127\.0\.0\.1:\d+$/),
        ]).toContainEqual(started.StatusText),
      );
      const props = await m.waitFor(unit, {
        ActiveState: 'active',
        SubState: 'running',
        StatusText: finalStatus,
      });

      // MainPID is the node process that ran the fixture, and it sent through the forced backend.
      const [, pid, sentBy] = await m.waitForJournal(
        unit,
        /ready-service: ready sent pid=(\d+) backend=(\S+)/,
      );
      const cmdline = await m.exec(['cat', `/proc/${props.MainPID}/cmdline`]);
      await m.explain(unit, () => {
        expect(pid).toBe(props.MainPID);
        expect(sentBy).toBe(backend);
        expect(cmdline.stdout.split('\0').slice(0, 2)).toEqual([
          process.execPath,
          fixture('ready-service.js'),
        ]);
      });
    });

    test('serves on the address its READY=1 status announced', async () => {
      const m = manager();
      await m.start(unit); // a no-op when the test above left it running
      const [, url] = await m.waitForJournal(
        unit,
        /ready sent pid=\d+ backend=\S+ .*url=(http:\S+)/,
      );
      const get = await m.exec([
        process.execPath,
        '-e',
        'require("http").get(process.argv[1], (r) => r.pipe(process.stdout)).on("error", (e) => { console.error(e.message); process.exit(1); })',
        url,
      ]);
      const { MainPID } = await m.show(unit, ['MainPID']);
      await m.explain(unit, () =>
        expect({ code: get.code, body: get.stdout, stderr: get.stderr }).toEqual({
          code: 0,
          body: `ready-service pid=${MainPID}\n`,
          stderr: '',
        }),
      );
    });

    test('systemctl stop makes it inactive after a clean exit (STOPPING=1 sent on SIGTERM)', async () => {
      const m = manager();
      await m.start(unit);
      await m.stopUnit(unit);
      await m.waitFor(
        unit,
        { ActiveState: 'inactive', SubState: 'dead', Result: 'success', ExecMainStatus: '0' },
        5_000,
      );
      await m.waitForJournal(unit, /ready-service: exiting/);
      const journal = await m.journal(unit);
      await m.explain(unit, () => expect(journal).not.toMatch(/FAILED/));
    });
  });

  test('a service that never sends READY=1 fails with Result=timeout after TimeoutStartSec=2', async () => {
    const m = manager();
    const unit = 'sdnotify-never-ready.service';
    await m.install(
      unit,
      unitFile({
        Unit: { Description: 'sdnotify e2e: never ready' },
        Service: {
          Type: 'notify',
          ExecStart: nodeExecStart(fixture('never-ready.js')),
          Environment: environment({ SDNOTIFY_E2E_PACKAGE: entry }),
          TimeoutStartSec: 2,
          TimeoutStopSec: 5,
        },
      }),
    );
    const t0 = Date.now();
    const r = await m.start(unit, { allowFailure: true });
    const elapsed = Date.now() - t0;
    await m.waitFor(unit, { ActiveState: 'failed', Result: 'timeout' }, 5_000);
    await m.waitForJournal(unit, /never-ready: started pid=\d+/);
    await m.explain(unit, () => {
      expect(r.code).not.toBe(0);
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
    });
  });
});
