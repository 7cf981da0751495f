import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The repo root; children load the built package from here (`npm test` builds dist first). */
export const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Runs `code` in a fresh node process (so backend selection starts anew) with `sdnotify` bound to
 * the built package, and returns what it printed with `out(value)` as parsed JSON.
 */
export function runNode(code: string, env: Record<string, string | undefined> = {}) {
  const base = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'SDNOTIFY_BACKEND', 'SDNOTIFY_ADDON_PATH', 'NODE_DEBUG'])
    delete base[k];
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...env })) if (v !== undefined) merged[k] = v;
  const prelude = `const sdnotify = require(${JSON.stringify(ROOT)}); const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n');\n`;
  const r = spawnSync(process.execPath, ['-e', prelude + code], {
    env: merged,
    encoding: 'utf8',
    timeout: 20000,
  });
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  return { status: r.status, stderr: r.stderr, results: lines.map((l) => JSON.parse(l)) };
}
