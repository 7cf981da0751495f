/**
 * `sdnotify/testing`: play the service manager in your own tests, with no systemd.
 * @packageDocumentation
 */
export { NotifyListener, type NotifyListenerOptions, type ReceivedNotification } from './listener';
