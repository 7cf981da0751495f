// Module registration only. The binding returns numbers, buffers and -errno; all policy (which
// backend, what to send, which error to throw) lives in lib/.
#include "sdnotify.h"

namespace sdnotify {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("libsystemdInfo", Napi::Function::New(env, LibsystemdInfo, "libsystemdInfo"));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
  exports.Set("sdPidNotify", Napi::Function::New(env, SdPidNotify, "sdPidNotify"));
  exports.Set("sdPidNotifyWithFds",
              Napi::Function::New(env, SdPidNotifyWithFds, "sdPidNotifyWithFds"));
  exports.Set("getenv", Napi::Function::New(env, GetEnv, "getenv"));
  exports.Set("pipeCloexec", Napi::Function::New(env, PipeCloexec, "pipeCloexec"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("hungUp", Napi::Function::New(env, HungUp, "hungUp"));
  exports.Set("memfdSealed", Napi::Function::New(env, MemfdSealed, "memfdSealed"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("fdInfo", Napi::Function::New(env, FdInfo, "fdInfo"));
  exports.Set("sendUnix", Napi::Function::New(env, SendUnix, "sendUnix"));
  exports.Set("probeUnix", Napi::Function::New(env, ProbeUnix, "probeUnix"));
  exports.Set("bindUnix", Napi::Function::New(env, BindUnix, "bindUnix"));
  exports.Set("recvUnix", Napi::Function::New(env, RecvUnix, "recvUnix"));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix, "listenUnix"));
  return exports;
}

}  // namespace sdnotify

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return sdnotify::Init(env, exports);
}

NODE_API_MODULE(sdnotify, InitModule)
