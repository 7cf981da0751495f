// libsystemd through dlopen: no link-time dependency and no -dev package. A missing library or
// symbol is reported as data (libsystemdInfo) and makes the call return -ENOSYS, never a crash.
// libsystemd's barrier functions are deliberately absent: they block the caller in poll().
//
// libsystemd's socket is blocking: with the receiver's queue full, its sendmsg() would hang the
// event loop. Each call therefore takes the AF_UNIX address it will send to (or null) and first
// asks the probe (unix.h) whether the queue has room, in the same native call to keep the window
// between the two small: full gives -EAGAIN, and a probe that cannot connect returns its errno
// (the same one libsystemd's send would fail with) rather than letting an unguarded send through.
#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "args.h"
#include "sdnotify.h"
#include "unix.h"

namespace sdnotify {
namespace {

using SdNotifyFn = int (*)(int, const char*);
using SdPidNotifyFn = int (*)(pid_t, int, const char*);
using SdPidNotifyWithFdsFn = int (*)(pid_t, int, const char*, const int*, unsigned);

struct Libsystemd {
  void* handle = nullptr;
  std::string error;  // dlerror() text when the library did not load
  SdNotifyFn sd_notify = nullptr;
  SdPidNotifyFn sd_pid_notify = nullptr;
  SdPidNotifyWithFdsFn sd_pid_notify_with_fds = nullptr;
};

// Loaded once per process (worker threads share it); the handle is never closed.
const Libsystemd& Lib() {
  static Libsystemd lib;
  static std::once_flag once;
  std::call_once(once, [] {
    lib.handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib.handle == nullptr) {
      const char* e = dlerror();
      lib.error = e != nullptr ? e : "dlopen(libsystemd.so.0) failed";
      return;
    }
    lib.sd_notify = reinterpret_cast<SdNotifyFn>(dlsym(lib.handle, "sd_notify"));
    lib.sd_pid_notify = reinterpret_cast<SdPidNotifyFn>(dlsym(lib.handle, "sd_pid_notify"));
    lib.sd_pid_notify_with_fds =
        reinterpret_cast<SdPidNotifyWithFdsFn>(dlsym(lib.handle, "sd_pid_notify_with_fds"));
  });
  return lib;
}

// pid_t is int: any value is C's to pass; the kernel judges it (as credentials).
constexpr int64_t kPidMin = -0x80000000LL;
constexpr int64_t kPidMax = 0x7fffffff;

// The guard: 1 go ahead, else what the call should return. probe is null (nothing to guard,
// e.g. vsock) or the AF_UNIX sun_path bytes.
bool GetProbe(const Napi::CallbackInfo& info, size_t i, bool* present, std::string* sun_path) {
  *present = !(info[i].IsNull() || info[i].IsUndefined());
  return !*present || GetBytes(info, i, "probe", sun_path);
}

int Guard(bool present, const std::string& sun_path) {
  if (!present) return 1;
  int r = ProbeQueue(sun_path);
  return r == 0 ? -EAGAIN : r;
}

}  // namespace

// libsystemdInfo() -> { loaded, error, path, symbols: { sd_notify: bool, ... } }
Napi::Value LibsystemdInfo(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, "libsystemdInfo")) return info.Env().Undefined();
  const Libsystemd& lib = Lib();
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("loaded", lib.handle != nullptr);
  out.Set("error", lib.handle != nullptr ? env.Null() : Napi::String::New(env, lib.error));
  Napi::Value path = env.Null();
  if (lib.sd_notify != nullptr) {
    Dl_info dl{};
    if (dladdr(reinterpret_cast<void*>(lib.sd_notify), &dl) != 0 && dl.dli_fname != nullptr) {
      path = Napi::String::New(env, dl.dli_fname);
    }
  }
  out.Set("path", path);
  Napi::Object symbols = Napi::Object::New(env);
  symbols.Set("sd_notify", lib.sd_notify != nullptr);
  symbols.Set("sd_pid_notify", lib.sd_pid_notify != nullptr);
  symbols.Set("sd_pid_notify_with_fds", lib.sd_pid_notify_with_fds != nullptr);
  out.Set("symbols", symbols);
  return out;
}

