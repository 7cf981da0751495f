// File-descriptor syscalls Node lacks. The barrier's pipe: both ends close-on-exec, so a child
// forked while a barrier is pending cannot hold the write end open and make the barrier hang.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

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

namespace sdnotify {

// memfdSealed(name: string, data: Buffer) -> fd of a close-on-exec memfd holding data, sealed
// against any change (shrink, grow, write, further seals), or -errno. The state pattern of
// sd_notify(3): a stored, sealed memfd cannot be altered by whoever holds a copy.
Napi::Value MemfdSealed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name, data;
  if (!CheckArity(info, 2, "memfdSealed") || !GetCString(info, 0, "name", &name) ||
      !GetBytes(info, 1, "data", &data)) {
    return env.Undefined();
  }
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Napi::Number::New(env, -errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return Napi::Number::New(env, -e);
    }
    done += static_cast<size_t>(n);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  return Napi::Number::New(env, fd);
}

// setCloexec(fd) -> 0 or -errno: FD_CLOEXEC on, as sd_listen_fds() does for what it hands over.
Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!CheckArity(info, 1, "setCloexec") || !GetInt(info, 0, "fd", 0, 0x7fffffff, &fd)) {
    return env.Undefined();
  }
  int flags = fcntl(static_cast<int>(fd), F_GETFD);
  if (flags < 0) return Napi::Number::New(env, -errno);
  if ((flags & FD_CLOEXEC) == 0 && fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC) < 0) {
    return Napi::Number::New(env, -errno);
  }
  return Napi::Number::New(env, 0);
}

// fdInfo(fd) -> { mode, size, soType, soDomain, acceptConn } (the socket fields -1 for other
// kinds of fd), or -errno. Enough to tell a listener from a connection from a file.
Napi::Value FdInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd64 = 0;
  if (!CheckArity(info, 1, "fdInfo") || !GetInt(info, 0, "fd", 0, 0x7fffffff, &fd64)) {
    return env.Undefined();
  }
  int fd = static_cast<int>(fd64);
  struct stat st;
  if (fstat(fd, &st) < 0) return Napi::Number::New(env, -errno);
  int type = -1, domain = -1, accept_conn = -1;
  if (S_ISSOCK(st.st_mode)) {
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) type = -1;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) domain = -1;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accept_conn, &len) < 0) accept_conn = -1;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("mode", static_cast<double>(st.st_mode));
  out.Set("size", static_cast<double>(st.st_size));
  out.Set("soType", type);
  out.Set("soDomain", domain);
  out.Set("acceptConn", accept_conn);
  return out;
}

}  // namespace sdnotify
