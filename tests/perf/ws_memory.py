#!/usr/bin/env python3
"""Memory per idle WebSocket in the web server (target: < 10 KiB each).

Starts web_ws_memory_server in a private loopback-only network namespace,
opens N WebSockets with subprotocol "sip" (each sends one message and reads
the echo, then stays idle), and reports the server's Pss growth from
/proc/PID/smaps_rollup divided by N. Client sockets live in this process, so
they do not count.

    unshare --net ... (done by the script itself when not yet in a namespace)
    tests/perf/ws_memory.py BUILD_DIR [--count N] [--tls]
"""
import argparse
import base64
import os
import resource
import socket
import signal
import ssl
import subprocess
import sys
import tempfile
import time


def in_private_netns():
    return os.environ.get("TANDEM_NETNS") == "1"


def reexec_in_netns():
    env = dict(os.environ, TANDEM_NETNS="1")
    cmd = ["unshare", "--net", "--fork", "--kill-child", "--", "bash", "-c",
           'ip link set lo up && exec "$@"', "ws-memory", sys.executable] + sys.argv
    sys.exit(subprocess.call(cmd, env=env))


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss line")


def open_ws(port, context):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    # As browsers do; otherwise Nagle holds the request behind a delayed ACK.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if context:
        s = context.wrap_socket(s, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed during handshake")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(response.decode(errors="replace"))
    # One masked text frame "OPTIONS", then read the echo (unmasked, 2-byte header).
    payload = b"OPTIONS sip:x SIP/2.0\r\n\r\n"
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    echo = b""
    while len(echo) < 2 + len(payload):
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed before echo")
        echo += chunk
    return s


def malloc_in_use(server):
    server.send_signal(signal.SIGUSR1)
    line = server.stdout.readline().split()
    return int(line[1]) if line and line[0] == "malloc-in-use" else -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--settle", type=float, default=2.0)
    args = parser.parse_args()
    if not in_private_netns():
        reexec_in_netns()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server_bin = os.path.join(args.build_dir, "tests", "web_ws_memory_server")
    tmp = tempfile.mkdtemp()
    cmd = [server_bin, "0"]
    context = None
    if args.tls:
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        subprocess.check_call(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-keyout", key, "-out", cert], stderr=subprocess.DEVNULL)
        cmd += [cert, key]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("server did not start")
        port = int(line[1])
        # Warm up allocator arenas and lazily created state with a few connections.
        warm = [open_ws(port, context) for _ in range(50)]
        for s in warm:
            s.close()
        time.sleep(args.settle)
        before = pss_kib(server.pid)
        heap_before = malloc_in_use(server)
        sockets = []
        start = time.time()
        for _ in range(args.count):
            sockets.append(open_ws(port, context))
        opened = time.time() - start
        time.sleep(args.settle)
        after = pss_kib(server.pid)
        heap_after = malloc_in_use(server)
        per = (after - before) * 1024 / args.count
        print(f"{'wss' if args.tls else 'ws'}: {args.count} idle WebSockets (opened in "
              f"{opened:.1f} s): server Pss {before} KiB -> {after} KiB, "
              f"{per:.0f} bytes = {per / 1024:.2f} KiB per connection "
              f"(malloc'd and live: {(heap_after - heap_before) / args.count:.0f} bytes)")
        for s in sockets:
            s.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
