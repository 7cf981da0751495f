import type { NotifyAddress } from '../address';

/** The backends: libsystemd's own functions, our protocol over raw syscalls, or no transport. */
export type BackendName = 'libsystemd' | 'builtin' | 'none';

/** One datagram to send. Everything is validated and encoded before it reaches a backend. */
export interface SendRequest {
  address: NotifyAddress;
  data: Buffer;
  /** 0 = this process. */
  pid: number;
  fds: readonly number[];
}

/** `rc` > 0 sent; < 0 minus errno, with the failing system call. */
export interface SendResult {
  rc: number;
  syscall: string;
}

/** What every backend implements. */
export interface Backend {
  readonly name: BackendName;
  send(request: SendRequest): SendResult;
}
