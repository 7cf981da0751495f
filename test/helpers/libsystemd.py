#!/usr/bin/env python3
"""Sends through the host's real libsystemd (ctypes on libsystemd.so.0), for parity tests.

stdin:  one JSON array of cases {"notifySocket": str | null, "pid": int | "self", "unset": bool,
        "state": <base64>, "fds": [fd numbers in this process]}; a case with
        "barrierTimeoutUsec": "<decimal u64>" calls sd_notify_barrier(unset, timeout) instead
        (which blocks here in poll() until the peer closes the fd it received, or the time is up)
stdout: one JSON array of results {"rc": int, "senderPid": int, "envAfter": str | null,
        "elapsedMs": float}
"""

import base64
import ctypes
import json
import os
import sys
import time


def main():
    lib = ctypes.CDLL("libsystemd.so.0", use_errno=True)
    fn = lib.sd_pid_notify_with_fds
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_uint]
    fn.restype = ctypes.c_int
    barrier = lib.sd_notify_barrier
    barrier.argtypes = [ctypes.c_int, ctypes.c_uint64]
    barrier.restype = ctypes.c_int
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_char_p
    libc.getenv.argtypes = [ctypes.c_char_p]

    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        sock = case.get("notifySocket")
        if sock is None:
            os.environ.pop("NOTIFY_SOCKET", None)
        else:
            os.environ["NOTIFY_SOCKET"] = sock
        pid = os.getpid() if case.get("pid") == "self" else int(case.get("pid", 0))
        state = base64.b64decode(case["state"])
        fds = case.get("fds", [])
        arr = (ctypes.c_int * max(len(fds), 1))(*fds)
        unset = 1 if case.get("unset") else 0
        t0 = time.monotonic()
        if "barrierTimeoutUsec" in case:
            rc = barrier(unset, int(case["barrierTimeoutUsec"]))
        else:
            rc = fn(pid, unset, state, arr if fds else None, len(fds))
        elapsed_ms = (time.monotonic() - t0) * 1000
        after = libc.getenv(b"NOTIFY_SOCKET")
        # Keep python's view in step with the C environment libsystemd may have changed.
        if after is None:
            os.environ.pop("NOTIFY_SOCKET", None)
        results.append({
            "rc": rc,
            "senderPid": os.getpid(),
            "envAfter": after.decode("utf-8", "surrogateescape") if after is not None else None,
            "elapsedMs": elapsed_ms,
        })
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
