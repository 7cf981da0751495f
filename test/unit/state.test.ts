import { formatState, MAX_MESSAGE_BYTES, U64_MAX } from '../../lib';
import { encodeMessage } from '../../lib/state';

describe('NotifyState encoding', () => {
  test('fields go out in one canonical order (that of sd_notify(3)), custom fields last', () => {
    expect(
      formatState({
        X_APP_PHASE: 'warm',
        status: 'ok',
        mainPid: 42,
        ready: true,
        watchdog: true,
        reloading: true,
        monotonicUsec: 5,
      }),
    ).toBe(
      'READY=1\nRELOADING=1\nMONOTONIC_USEC=5\nSTATUS=ok\nMAINPID=42\nWATCHDOG=1\nX_APP_PHASE=warm',
    );
  });

  test('every well-known field has its assignment', () => {
    expect(
      formatState({
        ready: true,
        reloading: true,
        stopping: true,
        monotonicUsec: 1n,
        status: 's',
        notifyAccess: 'all',
        errno: 2,
        busError: 'org.freedesktop.DBus.Error.TimedOut',
        exitStatus: 3,
        mainPid: 4,
        watchdog: 'trigger',
        watchdogUsec: 5,
        extendTimeoutUsec: 6,
        fdStore: true,
        fdName: 'db',
        fdPoll: false,
      }).split('\n'),
    ).toEqual([
      'READY=1',
      'RELOADING=1',
      'STOPPING=1',
      'MONOTONIC_USEC=1',
      'STATUS=s',
      'NOTIFYACCESS=all',
      'ERRNO=2',
      'BUSERROR=org.freedesktop.DBus.Error.TimedOut',
      'EXIT_STATUS=3',
      'MAINPID=4',
      'WATCHDOG=trigger',
      'WATCHDOG_USEC=5',
      'EXTEND_TIMEOUT_USEC=6',
      'FDSTORE=1',
      'FDNAME=db',
      'FDPOLL=0',
    ]);
  });

  test('false and undefined fields are omitted; fdPoll: true sends nothing', () => {
    expect(formatState({ ready: true, stopping: false, status: undefined, fdPoll: true })).toBe(
      'READY=1',
    );
  });

  test('microseconds accept bigint up to 2^64-1 (infinity) and safe-integer numbers', () => {
    expect(formatState({ watchdogUsec: U64_MAX })).toBe('WATCHDOG_USEC=18446744073709551615');
    expect(formatState({ extendTimeoutUsec: Number.MAX_SAFE_INTEGER })).toBe(
      'EXTEND_TIMEOUT_USEC=9007199254740991',
    );
    expect(() => formatState({ watchdogUsec: U64_MAX + 1n })).toThrow(RangeError);
    expect(() => formatState({ watchdogUsec: 2 ** 53 })).toThrow(/safe integer.*bigint/);
    expect(() => formatState({ watchdogUsec: 1.5 })).toThrow(RangeError);
    expect(() => formatState({ watchdogUsec: -1 })).toThrow(RangeError);
  });

  test('UTF-8 status text is sent as UTF-8 bytes', () => {
    expect([...encodeMessage({ status: 'Grüße ✓' }, 0)]).toEqual([
      ...Buffer.from('STATUS=Grüße ✓'),
    ]);
  });

  test('a string state is sent byte for byte, one trailing newline allowed', () => {
    expect(encodeMessage('READY=1\nSTATUS=x\n', 0).toString()).toBe('READY=1\nSTATUS=x\n');
  });
});

