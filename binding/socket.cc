// The raw AF_UNIX datagram syscalls Node core lacks: one non-blocking sendmsg() with SCM_RIGHTS
// and optional SCM_CREDENTIALS (the builtin backend), a probe that tells whether the receiver's
// queue has room (guarding libsystemd's blocking send), and a non-blocking receiver that plays
// the manager's side (demo and test kit).
// Every socket is SOCK_CLOEXEC and closed on every path; results are byte counts or -errno.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "args.h"
#include "sdnotify.h"
#include "unix.h"

namespace sdnotify {
namespace {

// A socket that closes itself, so no path can leak it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);  // never retried on EINTR: Linux has already released the fd
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int ConnectRetrying(int fd, const sockaddr_un& sa, int salen) {
  int r;
  do {
    r = connect(fd, reinterpret_cast<const sockaddr*>(&sa), static_cast<socklen_t>(salen));
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}

// The probe socket, made once per process and kept (re-connecting it costs one syscall, a fresh
// socket per message cost as much as libsystemd's whole send). It never reaches JS. Its inode is
// remembered, so if someone else closed our fd number (and it was reused) we make a new one
// instead of connecting a socket that is not ours.
struct Probe {
  std::mutex mutex;
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
} probe;

bool ProbeIsOurs() {
  struct stat st;
  return probe.fd >= 0 && fstat(probe.fd, &st) == 0 && st.st_dev == probe.dev &&
         st.st_ino == probe.ino;
}

}  // namespace

int MakeAddress(const std::string& sun_path, sockaddr_un* sa) {
  std::memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (sun_path.empty()) return -EINVAL;
  bool abstract = sun_path[0] == '\0';
  size_t room = sizeof(sa->sun_path) - (abstract ? 0 : 1);
  if (sun_path.size() > room) return -ENAMETOOLONG;
  std::memcpy(sa->sun_path, sun_path.data(), sun_path.size());
  return static_cast<int>(offsetof(sockaddr_un, sun_path) + sun_path.size() + (abstract ? 0 : 1));
}

// A connected AF_UNIX datagram socket polls POLLOUT only while its peer's receive queue has room,
// so this answers without sending. connect() runs every time, so a socket re-bound at the same
// path is the one asked.
int ProbeQueue(const std::string& sun_path) {
  sockaddr_un sa;
  int salen = MakeAddress(sun_path, &sa);
  if (salen < 0) return salen;
  std::lock_guard<std::mutex> lock(probe.mutex);
  if (!ProbeIsOurs()) {
    probe.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe.fd < 0) return -errno;
    struct stat st;
    if (fstat(probe.fd, &st) < 0) {
      int e = errno;
      close(probe.fd);
      probe.fd = -1;
      return -e;
    }
    probe.dev = st.st_dev;
    probe.ino = st.st_ino;
  }
  int r = ConnectRetrying(probe.fd, sa, salen);
  if (r < 0) return r;
  pollfd p{probe.fd, POLLOUT, 0};
  do {
    r = poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  return (p.revents & POLLOUT) != 0 ? 1 : 0;
}

// sendUnix(address: Buffer, data: Buffer, fds: Int32Array | null, cred: Uint32Array | null)
//   -> bytes sent, or -errno. cred is [pid, uid, gid] for SCM_CREDENTIALS; null sends none.
Napi::Value SendUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string address, data;
  std::vector<int> fds;
  bool with_cred = false;
  uint32_t cred[3] = {0, 0, 0};
  if (!CheckArity(info, 4, "sendUnix") || !GetBytes(info, 0, "address", &address) ||
      !GetBytes(info, 1, "data", &data) || !GetFds(info, 2, "fds", &fds) ||
      !GetCred(info, 3, "cred", &with_cred, cred)) {
    return env.Undefined();
  }
  if (fds.size() > kMaxFds) return Napi::Number::New(env, -EINVAL);

  sockaddr_un sa;
  int salen = MakeAddress(address, &sa);
  if (salen < 0) return Napi::Number::New(env, salen);

