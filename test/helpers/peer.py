#!/usr/bin/env python3
"""A notify-socket receiver that is not our code: the real peer for sdnotify's tests.

Binds an AF_UNIX socket (a path or an abstract name) and, for a datagram socket, prints one JSON
line per message with the bytes, the sender's credentials (SO_PASSCRED) and the identity of every
file descriptor that came with it. Stream and seqpacket sockets are bound and listening but never
accepted: they exist to provoke EPROTOTYPE in a datagram sender.

  stdout: {"ready": true, "address": "/tmp/x" | "@name", "type": ..., "rcvbuf": N}
          {"data": <base64>, "pid": .., "uid": .., "gid": .., "fds": [{"dev", "ino", "mode"}],
           "truncated": bool, "ctruncated": bool}
  stdin:  "resume" starts reading after --paused; EOF ends the peer (as does SIGTERM).
"""

import argparse
import array
import base64
import json
import os
import select
import signal
import socket
import struct
import sys

SCM_MAX_FD = 253  # the kernel's limit of fds in one message
MAX_DATAGRAM = 256 * 1024


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--path")
    where.add_argument("--abstract")
    ap.add_argument("--type", choices=["dgram", "stream", "seqpacket"], default="dgram")
    ap.add_argument("--paused", action="store_true")
    ap.add_argument("--rcvbuf", type=int)
    args = ap.parse_args()

    kind = {
        "dgram": socket.SOCK_DGRAM,
        "stream": socket.SOCK_STREAM,
        "seqpacket": socket.SOCK_SEQPACKET,
    }[args.type]
    sock = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)

    path = None
    if args.path is not None:
        path = args.path
        bind_addr = path
        address = path
    else:
        bind_addr = "\0" + args.abstract
        address = "@" + args.abstract

    def cleanup_and_exit(*_):
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, cleanup_and_exit)
    signal.signal(signal.SIGINT, cleanup_and_exit)

    if args.rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    if kind == socket.SOCK_DGRAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(bind_addr)
    if kind != socket.SOCK_DGRAM:
        sock.listen(1)

    emit({
        "ready": True,
        "address": address,
        "type": args.type,
        "pid": os.getpid(),
        "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
    })

    ancillary = socket.CMSG_SPACE(SCM_MAX_FD * 4) + socket.CMSG_SPACE(struct.calcsize("3i"))
    reading = kind == socket.SOCK_DGRAM and not args.paused
    stdin_fd = sys.stdin.fileno()
    stdin_buf = b""

    while True:
        watch = [stdin_fd] + ([sock] if reading else [])
        ready, _, _ = select.select(watch, [], [])
        if stdin_fd in ready:
            chunk = os.read(stdin_fd, 4096)
            if not chunk:
                cleanup_and_exit()
            stdin_buf += chunk
            while b"\n" in stdin_buf:
                line, stdin_buf = stdin_buf.split(b"\n", 1)
                if line.strip() == b"resume" and kind == socket.SOCK_DGRAM:
                    reading = True
        if reading and sock in ready:
            receive_one(sock, ancillary)


def receive_one(sock, ancillary):
    try:
        data, cmsgs, flags, _ = sock.recvmsg(MAX_DATAGRAM, ancillary, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return
    pid = uid = gid = None
    fds = []
    for level, ctype, cdata in cmsgs:
        if level == socket.SOL_SOCKET and ctype == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack("3i", cdata[: struct.calcsize("3i")])
        elif level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
            got = array.array("i")
            got.frombytes(cdata[: len(cdata) - (len(cdata) % got.itemsize)])
            for fd in got:
                try:
                    st = os.fstat(fd)
                    fds.append({"dev": st.st_dev, "ino": st.st_ino, "mode": st.st_mode})
                finally:
                    os.close(fd)
    emit({
        "data": base64.b64encode(data).decode("ascii"),
        "pid": pid,
        "uid": uid,
        "gid": gid,
        "fds": fds,
        "truncated": bool(flags & socket.MSG_TRUNC),
        "ctruncated": bool(flags & socket.MSG_CTRUNC),
    })


if __name__ == "__main__":
    main()