describe('validation (each a TypeError or RangeError that names the field and the rule)', () => {
  const cases: [string, unknown, ErrorConstructor, RegExp, number?][] = [
    [
      'newline in status',
      { status: 'a\nREADY=1' },
      RangeError,
      /state\.status must be a single line/,
    ],
    ['NUL in status', { status: 'a\0b' }, RangeError, /state\.status must not contain a NUL/],
    [
      'lone surrogate in status',
      { status: 'a\ud800' },
      RangeError,
      /state\.status must be well-formed/,
    ],
    ['status not a string', { status: 5 }, TypeError, /state\.status must be a string/],
    ['ready not a boolean', { ready: 1 }, TypeError, /state\.ready must be a boolean/],
    [
      'watchdog an unknown word',
      { watchdog: 'now' },
      TypeError,
      /state\.watchdog must be a boolean or "trigger"/,
    ],
    [
      'unknown field (a typo)',
      { staus: 'x' },
      TypeError,
      /state\.staus is not a NotifyState field/,
    ],
    [
      'custom key in lower case',
      { X_foo: 'x' },
      TypeError,
      /state\.X_foo is not a NotifyState field.*X_/,
    ],
    ['custom value an object', { X_A: {} }, TypeError, /state\.X_A must be a string/],
    ['newline in a custom value', { X_A: 'a\nb' }, RangeError, /state\.X_A must be a single line/],
    ['mainPid 0', { mainPid: 0 }, RangeError, /state\.mainPid must be an integer from 1/],
    [
      'exitStatus 256',
      { exitStatus: 256 },
      RangeError,
      /state\.exitStatus must be an integer from 0 to 255/,
    ],
    ['errno negative', { errno: -2 }, RangeError, /state\.errno must be an integer from 0/],
    [
      'errno above ERRNO_MAX (systemd drops it)',
      { errno: 4096 },
      RangeError,
      /state\.errno must be an integer from 0 to 4095/,
    ],
    [
      'ERRNO= an unknown name',
      'ERRNO=ENOSUCH',
      RangeError,
      /ERRNO= must be an integer from 0 to 4095/,
    ],
    ['a repeated key in a string', 'STATUS=a\nSTATUS=b', RangeError, /line 2 repeats STATUS=/],
    [
      'a Buffer as the state',
      Buffer.from('READY=1'),
      TypeError,
      /state must be a NotifyState object or a string, got a Buffer/,
    ],
    [
      'notifyAccess unknown',
      { notifyAccess: 'some' },
      RangeError,
      /state\.notifyAccess must be one of/,
    ],
    [
      'busError not a D-Bus name',
      { busError: 'oops' },
      RangeError,
      /state\.busError must be a D-Bus error name/,
    ],
    [
      'fdName with ":"',
      { fdStore: true, fdName: 'a:b' },
      RangeError,
      /state\.fdName must be printable ASCII without ":"/,
      1,
    ],
    [
      'fdName with a control character',
      { fdStore: true, fdName: 'a\tb' },
      RangeError,
      /state\.fdName must be printable ASCII/,
      1,
    ],
    [
      'fdName non-ASCII',
      { fdStore: true, fdName: 'dé' },
      RangeError,
      /state\.fdName must be printable ASCII/,
      1,
    ],
    [
      'fdName of 256 characters',
      { fdStore: true, fdName: 'a'.repeat(256) },
      RangeError,
      /state\.fdName must be 1 to 255/,
      1,
    ],
    [
      'fdStoreRemove without fdName',
      { fdStoreRemove: true },
      RangeError,
      /fdStoreRemove .* needs fdName/,
    ],
    ['fdName alone', { fdName: 'x' }, RangeError, /fdName .* only has a meaning with fdStore/],
    ['fdPoll alone', { fdPoll: false }, RangeError, /fdPoll .* only has a meaning with fdStore/],
    ['fdStore without fds', { fdStore: true }, RangeError, /fdStore .* needs at least one fd/],
    ['fds without fdStore', { status: 'x' }, RangeError, /fds were given without fdStore/, 1],
    ['an empty state', {}, RangeError, /no field to send/],
    [
      'a state that is not an object',
      42,
      TypeError,
      /state must be a NotifyState object or a string/,
    ],
    ['an empty string', '', RangeError, /at least one KEY=VALUE/],
    ['a line without "="', 'READY', RangeError, /line 1 must be KEY=VALUE/],
    ['a lower-case key', 'ready=1', RangeError, /line 1 must be KEY=VALUE/],
    ['an empty line inside', 'READY=1\n\nSTATUS=x', RangeError, /line 2 must be KEY=VALUE/],
    ['READY=0 in a string', 'READY=0', RangeError, /READY= must be "1"/],
    [
      'a non-numeric MAINPID= in a string',
      'MAINPID=abc',
      RangeError,
      /MAINPID= must be an integer/,
    ],
    [
      'a non-decimal µs value in a string',
      'WATCHDOG_USEC=0x10',
      RangeError,
      /WATCHDOG_USEC= must be an unsigned decimal/,
    ],
    [
      'BARRIER=1 with other assignments',
      'BARRIER=1\nREADY=1',
      RangeError,
      /BARRIER=1 must be sent alone with exactly one fd/,
      1,
    ],
    [
      'BARRIER=1 without an fd',
      'BARRIER=1',
      RangeError,
      /BARRIER=1 must be sent alone with exactly one fd/,
    ],
  ];
  test.each(cases)('%s', (_name, state, type, message, fds = 0) => {
    let thrown: unknown;
    try {
      encodeMessage(state as never, fds);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).constructor).toBe(type);
    expect((thrown as Error).message).toMatch(message);
  });

  test('the whole datagram is at most 4096 bytes, counted in bytes not characters', () => {
    const prefix = 'STATUS='.length;
    expect(encodeMessage({ status: 'a'.repeat(MAX_MESSAGE_BYTES - prefix) }, 0)).toHaveLength(4096);
    // 'é' is 2 bytes in UTF-8: 2045 characters fit in characters but not in bytes.
    expect(() => encodeMessage({ status: 'é'.repeat(2045) }, 0)).toThrow(
      /4097 bytes; the manager reads at most 4096/,
    );
  });

  test('ERRNO= accepts an errno name, as systemd does', () => {
    expect(encodeMessage('ERRNO=ENOENT', 0).toString()).toBe('ERRNO=ENOENT');
  });

  test('a mistyped field gets a suggestion', () => {
    expect(() => encodeMessage({ staus: 'x' } as never, 0)).toThrow(
      /state\.staus .*did you mean status\?/,
    );
    expect(() => encodeMessage({ STATUS: 'x' } as never, 0)).toThrow(/did you mean status\?/);
    expect(() => encodeMessage({ main_pid: 1 } as never, 0)).toThrow(/did you mean mainPid\?/);
    expect(() => encodeMessage({ foo: 1 } as never, 0)).toThrow(
      /state\.foo is not a NotifyState field;/,
    );
  });

  test('BARRIER=1 alone with exactly one fd is accepted', () => {
    expect(encodeMessage('BARRIER=1', 1).toString()).toBe('BARRIER=1');
  });
});