  Fd sock(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return Napi::Number::New(env, -errno);

  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_name = &sa;
  msg.msg_namelen = static_cast<socklen_t>(salen);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;

  // Control data: SCM_RIGHTS first, then SCM_CREDENTIALS, like libsystemd. Zeroed: the kernel
  // reads the padding too.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds) + CMSG_SPACE(sizeof(ucred))];
  std::memset(control, 0, sizeof(control));
  size_t space = (fds.empty() ? 0 : CMSG_SPACE(sizeof(int) * fds.size())) +
                 (with_cred ? CMSG_SPACE(sizeof(ucred)) : 0);
  if (space > 0) {
    msg.msg_control = control;
    msg.msg_controllen = space;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!fds.empty()) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
      c = CMSG_NXTHDR(&msg, c);
    }
    if (with_cred) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_CREDENTIALS;
      c->cmsg_len = CMSG_LEN(sizeof(ucred));
      ucred uc{static_cast<pid_t>(cred[0]), static_cast<uid_t>(cred[1]),
               static_cast<gid_t>(cred[2])};
      std::memcpy(CMSG_DATA(c), &uc, sizeof(uc));
    }
  }

  ssize_t n;
  do {
    n = sendmsg(sock.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// probeUnix(address: Buffer) -> 1 if a datagram can be queued there now, 0 if the receiver's
// queue is full, or -errno. The libsystemd backend's guard, exported for tests and the bench.
Napi::Value ProbeUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string address;
  if (!CheckArity(info, 1, "probeUnix") || !GetBytes(info, 0, "address", &address)) {
    return env.Undefined();
  }
  return Napi::Number::New(env, ProbeQueue(address));
}

// bindUnix(address: Buffer) -> fd of a non-blocking, close-on-exec AF_UNIX datagram socket bound
// there with SO_PASSCRED (so every message carries its sender's credentials), or -errno.
Napi::Value BindUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string address;
  if (!CheckArity(info, 1, "bindUnix") || !GetBytes(info, 0, "address", &address)) {
    return env.Undefined();
  }
  sockaddr_un sa;
  int salen = MakeAddress(address, &sa);
  if (salen < 0) return Napi::Number::New(env, salen);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&sa), static_cast<socklen_t>(salen)) < 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  return Napi::Number::New(env, fd);
}

// recvUnix(fd: number) -> { data, pid, uid, gid, fds, truncated } for one queued message, null
// when none is queued, or -errno. Received fds are close-on-exec and belong to the caller.
Napi::Value RecvUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!CheckArity(info, 1, "recvUnix") || !GetInt(info, 0, "fd", 0, 0x7fffffff, &fd)) {
    return env.Undefined();
  }
  char data[4097];  // one more than the manager reads, so longer messages show as truncated
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds) + CMSG_SPACE(sizeof(ucred))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(static_cast<int>(fd), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return Napi::Number::New(env, -errno);
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Array fds = Napi::Array::New(env);
  out.Set("pid", env.Null());
  out.Set("uid", env.Null());
  out.Set("gid", env.Null());
  uint32_t nfds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; k++) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        fds.Set(nfds++, Napi::Number::New(env, received));
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS) {
      ucred uc;
      std::memcpy(&uc, CMSG_DATA(c), sizeof(uc));
      out.Set("pid", Napi::Number::New(env, uc.pid));
      out.Set("uid", Napi::Number::New(env, uc.uid));
      out.Set("gid", Napi::Number::New(env, uc.gid));
    }
  }
  size_t len =
      static_cast<size_t>(n) < sizeof(data) - 1 ? static_cast<size_t>(n) : sizeof(data) - 1;
  out.Set("data", Napi::Buffer<char>::Copy(env, data, len));
  out.Set("fds", fds);
  out.Set("truncated", static_cast<size_t>(n) > len || (msg.msg_flags & MSG_TRUNC) != 0 ||
                           (msg.msg_flags & MSG_CTRUNC) != 0);
  return out;
}

}  // namespace sdnotify

namespace sdnotify {

// listenUnix(address: Buffer, backlog: number) -> fd of a close-on-exec AF_UNIX stream socket
// bound and listening there, or -errno. Bound here rather than by libuv, which unlinks the path
// of a socket it bound when the server closes: a stored listener must keep its path.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string address;
  int64_t backlog = 0;
  if (!CheckArity(info, 2, "listenUnix") || !GetBytes(info, 0, "address", &address) ||
      !GetInt(info, 1, "backlog", 0, 0x7fffffff, &backlog)) {
    return env.Undefined();
  }
  sockaddr_un sa;
  int salen = MakeAddress(address, &sa);
  if (salen < 0) return Napi::Number::New(env, salen);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), static_cast<socklen_t>(salen)) < 0 ||
      listen(fd, static_cast<int>(backlog)) < 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  return Napi::Number::New(env, fd);
}

}  // namespace sdnotify
