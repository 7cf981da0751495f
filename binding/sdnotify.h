// The entry points each file registers; sdnotify.cc only wires them into the module.
#pragma once

#include <napi.h>

namespace sdnotify {

// libsystemd.cc
Napi::Value LibsystemdInfo(const Napi::CallbackInfo& info);
Napi::Value SdNotify(const Napi::CallbackInfo& info);
Napi::Value SdPidNotify(const Napi::CallbackInfo& info);
Napi::Value SdPidNotifyWithFds(const Napi::CallbackInfo& info);
Napi::Value GetEnv(const Napi::CallbackInfo& info);

// fd.cc
Napi::Value PipeCloexec(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);
Napi::Value HungUp(const Napi::CallbackInfo& info);
Napi::Value MemfdSealed(const Napi::CallbackInfo& info);
Napi::Value SetCloexec(const Napi::CallbackInfo& info);
Napi::Value FdInfo(const Napi::CallbackInfo& info);

// socket.cc
Napi::Value SendUnix(const Napi::CallbackInfo& info);
Napi::Value ProbeUnix(const Napi::CallbackInfo& info);
Napi::Value BindUnix(const Napi::CallbackInfo& info);
Napi::Value RecvUnix(const Napi::CallbackInfo& info);
Napi::Value ListenUnix(const Napi::CallbackInfo& info);

}  // namespace sdnotify
