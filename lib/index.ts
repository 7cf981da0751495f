/**
 * sdnotify: systemd's sd_notify(3) protocol for Node.js.
 *
 * Importing loads nothing native; the addon is loaded on the first call that has to send.
 * @packageDocumentation
 */
export {
  notify,
  ready,
  status,
  stopping,
  reloading,
  extendTimeout,
  monotonicUsec,
  type NotifyOptions,
} from './notify';
export { formatState, type NotifyState, type NotifyAccess, type Usec } from './state';
export { SdNotifyError, type SdNotifyErrorCode } from './errors';
export { parseNotifySocket, type NotifyAddress } from './address';
export { backendInfo, type BackendInfo } from './backend/select';
export type { BackendName } from './backend/types';
export { barrier, type BarrierOptions } from './barrier';
export {
  sd_notify,
  sd_pid_notify,
  sd_pid_notify_with_fds,
  sd_notify_barrier,
  sd_pid_notify_barrier,
} from './dropin';
export {
  storeFd,
  removeFds,
  fdStoreStatus,
  saveState,
  restoreState,
  type StorableFd,
  type StoreFdOptions,
} from './fdstore';
export {
  SD_LISTEN_FDS_START,
  sd_listen_fds,
  sd_listen_fds_with_names,
  listenFds,
  fdInfo,
  adopt,
  adoptServer,
  adoptSocket,
  adoptDgram,
  readFdContents,
  listenUnix,
  type ListenFd,
  type FdInfo,
} from './listen-fds';
export { MAX_MESSAGE_BYTES, MAX_FDS, U64_MAX } from './validate';
