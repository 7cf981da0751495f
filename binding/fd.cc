// File-descriptor syscalls Node lacks. The barrier's pipe: both ends close-on-exec, so a child
// forked while a barrier is pending cannot hold the write end open and make the barrier hang.
#include <fcntl.h>
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
