# SPDX-License-Identifier: BSD-3-Clause
"""A minimal vfio-user server for harness tests: it answers VERSION and
the migration GETs, and exits with status 42 when it receives the command
named by --crash-on (to prove vucert charges a death to the right case).
With --leak-on CMD, once it has received CMD it ends SIGTERM as a
LeakSanitizer-built server with a leak does: the report on stderr, exit
status 23."""
import argparse
import os
import signal
import socket
import struct
import sys

VERSION, DEVICE_RESET, DEVICE_FEATURE = 1, 13, 16
CMDS = {"VERSION": 1, "DEVICE_RESET": 13, "DEVICE_FEATURE": 16}
HDR = struct.Struct("<HHIII")


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def reply(conn, mid, cmd, payload=b"", error=None):
    flags = 1 | (0x20 if error is not None else 0)
    conn.sendall(HDR.pack(mid, cmd, 16 + len(payload), flags, error or 0) +
                 payload)


LEAKED = []


def on_term(_sig, _frame):
    if LEAKED:
        print("=================================================================\n"
              "==4242==ERROR: LeakSanitizer: detected memory leaks\n\n"
              "Direct leak of 64 byte(s) in 1 object(s) allocated from:\n"
              "    #0 0x4c1a2d in malloc\n"
              "    #1 0x51f3b0 in handle_reset fake_server.c:42\n\n"
              "SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 "
              "allocation(s).", file=sys.stderr, flush=True)
        os._exit(23)
    os._exit(0)


def serve(conn, crash_on, testify_on, leak_on=-1):
    while True:
        hdr = recv_exact(conn, 16)
        if hdr is None:
            return
        mid, cmd, size, _, _ = HDR.unpack(hdr)
        payload = recv_exact(conn, size - 16) if size > 16 else b""
        if payload is None:
            return
        if cmd == leak_on:
            LEAKED.append(cmd)
        if cmd == testify_on:
            # what a sanitizer prints when it finds a bug but is told to
            # go on (halt_on_error=0)
            print("==4242==ERROR: AddressSanitizer: heap-buffer-overflow on "
                  "address 0x602000000011", file=sys.stderr, flush=True)
        if cmd == crash_on:
            print(f"fake_server: crashing on command {cmd}", file=sys.stderr,
                  flush=True)
            os._exit(42)
        if cmd == VERSION:
            minor = struct.unpack_from("<H", payload, 2)[0]
            reply(conn, mid, cmd, struct.pack("<HH", 0, min(minor, 1)))
        elif cmd == DEVICE_RESET:
            reply(conn, mid, cmd)
        elif cmd == DEVICE_FEATURE and len(payload) >= 8:
            argsz, flags = struct.unpack_from("<II", payload)
            index = flags & 0xffff
            if flags & (1 << 16) and index == 1:
                reply(conn, mid, cmd, struct.pack("<IIQ", 16, flags, 1))
            elif flags & (1 << 16) and index == 2:
                reply(conn, mid, cmd, struct.pack("<IIIi", 16, flags, 2, -1))
            else:
                reply(conn, mid, cmd, error=22)
        else:
            reply(conn, mid, cmd, error=95)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--crash-on", default="")
    ap.add_argument("--testify-on", default="")
    ap.add_argument("--exit-on-disconnect", action="store_true")
    ap.add_argument("--leak-on", default="")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    crash_on = CMDS.get(a.crash_on, -1)
    testify_on = CMDS.get(a.testify_on, -1)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        with conn:
            serve(conn, crash_on, testify_on, CMDS.get(a.leak_on, -1))
        if a.exit_on_disconnect:
            os.unlink(a.socket)
            sys.exit(0)


if __name__ == "__main__":
    main()