// sdNotify(unset: boolean, state: Buffer, probe: Buffer | null) -> int
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool unset = false, guarded = false;
  std::string state, probe_path;
  if (!CheckArity(info, 3, "sdNotify") || !GetBool(info, 0, "unset", &unset) ||
      !GetCString(info, 1, "state", &state) || !GetProbe(info, 2, &guarded, &probe_path)) {
    return env.Undefined();
  }
  const Libsystemd& lib = Lib();
  if (lib.sd_notify == nullptr) return Napi::Number::New(env, -ENOSYS);
  int go = Guard(guarded, probe_path);
  if (go != 1) return Napi::Number::New(env, go);
  return Napi::Number::New(env, lib.sd_notify(unset ? 1 : 0, state.c_str()));
}

// sdPidNotify(pid: number, unset: boolean, state: Buffer, probe: Buffer | null) -> int
Napi::Value SdPidNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid = 0;
  bool unset = false, guarded = false;
  std::string state, probe_path;
  if (!CheckArity(info, 4, "sdPidNotify") || !GetInt(info, 0, "pid", kPidMin, kPidMax, &pid) ||
      !GetBool(info, 1, "unset", &unset) || !GetCString(info, 2, "state", &state) ||
      !GetProbe(info, 3, &guarded, &probe_path)) {
    return env.Undefined();
  }
  const Libsystemd& lib = Lib();
  if (lib.sd_pid_notify == nullptr) return Napi::Number::New(env, -ENOSYS);
  int go = Guard(guarded, probe_path);
  if (go != 1) return Napi::Number::New(env, go);
  return Napi::Number::New(
      env, lib.sd_pid_notify(static_cast<pid_t>(pid), unset ? 1 : 0, state.c_str()));
}

// sdPidNotifyWithFds(pid: number, unset: boolean, state: Buffer, fds: Int32Array | null,
//                    probe: Buffer | null) -> int
Napi::Value SdPidNotifyWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid = 0;
  bool unset = false, guarded = false;
  std::string state, probe_path;
  std::vector<int> fds;
  if (!CheckArity(info, 5, "sdPidNotifyWithFds") ||
      !GetInt(info, 0, "pid", kPidMin, kPidMax, &pid) || !GetBool(info, 1, "unset", &unset) ||
      !GetCString(info, 2, "state", &state) || !GetFds(info, 3, "fds", &fds) ||
      !GetProbe(info, 4, &guarded, &probe_path)) {
    return env.Undefined();
  }
  // libsystemd puts the control buffer on the stack with alloca() and aborts the process past its
  // limit; the kernel would refuse more than SCM_MAX_FD anyway.
  if (fds.size() > kMaxFds) return Napi::Number::New(env, -EINVAL);
  const Libsystemd& lib = Lib();
  if (lib.sd_pid_notify_with_fds == nullptr) return Napi::Number::New(env, -ENOSYS);
  int go = Guard(guarded, probe_path);
  if (go != 1) return Napi::Number::New(env, go);
  return Napi::Number::New(
      env, lib.sd_pid_notify_with_fds(static_cast<pid_t>(pid), unset ? 1 : 0, state.c_str(),
                                      fds.empty() ? nullptr : fds.data(),
                                      static_cast<unsigned>(fds.size())));
}

// getenv(name: string) -> string | undefined: the C environment libsystemd reads, which a worker
// thread's process.env (a copy) may not match.
Napi::Value GetEnv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 1, "getenv")) return env.Undefined();
  if (!info[0].IsString()) {
    Fail(info, "name must be a string");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.find('\0') != std::string::npos) {
    Fail(info, "name must not contain a NUL byte");
    return env.Undefined();
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return env.Undefined();
  return Napi::String::New(env, value);
}

}  // namespace sdnotify
