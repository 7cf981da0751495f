/**
 * notify()'s promise (DESIGN §4): anything the manager would drop silently, or misread, is refused
 * before sending, with a TypeError (wrong type) or RangeError (wrong value) whose message names
 * the field and the rule — and nothing at all reaches the socket.
 *
 * "Nothing arrived" is checked per case with a sentinel: after the refused call a valid message
 * is sent, and it must be the very next one the live peer receives.
 */
import * as fs from 'node:fs';

import * as sdnotify from '../../lib';
import { setNotifySocket } from '../helpers/env';
import { closerOf, openDevNull } from '../helpers/fds';
import { PythonPeer } from '../helpers/peer';

type Lib = typeof sdnotify;
type ErrorClass = typeof TypeError | typeof RangeError;

interface Refusal {
  /** What is wrong, as a sentence. */
  what: string;
  call: (lib: Lib, fd: number) => unknown;
  type: ErrorClass;
  /** The message must name the field… */
  field: RegExp;
  /** …and the rule. */
  rule: RegExp;
}

const bad = (
  what: string,
  call: Refusal['call'],
  type: ErrorClass,
  field: RegExp,
  rule: RegExp,
): Refusal => ({
  what,
  call,
  type,
  field,
  rule,
});

const T = TypeError;
const R = RangeError;
const many = (fd: number, n: number) => new Array<number>(n).fill(fd);

