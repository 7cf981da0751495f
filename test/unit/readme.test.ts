// Every ```js example in README.md runs here, as a user would run it, against a real receiving
// socket: "// sends: …" comments must match the datagrams that arrive, in order, and the comment
// lines right after a console.log(...) must match what it printed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { NotifyListener, type ReceivedNotification } from '../../lib/testing';
import { ROOT } from '../helpers/node-child';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

function expectations(code: string) {
  const sends: string[] = [];
  const prints: string[] = [];
  let afterLog = false;
  for (const line of code.split('\n')) {
    const comment = /^\s*\/\/ ?(.*)$/.exec(line);
    if (comment) {
      const text = comment[1];
      if (text.startsWith('sends: ')) sends.push(text.slice('sends: '.length));
      else if (afterLog) prints.push(text);
      continue;
    }
    afterLog = line.includes('console.log(');
  }
  return { sends, prints };
}

function pattern(expected: string, pid: number): RegExp {
  const escaped = expected
    .split(/(<pid>|<CLOCK_MONOTONIC µs>)/)
    .map((part) =>
      part === '<pid>'
        ? String(pid)
        : part === '<CLOCK_MONOTONIC µs>'
          ? '\\d+'
          : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${escaped.replace(/\\\\n/g, '\n')}$`);
}

test('README has examples to run', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(6);
});

describe.each(blocks.map((code, i) => [i + 1, code.split('\n')[0], code] as const))(
  'README example %i (%s)',
  (_i, _first, code) => {
    test('runs, sends what its comments say, and prints what they say', async () => {
      const { sends, prints } = expectations(code);
      const listener = await NotifyListener.create();
      const dir = mkdtempSync(path.join(tmpdir(), 'sdnotify-readme-'));
      const file = path.join(dir, 'example.js');
      try {
        // Run as pasted into a CommonJS file: no wrapper, so e.g. a top-level await fails here too.
        const program = code
          .replaceAll(
            "require('sdnotify/testing')",
            `require(${JSON.stringify(path.join(ROOT, 'dist/testing'))})`,
          )
          .replaceAll("require('sdnotify')", `require(${JSON.stringify(ROOT)})`);
        writeFileSync(file, program);
        const child = spawn(process.execPath, [file], {
          cwd: ROOT,
          env: {
            ...process.env,
            ...listener.env,
            SDNOTIFY_BACKEND: undefined,
          },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const code_ = await new Promise<number | null>((resolve) => child.once('close', resolve));
        expect(stderr).toBe('');
        expect(code_).toBe(0);
        const got: ReceivedNotification[] = [];
        for (let k = 0; k < sends.length; k++) got.push(await listener.next(2000));
        expect(got.map((m) => m.pid)).toEqual(sends.map(() => child.pid));
        sends.forEach((s, k) => expect(got[k].raw.toString()).toMatch(pattern(s, child.pid!)));
        await expect(listener.next(100)).rejects.toThrow(/no notification arrived/);
        expect(stdout.trimEnd().split('\n').filter(Boolean)).toEqual(prints);
      } finally {
        listener.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
