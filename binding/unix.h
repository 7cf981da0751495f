// AF_UNIX helpers shared by socket.cc (the builtin backend's send) and libsystemd.cc (the guard
// in front of libsystemd's blocking send).
#pragma once

#include <sys/un.h>

#include <string>

namespace sdnotify {

// Fills a sockaddr_un from raw sun_path bytes: "/path" (a NUL is appended) or "\0abstract"
// (length without padding, as libsystemd does). Returns the address length, or -ENAMETOOLONG /
// -EINVAL: a path is never truncated.
int MakeAddress(const std::string& sun_path, sockaddr_un* sa);

// Whether a datagram to sun_path could be queued now: 1 yes, 0 the receiver's queue is full,
// -errno when nothing can be sent there (connect() failed: ENOENT, ECONNREFUSED, EPROTOTYPE...).
int ProbeQueue(const std::string& sun_path);

}  // namespace sdnotify
