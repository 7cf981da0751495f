// The libsystemd backend's guard in front of libsystemd's blocking send: it must fail closed.
import { ROOT, runNode } from '../helpers/node-child';

describe('the libsystemd backend never hangs on a full queue', () => {
  test('a full queue gives EAGAIN at once, and messages flow again once it drains', () => {
    const r = runNode(
      `const b = require(${JSON.stringify(`${ROOT}/build/Release/sdnotify.node`)});
       const p = require('os').tmpdir() + '/sdnotify-guard-' + process.pid + '.sock';
       const fd = b.bindUnix(Buffer.from(p));
       process.env.NOTIFY_SOCKET = p;
       let sent = 0, code;
       const t0 = process.hrtime.bigint();
       for (;;) { try { sdnotify.status('n' + sent); sent++; } catch (e) { code = e.code; break; } }
       const ms = Number(process.hrtime.bigint() - t0) / 1e6;
       let drained = 0; while (b.recvUnix(fd)) drained++;
       out([sdnotify.backendInfo().name, code, sent === drained, ms < 1000, sdnotify.status('again')]);
       require('fs').unlinkSync(p);`,
      { SDNOTIFY_BACKEND: 'libsystemd' },
    );
    expect(r.stderr).toBe('');
    expect(r.results).toEqual([['libsystemd', 'EAGAIN', true, true, true]]);
  });

  test('when something else closed the probe socket (and the number was reused), it makes a new one', () => {
    // Close every socket the process holds except the receiver's, as a careless library might,
    // reuse the number with a fresh socket, then fill the queue: the send must still say EAGAIN.
    const r = runNode(
      `const b = require(${JSON.stringify(`${ROOT}/build/Release/sdnotify.node`)});
       const fs = require('fs');
       const p = require('os').tmpdir() + '/sdnotify-guard2-' + process.pid + '.sock';
       const rfd = b.bindUnix(Buffer.from(p));
       process.env.NOTIFY_SOCKET = p;
       sdnotify.status('first'); // creates the probe socket
       const sockets = () => fs.readdirSync('/proc/self/fd').map(Number)
         .filter((fd) => fd > 2 && fd !== rfd && /^socket:/.test((() => { try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch { return '' } })()));
       const before = sockets();
       for (const fd of before) { try { fs.closeSync(fd) } catch {} }
       const other = b.bindUnix(Buffer.from(p + '.other')); // likely reuses the probe's number
       let code, n = 0;
       for (;;) { try { sdnotify.status('x'); n++; if (n > 100000) break; } catch (e) { code = e.code; break; } }
       let drained = 0; while (b.recvUnix(rfd)) drained++;
       // Had the library connected the reused number, 'other' would now refuse strangers (EPERM).
       const rc = b.sendUnix(Buffer.from(p + '.other'), Buffer.from('hi'), null, null);
       out([before.length >= 1, code, rc, b.recvUnix(other)?.data.toString()]);
       fs.unlinkSync(p); fs.unlinkSync(p + '.other');`,
      { SDNOTIFY_BACKEND: 'libsystemd' },
    );
    expect(r.status).toBe(0); // a hang would be killed by runNode's timeout: status null
    expect(r.stderr).toBe('');
    expect(r.results).toEqual([[true, 'EAGAIN', 2, 'hi']]);
  });

  test('a probe that cannot connect fails the send with that errno instead of sending unguarded', () => {
    const r = runNode(`try { sdnotify.ready() } catch (e) { out([e.code, e.syscall]) }`, {
      SDNOTIFY_BACKEND: 'libsystemd',
      NOTIFY_SOCKET: '/nonexistent/notify',
    });
    expect(r.results).toEqual([['ENOENT', 'sendmsg']]);
  });
});

test('the kept probe socket is close-on-exec', () => {
  const r = runNode(
    `process.env.NOTIFY_SOCKET = '/nonexistent/x';
     const fs = require('fs');
     const link = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch { return '' } };
     const sockets = () => fs.readdirSync('/proc/self/fd').filter((fd) => link(fd).startsWith('socket:'));
     const before = new Set(sockets());
     try { sdnotify.ready() } catch {}
     const added = sockets().filter((fd) => !before.has(fd));
     const flags = (fd) => parseInt(/flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8);
     out(added.map((fd) => (flags(fd) & 0o2000000) !== 0));`,
    { SDNOTIFY_BACKEND: 'libsystemd' },
  );
  expect(r.stderr).toBe('');
  expect(r.results).toEqual([[true]]); // exactly one socket was added, and it is O_CLOEXEC
});
