// File-descriptor syscalls Node lacks. The barrier's pipe: both ends close-on-exec, so a child
// forked while a barrier is pending cannot hold the write end open and make the barrier hang.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "args.h"
#include "sdnotify.h"

namespace sdnotify {

// pipeCloexec() -> Int32Array [readFd, writeFd], or -errno. Both ends are the caller's to close.
Napi::Value PipeCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 0, "pipeCloexec")) return env.Undefined();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Napi::Number::New(env, -errno);
  Napi::Int32Array out = Napi::Int32Array::New(env, 2);
  out[0] = fds[0];
  out[1] = fds[1];
  return out;
}

}  // namespace sdnotify

namespace sdnotify {

// closeFd(fd) -> 0 or -errno. For fds the addon made or received: Node's fs.closeSync() warns in
// worker threads about fds it did not open. Never retried on EINTR (Linux released the fd).
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!CheckArity(info, 1, "closeFd") || !GetInt(info, 0, "fd", 0, 0x7fffffff, &fd)) {
    return env.Undefined();
  }
  return Napi::Number::New(env, close(static_cast<int>(fd)) < 0 ? -errno : 0);
}

// hungUp(fd) -> 1 if every writer of the pipe has closed it (POLLHUP), 0 if not yet, or -errno.
// Never waits: poll() with a zero timeout, as libsystemd's barrier does for a zero timeout.
Napi::Value HungUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!CheckArity(info, 1, "hungUp") || !GetInt(info, 0, "fd", 0, 0x7fffffff, &fd)) {
    return env.Undefined();
  }
  pollfd p{static_cast<int>(fd), 0, 0};
  int r;
  do {
    r = poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Napi::Number::New(env, -errno);
  if ((p.revents & POLLNVAL) != 0) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, (p.revents & POLLHUP) != 0 ? 1 : 0);
}

}  // namespace sdnotify
