// Argument checks shared by the entry points. Each returns false after throwing a TypeError that
// names the argument; the caller then returns undefined. JS never reaches a crash through here.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sdnotify {

inline bool Fail(const Napi::CallbackInfo& info, const std::string& message) {
  Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
  return false;
}

inline bool CheckArity(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() != n) {
    return Fail(info, std::string(fn) + " expects " + std::to_string(n) + " arguments, got " +
                          std::to_string(info.Length()));
  }
  return true;
}

// A whole number within [min, max].
inline bool GetInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min,
                   int64_t max, int64_t* out) {
  if (!info[i].IsNumber()) return Fail(info, std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) ||
      d != static_cast<double>(static_cast<int64_t>(d))) {
    return Fail(info, std::string(name) + " must be an integer from " + std::to_string(min) +
                          " to " + std::to_string(max));
  }
  *out = static_cast<int64_t>(d);
  return true;
}

inline bool GetBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool* out) {
  if (!info[i].IsBoolean()) return Fail(info, std::string(name) + " must be a boolean");
  *out = info[i].As<Napi::Boolean>().Value();
  return true;
}

// Bytes of a Buffer or Uint8Array, copied (the JS side may be detached or mutated later).
inline bool GetBytes(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Fail(info, std::string(name) + " must be a Buffer or Uint8Array");
  }
  auto a = info[i].As<Napi::Uint8Array>();
  out->assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
  return true;
}

// A C string: bytes without NUL (C could not pass one; libsystemd would silently truncate).
inline bool GetCString(const Napi::CallbackInfo& info, size_t i, const char* name,
                       std::string* out) {
  if (!GetBytes(info, i, name, out)) return false;
  if (out->find('\0') != std::string::npos) {
    return Fail(info, std::string(name) + " must not contain a NUL byte");
  }
  return true;
}

// SCM_MAX_FD: the most descriptors the kernel passes in one message.
constexpr size_t kMaxFds = 253;

// An Int32Array of file descriptors, or null/undefined for none. Values are not judged here: a
// negative or closed fd is the kernel's to refuse (EBADF), as it would be from C.
inline bool GetFds(const Napi::CallbackInfo& info, size_t i, const char* name,
                   std::vector<int>* out) {
  out->clear();
  if (info[i].IsNull() || info[i].IsUndefined()) return true;
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    return Fail(info, std::string(name) + " must be an Int32Array or null");
  }
  auto a = info[i].As<Napi::Int32Array>();
  out->assign(a.Data(), a.Data() + a.ElementLength());
  return true;
}

// Credentials for SCM_CREDENTIALS: a Uint32Array [pid, uid, gid] (the pid's bits as pid_t), or
// null/undefined for none. uid and gid are unsigned and may exceed 2^31.
inline bool GetCred(const Napi::CallbackInfo& info, size_t i, const char* name, bool* present,
                    uint32_t out[3]) {
  *present = false;
  if (info[i].IsNull() || info[i].IsUndefined()) return true;
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      info[i].As<Napi::Uint32Array>().ElementLength() != 3) {
    return Fail(info, std::string(name) + " must be a Uint32Array [pid, uid, gid] or null");
  }
  auto a = info[i].As<Napi::Uint32Array>();
  for (size_t k = 0; k < 3; k++) out[k] = a[k];
  *present = true;
  return true;
}

}  // namespace sdnotify
