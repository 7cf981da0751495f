// The fd store under a real systemd manager (../shared/tools/with-systemd): state saved with
// saveState() and a listening socket stored with storeFd() survive `systemctl restart` and a
// crash (Restart=on-failure), but not stop + start; a restarted HTTP service (TCP, or UNIX via
// listenUnix()) refuses no connection, where the same service with the store off does.
// A start and 3 restarts take ~3 s: within the default start limit (5 starts in 10 s); more
// restarts need StartLimitIntervalSec=0.
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  builtPackage,
  describeWithSystemd,
  environment,
  nodeExecStart,
  repoRoot,
  unitFile,
  useManager,
  type Manager,
} from '../helpers/with-systemd';

const fixture = (name: string): string => path.join(repoRoot, 'test', 'e2e', 'fixtures', name);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeWithSystemd('the fd store under a real systemd', () => {
  const manager = useManager();
  let entry: string;

  beforeAll(() => {
    entry = builtPackage();
  });

  describe.each(['libsystemd', 'builtin'] as const)(
    'saveState()/restoreState() with SDNOTIFY_BACKEND=%s',
    (backend) => {
      const unit = `sdnotify-state-${backend}.service`;

      beforeAll(async () => {
        await manager().install(
          unit,
          unitFile({
            Unit: { Description: `sdnotify e2e: state in the fd store (${backend})` },
            Service: {
              Type: 'notify',
              ExecStart: nodeExecStart(fixture('state-service.js')),
              Environment: environment({ SDNOTIFY_BACKEND: backend, SDNOTIFY_E2E_PACKAGE: entry }),
              FileDescriptorStoreMax: 4,
              Restart: 'on-failure',
              RestartSec: '100ms',
              TimeoutStartSec: 15,
              TimeoutStopSec: 10,
            },
          }),
        );
      });

      afterAll(async () => {
        await manager().stopUnit(unit, { allowFailure: true });
      });

      /** What the process with this pid logged at start: what it restored and what it saved. */
      async function startLine(
        m: Manager,
        pid: string,
      ): Promise<{ listen: string; restored: string; counter: number; sentBy: string }> {
        const [, listen, restored, counter, sentBy] = await m.waitForJournal(
          unit,
          new RegExp(
            `state-service: pid=${pid} listen=(\\S+) restored=(\\S+) counter=(\\d+) backend=(\\S+)`,
          ),
        );
        return { listen: listen, restored: restored, counter: Number(counter), sentBy: sentBy };
      }

      test('the counter survives systemctl restart and a SIGKILL (Restart=on-failure), not stop + start', async () => {
        const m = manager();
        const timings: string[] = [];
        const time = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
          const t0 = Date.now();
          const r = await fn();
          timings.push(`${what} ${Date.now() - t0} ms`);
          return r;
        };
        const storeSize = async (): Promise<string> =>
          (await m.show(unit, ['NFileDescriptorStore'])).NFileDescriptorStore;

        // 1. First start: nothing to restore; saves 1.
        await time('start', () => m.start(unit));
        const p1 = await m.waitFor(unit, { ActiveState: 'active', SubState: 'running' });
        const first = await startLine(m, p1.MainPID);
        const n1 = await storeSize();

        // 2. systemctl restart: a new process restores 1, saves 2.
        await time('restart', () => m.systemctl('restart', unit));
        const p2 = await m.waitFor(unit, { ActiveState: 'active', SubState: 'running' });
        const second = await startLine(m, p2.MainPID);
        const n2 = await storeSize();

        // 3. SIGKILL: Restart=on-failure starts a new process after 100 ms; it restores 2, saves 3.
        const killedAt = Date.now();
        const kill = await m.exec(['kill', '-9', p2.MainPID]);
        const p3 = await m.waitFor(
          unit,
          (p) =>
            p.ActiveState === 'active' &&
            p.SubState === 'running' &&
            p.MainPID !== p2.MainPID &&
            p.MainPID !== '0' &&
            p.NRestarts === '1',
        );
        timings.push(`kill -9 to active again ${Date.now() - killedAt} ms`);
        const third = await startLine(m, p3.MainPID);
        const n3 = await storeSize();

        // 4. stop, then start: the manager dropped the store at stop; nothing to restore.
        await time('stop', () => m.stopUnit(unit));
        const stopped = await m.show(unit, ['ActiveState', 'NFileDescriptorStore']);
        await time('start', () => m.start(unit));
        const p4 = await m.waitFor(unit, { ActiveState: 'active', SubState: 'running' });
        const fourth = await startLine(m, p4.MainPID);
        const n4 = await storeSize();

        console.log(
          `fd store state under systemd ${m.version} (${backend}): pids ${[p1, p2, p3, p4].map((p) => p.MainPID).join(' -> ')}; ` +
            `restored ${[first, second, third, fourth].map((l) => l.restored).join(', ')}; ` +
            `NFileDescriptorStore ${[n1, n2, n3, stopped.NFileDescriptorStore, n4].join(', ')} ` +
            `(after start, restart, SIGKILL, stop, start); ${timings.join(', ')}`,
        );
        await m.explain(unit, () => {
          expect(kill.code).toBe(0);
          expect(new Set([p1.MainPID, p2.MainPID, p3.MainPID, p4.MainPID]).size).toBe(4);
          expect([first, second, third, fourth]).toEqual([
            { listen: '-', restored: 'undefined', counter: 1, sentBy: backend },
            { listen: '3:state.1', restored: '"1"', counter: 2, sentBy: backend },
            { listen: '3:state.2', restored: '"2"', counter: 3, sentBy: backend },
            { listen: '-', restored: 'undefined', counter: 1, sentBy: backend },
          ]);
          // One fd each time: every save removed the generation before it.
          expect([n1, n2, n3, n4]).toEqual(['1', '1', '1', '1']);
          expect(stopped).toEqual({ ActiveState: 'inactive', NFileDescriptorStore: '0' });
        });
      });
    },
  );

  interface ClientResult {
    durationMs: number;
    rate: number;
    sent: number;
    ok: number;
    refused: number;
    reset: number;
    timeout: number;
    other: number;
    otherErrors: Record<string, number>;
    failures: { kind: string; atMs: number; detail?: string }[];
    pids: Record<string, { n: number; firstMs: number; lastMs: number }>;
    latencyMs: { p50: number; p90: number; p99: number; max: number };
    slowest: number[];
  }

  const RATE = 100; // requests/s, a new connection each
  const MIN_RATE = 50; // what the test promises to sustain

  const listeners = [
    { transport: 'tcp', backend: 'libsystemd', storeMax: 4, port: 18080 },
    { transport: 'tcp', backend: 'builtin', storeMax: 4, port: 18081 },
    { transport: 'unix', backend: 'builtin', storeMax: 4, unixDir: 'sdnotify-fdstore-unix' },
    // The control: the same service and client with the store off (the manager drops the fd), so
    // every process listens anew and the client must see refused or reset connections.
    { transport: 'tcp', backend: 'builtin', storeMax: 0, port: 18082 },
  ] as const;

  describe.each(listeners)(
    'a $transport listener, FileDescriptorStoreMax=$storeMax ($backend backend)',
    (l) => {
      const id = `${l.transport}-${l.backend}-${l.storeMax}`;
      const unit = `sdnotify-listener-${id}.service`;
      const client = `sdnotify-client-${id}.service`;
      const control = l.storeMax === 0;
      const target: Record<string, string> =
        'port' in l
          ? { E2E_PORT: String(l.port) }
          : { E2E_UNIX_PATH: `/run/${l.unixDir}/http.sock` };

      beforeAll(async () => {
        await manager().install(
          unit,
          unitFile({
            Unit: { Description: `sdnotify e2e: ${l.transport} listener in the fd store` },
            Service: {
              Type: 'notify',
              ExecStart: nodeExecStart(fixture('listener-service.js')),
              Environment: environment({
                SDNOTIFY_BACKEND: l.backend,
                SDNOTIFY_E2E_PACKAGE: entry,
                ...target,
              }),
              FileDescriptorStoreMax: l.storeMax,
              Restart: 'no',
              // The UNIX socket's directory: kept across restarts, removed at stop (with the store).
              ...('unixDir' in l
                ? { RuntimeDirectory: l.unixDir, RuntimeDirectoryPreserve: 'restart' }
                : {}),
              TimeoutStartSec: 15,
              TimeoutStopSec: 10,
            },
          }),
        );
      });

      afterAll(async () => {
        await manager().stopUnit(client, { allowFailure: true });
        await manager().stopUnit(unit, { allowFailure: true });
      });

      const title = control
        ? `control: with the store off, ${RATE} new connections/s through 3 systemctl restarts see refusals or resets`
        : `${RATE} new connections/s through 3 systemctl restarts: none refused, reset or timed out`;
      test(title, async () => {
        const m = manager();
        const out = path.join(m.dir, `client-${id}.json`);
        fs.rmSync(out, { force: true });
        await m.install(
          client,
          unitFile({
            Unit: { Description: 'sdnotify e2e: HTTP load, a new connection per request' },
            Service: {
              Type: 'exec',
              ExecStart: nodeExecStart(fixture('http-client.js')),
              Environment: environment({ ...target, E2E_RATE: String(RATE), E2E_OUT: out }),
              TimeoutStopSec: 10,
            },
          }),
        );

        await m.start(unit);
        const pids = [
          (await m.waitFor(unit, { ActiveState: 'active', SubState: 'running' })).MainPID,
        ];
        const stored = [(await m.show(unit, ['NFileDescriptorStore'])).NFileDescriptorStore];
        await m.start(client);
        await m.waitForJournal(client, /http-client: first response from pid=\d+/);
        await sleep(700);

        const restartMs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = Date.now();
          await m.systemctl('restart', unit); // blocks until the new process sent READY=1
          restartMs.push(Date.now() - t0);
          const p = await m.waitFor(unit, { ActiveState: 'active', SubState: 'running' });
          pids.push(p.MainPID);
          stored.push((await m.show(unit, ['NFileDescriptorStore'])).NFileDescriptorStore);
          await sleep(700);
        }

        await m.stopUnit(client);
        const r = JSON.parse(fs.readFileSync(out, 'utf8')) as ClientResult;
        const journal = await m.journal(unit);
        const readyLines = [
          ...journal.matchAll(/listener-service: pid=(\d+) ready how=(.*?) after_ms=(\d+)/g),
        ];
        const drained = [
          ...journal.matchAll(
            /listener-service: pid=\d+ drained in_flight_at_sigterm=(\d+) served=(\d+) drain_ms=(\d+)/g,
          ),
        ];
        const fdstore = [
          ...journal.matchAll(/listener-service: pid=\d+ started listen=\S+ fdstore=(\S+)/g),
        ].map((x) => x[1]);
        const seconds = r.durationMs / 1000;
        console.log(
          `${l.transport} listener, FileDescriptorStoreMax=${l.storeMax} (${l.backend}), systemd ${m.version}: ` +
            `${r.sent} requests in ${seconds.toFixed(2)} s (${(r.sent / seconds).toFixed(0)}/s, a new connection each): ` +
            `ok ${r.ok}, refused ${r.refused}, reset ${r.reset}, timeout ${r.timeout}, other ${r.other}` +
            `${r.other ? ` ${JSON.stringify(r.otherErrors)}` : ''}; ` +
            `pids ${Object.entries(r.pids)
              .map(([pid, p]) => `${pid}x${p.n}`)
              .join(' ')}; ` +
            `latency p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms ` +
            `(slowest ${r.slowest.join(', ')}); systemctl restart took ${restartMs.join(', ')} ms; ` +
            `node start to READY=1 ${readyLines.map((x) => x[3]).join(', ')} ms; ` +
            `in flight at SIGTERM ${drained.map((x) => x[1]).join(', ')}, drained in ${drained.map((x) => x[3]).join(', ')} ms; ` +
            `NFileDescriptorStore ${stored.join(', ')}` +
            (r.failures.length ? `; first failures ${JSON.stringify(r.failures.slice(0, 5))}` : ''),
        );

        if (control) {
          await m.explain(unit, () => {
            // The client does see a listener that goes away; the three later processes listened anew.
            expect(r.refused + r.reset).toBeGreaterThan(0);
            expect(new Set(pids).size).toBe(4);
            expect(readyLines.map((x) => x[2].replace(/ .*/, ''))).toEqual(
              Array(4).fill('listened'),
            );
            expect(stored).toEqual(['0', '0', '0', '0']);
            expect(journal).toMatch(/Cannot store more fds than FileDescriptorStoreMax=0/);
            // $FDSTORE exists from systemd 254 on.
            expect(fdstore).toEqual(Array(4).fill(m.version >= 254 ? 'disabled' : 'unknown'));
          });
          return;
        }
        await m.explain(unit, () => {
          expect({
            refused: r.refused,
            reset: r.reset,
            timeout: r.timeout,
            other: r.other,
          }).toEqual({
            refused: 0,
            reset: 0,
            timeout: 0,
            other: 0,
          });
          expect(r.ok).toBe(r.sent);
          expect(r.ok).toBeGreaterThanOrEqual(Math.floor(MIN_RATE * seconds * 0.9));
          // Every process served: the first listened and stored, the next three adopted fd 3.
          expect(new Set(pids).size).toBe(4);
          expect(Object.keys(r.pids).sort()).toEqual([...pids].sort());
          expect(readyLines.map((x) => [x[1], x[2].replace(/ .*/, '')])).toEqual([
            [pids[0], 'listened'],
            [pids[1], 'adopted'],
            [pids[2], 'adopted'],
            [pids[3], 'adopted'],
          ]);
          expect(stored).toEqual(['1', '1', '1', '1']);
          // Every process that was stopped drained and exited 0.
          expect(drained).toHaveLength(3);
          expect(journal).not.toMatch(/FAILED|Cannot store more fds/);
          expect(fdstore).toEqual(Array(4).fill(m.version >= 254 ? 'enabled' : 'unknown'));
        });
      });
    },
  );
});