const REFUSALS: Array<[string, Refusal[]]> = [
  [
    'no NUL',
    [
      bad('a NUL in status', (l) => l.notify({ status: 'a\0b' }), R, /status/, /NUL/),
      bad(
        'a NUL in a custom field',
        (l) => l.notify({ ready: true, X_NOTE: 'a\0' }),
        R,
        /X_NOTE/,
        /NUL/,
      ),
      bad('a NUL in a string state', (l) => l.notify('STATUS=a\0b'), R, /STATUS/, /NUL/),
    ],
  ],
  [
    'no newline inside a value',
    [
      bad(
        'a status smuggling READY=1',
        (l) => l.notify({ status: 'ok\nREADY=1' }),
        R,
        /status/,
        /newline|single line/,
      ),
      bad(
        'a custom field with a newline',
        (l) => l.notify({ X_NOTE: 'a\nb' }),
        R,
        /X_NOTE/,
        /newline|single line/,
      ),
      bad(
        'ready(status) with a newline',
        (l) => l.ready('up\nSTOPPING=1'),
        R,
        /status/,
        /newline|single line/,
      ),
      bad(
        'a string state with an empty line',
        (l) => l.notify('STATUS=ok\n\nREADY=1'),
        R,
        /line 2/,
        /KEY=VALUE/,
      ),
    ],
  ],
  [
    'keys are [A-Z_][A-Z0-9_]*',
    [
      bad('a lower-case custom key', (l) => l.notify({ X_lower: '1' }), T, /X_lower/, /upper-case/),
      bad(
        'a custom key with "-"',
        (l) => l.notify({ 'X_BAD-KEY': '1' }),
        T,
        /X_BAD-KEY/,
        /upper-case/,
      ),
      bad(
        'a misspelt field',
        (l) => l.notify({ readyy: true } as never),
        T,
        /readyy/,
        /not a NotifyState field/,
      ),
      bad('a lower-case key in a string', (l) => l.notify('ready=1'), R, /ready=1/, /KEY=VALUE/),
      bad('a key that starts with a digit', (l) => l.notify('1READY=1'), R, /1READY/, /KEY=VALUE/),
      bad('a line without "="', (l) => l.notify('READY'), R, /READY/, /KEY=VALUE/),
    ],
  ],
  [
    'STATUS is well-formed UTF-8',
    [
      bad(
        'a lone high surrogate',
        (l) => l.notify({ status: 'bad \uD800 text' }),
        R,
        /status/,
        /surrogate|well-formed|UTF/,
      ),
      bad(
        'a lone low surrogate in a string state',
        (l) => l.notify('STATUS=\uDC00'),
        R,
        /STATUS/,
        /surrogate|well-formed|UTF/,
      ),
    ],
  ],
  [
    'the datagram is at most 4096 bytes, counted in bytes',
    [
      bad(
        '4097 ASCII bytes',
        (l) => l.notify({ status: 'x'.repeat(4090) }),
        R,
        /state/,
        /4097 bytes.*4096/,
      ),
      bad(
        '4097 bytes in 2052 characters',
        (l) => l.notify({ status: 'é'.repeat(2045) }),
        R,
        /state/,
        /4097 bytes.*4096/,
      ),
      bad(
        'a 4097-byte string state',
        (l) => l.notify(`X_PAD=${'p'.repeat(4091)}`),
        R,
        /state/,
        /4097 bytes.*4096/,
      ),
    ],
  ],
  [
    'FDNAME is printable ASCII without ":", at most 255',
    [
      bad(
        'a ":" in fdName',
        (l, fd) => l.notify({ fdStore: true, fdName: 'a:b' }, { fds: [fd] }),
        R,
        /fdName/,
        /":"/,
      ),
      bad(
        'a non-ASCII fdName',
        (l, fd) => l.notify({ fdStore: true, fdName: 'café' }, { fds: [fd] }),
        R,
        /fdName/,
        /ASCII/,
      ),
      bad(
        'a control character in fdName',
        (l, fd) => l.notify({ fdStore: true, fdName: 'a\tb' }, { fds: [fd] }),
        R,
        /fdName/,
        /ASCII/,
      ),
      bad(
        'a 256-character fdName',
        (l, fd) => l.notify({ fdStore: true, fdName: 'n'.repeat(256) }, { fds: [fd] }),
        R,
        /fdName/,
        /255/,
      ),
      bad(
        'an empty fdName',
        (l, fd) => l.notify({ fdStore: true, fdName: '' }, { fds: [fd] }),
        R,
        /fdName/,
        /1 to 255/,
      ),
      bad(
        'a ":" in FDNAME= of a string',
        (l, fd) => l.notify('FDSTORE=1\nFDNAME=a:b', { fds: [fd] }),
        R,
        /FDNAME/,
        /":"/,
      ),
    ],
  ],
  [
    'FDSTOREREMOVE needs FDNAME',
    [
      bad(
        'fdStoreRemove alone',
        (l) => l.notify({ fdStoreRemove: true }),
        R,
        /fdStoreRemove/,
        /needs fdName/,
      ),
      bad(
        'FDSTOREREMOVE=1 alone in a string',
        (l) => l.notify('FDSTOREREMOVE=1'),
        R,
        /FDSTOREREMOVE/,
        /needs fdName/,
      ),
    ],
  ],
  [
    'BARRIER=1 goes alone, with exactly one fd',
    [
      bad(
        'BARRIER=1 without an fd',
        (l) => l.notify('BARRIER=1'),
        R,
        /BARRIER=1/,
        /alone with exactly one fd/,
      ),
      bad(
        'BARRIER=1 with two fds',
        (l, fd) => l.notify('BARRIER=1', { fds: [fd, fd] }),
        R,
        /BARRIER=1/,
        /alone with exactly one fd/,
      ),
      bad(
        'BARRIER=1 with READY=1',
        (l, fd) => l.notify('BARRIER=1\nREADY=1', { fds: [fd] }),
        R,
        /BARRIER=1/,
        /alone with exactly one fd/,
      ),
    ],
  ],
  [
    'numbers are unsigned decimal (u64 via bigint)',
    [
      bad('a negative mainPid', (l) => l.notify({ mainPid: -1 }), R, /mainPid/, /integer from 1/),
      bad('mainPid 0', (l) => l.notify({ mainPid: 0 }), R, /mainPid/, /integer from 1/),
      bad('a fractional mainPid', (l) => l.notify({ mainPid: 1.5 }), R, /mainPid/, /integer/),
      bad(
        'mainPid as a string',
        (l) => l.notify({ mainPid: '42' as never }),
        T,
        /mainPid/,
        /number/,
      ),
      bad('a negative errno', (l) => l.notify({ errno: -1 }), R, /errno/, /integer from 0/),
      bad('exitStatus 256', (l) => l.notify({ exitStatus: 256 }), R, /exitStatus/, /0 to 255/),
      bad(
        'a negative watchdogUsec',
        (l) => l.notify({ watchdogUsec: -1 }),
        R,
        /watchdogUsec/,
        /non-negative/,
      ),
      bad(
        'a fractional watchdogUsec',
        (l) => l.notify({ watchdogUsec: 1.5 }),
        R,
        /watchdogUsec/,
        /integer/,
      ),
      bad(
        'an unsafe-integer watchdogUsec',
        (l) => l.notify({ watchdogUsec: 2 ** 53 }),
        R,
        /watchdogUsec/,
        /safe integer.*bigint/,
      ),
      bad('NaN µs', (l) => l.notify({ extendTimeoutUsec: NaN }), R, /extendTimeoutUsec/, /integer/),
      bad(
        'Infinity µs',
        (l) => l.notify({ extendTimeoutUsec: Infinity }),
        R,
        /extendTimeoutUsec/,
        /integer/,
      ),
      bad(
        'a bigint above 2^64-1',
        (l) => l.notify({ watchdogUsec: 2n ** 64n }),
        R,
        /watchdogUsec/,
        /2\^64-1/,
      ),
      bad(
        'a negative bigint',
        (l) => l.notify({ monotonicUsec: -1n }),
        R,
        /monotonicUsec/,
        /0 to 2\^64-1/,
      ),
      bad(
        'µs as a string',
        (l) => l.notify({ watchdogUsec: '1000' as never }),
        T,
        /watchdogUsec/,
        /number or bigint/,
      ),
      bad(
        'WATCHDOG_USEC=-1 in a string',
        (l) => l.notify('WATCHDOG_USEC=-1'),
        R,
        /WATCHDOG_USEC/,
        /unsigned decimal/,
      ),
      bad(
        'WATCHDOG_USEC=1e6 in a string',
        (l) => l.notify('WATCHDOG_USEC=1e6'),
        R,
        /WATCHDOG_USEC/,
        /unsigned decimal/,
      ),
      bad(
        'WATCHDOG_USEC= 5 in a string',
        (l) => l.notify('WATCHDOG_USEC= 5'),
        R,
        /WATCHDOG_USEC/,
        /unsigned decimal/,
      ),
      bad(
        '2^64 in a string',
        (l) => l.notify('EXTEND_TIMEOUT_USEC=18446744073709551616'),
        R,
        /EXTEND_TIMEOUT_USEC/,
        /2\^64-1/,
      ),
      bad('MAINPID=+5 in a string', (l) => l.notify('MAINPID=+5'), R, /MAINPID/, /integer/),
    ],
  ],
  [
    'at most 253 fds per message',
    [
      bad(
        '254 fds',
        (l, fd) => l.notify({ fdStore: true }, { fds: many(fd, 254) }),
        R,
        /options\.fds/,
        /254.*253/,
      ),
    ],
  ],
  [
    'flags and enumerations take only their values',
    [
      bad('ready: "yes"', (l) => l.notify({ ready: 'yes' as never }), T, /ready/, /boolean/),
      bad('ready: 1', (l) => l.notify({ ready: 1 as never }), T, /ready/, /boolean/),
      bad(
        'watchdog: "now"',
        (l) => l.notify({ watchdog: 'now' as never }),
        T,
        /watchdog/,
        /boolean or "trigger"/,
      ),
      bad('READY=yes in a string', (l) => l.notify('READY=yes'), R, /READY/, /"1"/),
      bad(
        'WATCHDOG=2 in a string',
        (l) => l.notify('WATCHDOG=2'),
        R,
        /WATCHDOG/,
        /"1" or "trigger"/,
      ),
      bad(
        'an unknown notifyAccess',
        (l) => l.notify({ notifyAccess: 'everyone' as never }),
        R,
        /notifyAccess/,
        /one of/,
      ),
      bad(
        'a busError that is not a D-Bus name',
        (l) => l.notify({ busError: 'not a name' }),
        R,
        /busError/,
        /D-Bus error name/,
      ),
      bad('status as a number', (l) => l.notify({ status: 5 as never }), T, /status/, /string/),
    ],
  ],
  [
    'the state itself is an object or a non-empty string',
    [
      bad('a number', (l) => l.notify(42 as never), T, /state/, /object or a string/),
      bad('null', (l) => l.notify(null as never), T, /state/, /object or a string/),
      bad('an array', (l) => l.notify([] as never), T, /state/, /object or a string/),
      bad('an empty object', (l) => l.notify({}), R, /state/, /no field/),
      bad(
        'an object of false fields',
        (l) => l.notify({ ready: false, stopping: false }),
        R,
        /state/,
        /no field/,
      ),
      bad('an empty string', (l) => l.notify(''), R, /state/, /at least one/),
    ],
  ],
  [
    'options are checked too',
    [
      bad(
        'a negative pid',
        (l) => l.notify({ ready: true }, { pid: -1 }),
        R,
        /options\.pid/,
        /integer from 0/,
      ),
      bad(
        'a fractional pid',
        (l) => l.notify({ ready: true }, { pid: 1.5 }),
        R,
        /options\.pid/,
        /integer/,
      ),
      bad(
        'pid as a string',
        (l) => l.notify({ ready: true }, { pid: '1' as never }),
        T,
        /options\.pid/,
        /number/,
      ),
      bad(
        'fds that is not an array',
        (l) => l.notify({ fdStore: true }, { fds: 3 as never }),
        T,
        /options\.fds/,
        /array/,
      ),
      bad(
        'a negative fd',
        (l) => l.notify({ fdStore: true }, { fds: [-1] }),
        R,
        /options\.fds\[0\]/,
        /file descriptor/,
      ),
      bad(
        'a fractional fd',
        (l, fd) => l.notify({ fdStore: true }, { fds: [fd, 1.5] }),
        R,
        /options\.fds\[1\]/,
        /file descriptor/,
      ),
      bad(
        'an fd as a string',
        (l) => l.notify({ fdStore: true }, { fds: ['3' as never] }),
        T,
        /options\.fds\[0\]/,
        /number/,
      ),
      bad(
        'unsetEnvironment: "yes"',
        (l) => l.notify({ ready: true }, { unsetEnvironment: 'yes' as never }),
        T,
        /unsetEnvironment/,
        /boolean/,
      ),
      bad(
        'socket as a number',
        (l) => l.notify({ ready: true }, { socket: 5 as never }),
        T,
        /options\.socket/,
        /string/,
      ),
      bad(
        'a relative socket',
        (l) => l.notify({ ready: true }, { socket: 'rel/x.sock' }),
        R,
        /options\.socket/,
        /absolute path/,
      ),
      bad(
        'an unknown option',
        (l) => l.notify({ ready: true }, { bogus: 1 } as never),
        T,
        /options\.bogus/,
        /not an option/,
      ),
    ],
  ],
  [
    'fd store fields come with their fds (the manager would close or ignore them otherwise)',
    [
      bad(
        'fds without fdStore',
        (l, fd) => l.notify({ ready: true }, { fds: [fd] }),
        R,
        /fdStore/,
        /without fdStore/,
      ),
      bad(
        'fdStore without fds',
        (l) => l.notify({ fdStore: true }),
        R,
        /fdStore/,
        /at least one fd/,
      ),
      bad(
        'fdName without fdStore',
        (l) => l.notify({ ready: true, fdName: 'x' }),
        R,
        /fdName/,
        /only has a meaning/,
      ),
      bad(
        'fdPoll without fdStore',
        (l) => l.notify({ ready: true, fdPoll: false }),
        R,
        /fdPoll/,
        /only has a meaning/,
      ),
      bad(
        'fdStore with fdStoreRemove',
        (l, fd) => l.notify({ fdStore: true, fdStoreRemove: true, fdName: 'x' }, { fds: [fd] }),
        R,
        /fdStore/,
        /cannot be combined/,
      ),
    ],
  ],
  [
    'shorthands check their arguments',
    [
      bad('status(5)', (l) => l.status(5 as never), T, /status/, /string/),
      bad('extendTimeout("5")', (l) => l.extendTimeout('5' as never), T, /ms/, /number/),
      bad('extendTimeout(-1)', (l) => l.extendTimeout(-1), R, /ms/, /> 0/),
      bad('extendTimeout(NaN)', (l) => l.extendTimeout(NaN), R, /ms/, /a number > 0 and <= \d+/),
      bad(
        'extendTimeout(1e300)',
        (l) => l.extendTimeout(1e300),
        R,
        /ms/,
        /<= 9007199254740, got 1e\+300/,
      ),
    ],
  ],
];

