// barrier() in a Type=notify unit under a real systemd manager (../shared/tools/with-systemd):
// the manager closes the fd that came with BARRIER=1, so the promise resolves true, on both backends.
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

describeWithSystemd('barrier() under a real systemd', () => {
  const manager = useManager();
  let entry: string;

  beforeAll(() => {
    entry = builtPackage();
  });

  describe.each(['libsystemd', 'builtin'] as const)('with SDNOTIFY_BACKEND=%s', (backend) => {
    const unit = `sdnotify-barrier-${backend}.service`;

    beforeAll(async () => {
      await manager().install(
        unit,
        unitFile({
          Unit: { Description: `sdnotify e2e: barrier service (${backend})` },
          Service: {
            Type: 'notify',
            ExecStart: nodeExecStart(fixture('barrier-service.js')),
            Environment: environment({
              SDNOTIFY_BACKEND: backend,
              SDNOTIFY_E2E_PACKAGE: entry,
              E2E_BARRIERS: '20',
            }),
            TimeoutStartSec: 15,
            TimeoutStopSec: 10,
          },
        }),
      );
    });

    afterAll(async () => {
      await manager().stopUnit(unit, { allowFailure: true });
    });

    test('barrier() after READY=1 resolves true once the manager has processed it, and its round trip is measured', async () => {
      const m = manager();
      await m.start(unit);
      const [, resolved, ms, pid, sentBy] = await m.waitForJournal(
        unit,
        /barrier-service: barrier resolved=(\S+) ms=([\d.]+) pid=(\d+) backend=(\S+)/,
      );
      const [, n, min, median, max] = await m.waitForJournal(
        unit,
        /barrier-service: (\d+) more barriers min=([\d.]+) median=([\d.]+) max=([\d.]+)/,
      );
      const props = await m.waitFor(unit, {
        ActiveState: 'active',
        SubState: 'running',
        StatusText: 'barriers done',
      });
      console.log(
        `barrier round trip under systemd ${m.version} (${backend} backend): first ${ms} ms; ` +
          `${n} more: min ${min} ms, median ${median} ms, max ${max} ms`,
      );
      await m.explain(unit, () => {
        expect(resolved).toBe('true');
        expect(pid).toBe(props.MainPID);
        expect(sentBy).toBe(backend);
        expect(Number(ms)).toBeLessThan(1000);
        expect(Number(n)).toBe(20);
      });
    });

    test('a barrier from a process that is not the main PID is answered too, though its STATUS= is rejected (processed is not accepted)', async () => {
      const m = manager();
      await m.start(unit);
      const [, childPid, resolved] = await m.waitForJournal(
        unit,
        /barrier-service: child pid=(\d+) barrier resolved=(\S+)/,
      );
      // The manager said why it dropped the child's STATUS=, and answered its barrier all the same.
      await m.waitForJournal(
        unit,
        new RegExp(
          `notification message from PID ${childPid}, but reception only permitted for main PID`,
        ),
      );
      const { StatusText, MainPID } = await m.show(unit, ['StatusText', 'MainPID']);
      await m.explain(unit, () => {
        expect(resolved).toBe('true');
        expect(childPid).not.toBe(MainPID);
        expect(StatusText).toBe('barriers done');
      });
    });

    test('the manager logs no complaint about any BARRIER=1 it got (one fd, nothing else in the datagram)', async () => {
      const m = manager();
      await m.exec(['journalctl', '--sync']);
      const all = await m.exec(['journalctl', '--no-pager', '-o', 'cat']);
      const complaints = all.stdout.split('\n').filter((l) => /BARRIER=1/.test(l));
      await m.explain(unit, () => expect(complaints).toEqual([]));
    });
  });
});