describe('notify() refuses bad input before sending', () => {
  let peer: PythonPeer;
  let fd: number;
  let closeFd: () => void;
  let sentinel = 0;

  /** Sends a valid message and checks it is the next to arrive: nothing else came before it. */
  async function expectNothingBeforeSentinel(): Promise<void> {
    sentinel += 1;
    const text = `X_SENTINEL=${sentinel}`;
    expect(sdnotify.notify(text)).toBe(true);
    expect((await peer.next()).text).toBe(text);
  }

  beforeAll(async () => {
    peer = await PythonPeer.start();
    fd = openDevNull();
    closeFd = closerOf(fd);
  });
  beforeEach(() => setNotifySocket(peer.notifySocket));
  afterAll(async () => {
    setNotifySocket(undefined);
    closeFd?.();
    await peer?.close();
  });

  describe.each(REFUSALS)('%s', (_rule, refusals) => {
    it.each(refusals.map((r) => [r.what, r] as const))('%s', async (_what, r) => {
      let error: unknown;
      try {
        r.call(sdnotify, fd);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(r.type);
      expect((error as Error).constructor).toBe(r.type);
      expect((error as Error).message).toMatch(r.field);
      expect((error as Error).message).toMatch(r.rule);
      expect(process.env.NOTIFY_SOCKET).toBe(peer.notifySocket);
      await expectNothingBeforeSentinel();
    });
  });

  describe('the limits themselves are allowed', () => {
    it.each([
      [
        'a 4096-byte ASCII datagram',
        () => sdnotify.notify({ status: 'x'.repeat(4089) }),
        `STATUS=${'x'.repeat(4089)}`,
      ],
      [
        'a 4096-byte datagram of 2-byte characters',
        () => sdnotify.notify({ status: `${'é'.repeat(2044)}x` }),
        `STATUS=${'é'.repeat(2044)}x`,
      ],
      [
        'a 255-character fdName',
        () => sdnotify.notify({ fdStore: true, fdName: 'n'.repeat(255) }, { fds: [fd] }),
        `FDSTORE=1\nFDNAME=${'n'.repeat(255)}`,
      ],
      [
        'fdStoreRemove with fdName',
        () => sdnotify.notify({ fdStoreRemove: true, fdName: 'db' }),
        'FDSTOREREMOVE=1\nFDNAME=db',
      ],
      [
        'BARRIER=1 alone with one fd',
        () => sdnotify.notify('BARRIER=1', { fds: [fd] }),
        'BARRIER=1',
      ],
      [
        '2^64-1 µs as a string',
        () => sdnotify.notify('WATCHDOG_USEC=18446744073709551615'),
        'WATCHDOG_USEC=18446744073709551615',
      ],
      [
        '2^53-1 µs as a number',
        () => sdnotify.notify({ watchdogUsec: Number.MAX_SAFE_INTEGER }),
        `WATCHDOG_USEC=${Number.MAX_SAFE_INTEGER}`,
      ],
      [
        'exitStatus 255 and errno 0',
        () => sdnotify.notify({ errno: 0, exitStatus: 255 }),
        'ERRNO=0\nEXIT_STATUS=255',
      ],
      [
        'WATCHDOG=trigger in a string',
        () => sdnotify.notify('WATCHDOG=trigger'),
        'WATCHDOG=trigger',
      ],
    ])('%s', async (_what, send, expected) => {
      expect(send()).toBe(true);
      const m = await peer.next();
      expect(m.text).toBe(expected);
    });

    it('253 fds are allowed', async () => {
      expect(sdnotify.notify({ fdStore: true }, { fds: many(fd, 253) })).toBe(true);
      const m = await peer.next();
      expect(m.fds).toHaveLength(253);
      expect(fs.fstatSync(fd).isCharacterDevice()).toBe(true);
    });
  });

  it('nothing else arrived at the peer', async () => {
    await peer.expectNothing(100);
  });
});
