#!/usr/bin/env python3
"""SIP-over-WebSocket benchmark: Tandem against Kamailio's websocket module.

For each server in turn (fresh start, same users, same machine, same load
client), bench/ws/ws_load:
  1. opens N WebSocket connections (subprotocol sip) and registers a user on
     each with MD5 digest (REGISTER, 401, REGISTER, 200), at most WINDOW in
     flight: new connections + REGISTERs per second;
  2. holds them (CRLF keep-alives): the server's PSS growth per connection,
     from /proc/PID/smaps_rollup of all its processes, against its PSS before;
  3. re-registers on the open connections for a fixed time (nonce reused with
     the next nonce-count, WINDOW in flight): re-REGISTERs per second.
The server's own CPU seconds (utime+stime of all its processes) per 1,000
operations are reported next to the rates: the load client shares the 2
cores. Runs inside a private loopback-only network namespace (re-execs itself).

    python3 bench/ws_bench.py [--connections 19000] [--rounds 1] [--servers tandem,kamailio]

Needs: kamailio + kamailio-websocket-modules, a release build (the script
builds bench/ws/ws_load with -DTANDEM_BUILD_WS_LOAD=ON). Results go to
stdout as JSON and a Markdown table; --write puts the table in docs/benchmarks.md.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sip_bench as sb  # noqa: E402  (the shared server and /proc helpers)

REPO = sb.REPO
WS_PORT = 8080
KAMAILIO_WS_CFG = sb.BENCH / "kamailio" / "kamailio-ws.cfg"
NETNS_ENV = "WS_BENCH_IN_NETNS"


class KamailioWs(sb.Kamailio):
    def command(self, run_dir: Path) -> list[str]:
        return [self.binary, "-f", str(KAMAILIO_WS_CFG), "-DD", "-E",
                "-x", "tlsf", "-m", "2048", "-n", str(self.children),
                "-P", str(run_dir / "kamailio.pid"), "-w", str(run_dir),
                "-A", f"BENCH_LISTEN=tcp:{self.addr}:{WS_PORT}",
                "-A", f"BENCH_UDP_LISTEN=udp:{self.addr}:{sb.SIP_PORT}",
                "-A", f'BENCH_DBURL="text://{self.work / "db"}"',
                "-A", f'BENCH_DOMAIN="{sb.DOMAIN}"']


class TandemWs(sb.Tandem):
    def command(self, run_dir: Path) -> list[str]:
        return [self.binary, "serve", "--domain", sb.DOMAIN,
                "--sip-listen", f"udp:{self.addr}:{sb.SIP_PORT}",
                "--http-listen", f"{self.addr}:{WS_PORT}",
                "--data-dir", str(run_dir / "data"), "--log-level", "warn"]


def build_load_client() -> Path:
    build = REPO / "build" / "release"
    subprocess.run(["cmake", "--preset", "release", "-DTANDEM_BUILD_WS_LOAD=ON"], cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", "--preset", "release", "--target", "ws_load", "tandem"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return build / "bench" / "ws" / "ws_load"


def measure(server, client: Path, connections: int, window: int, rereg_seconds: float) -> dict:
    server.start()
    time.sleep(1.0)
    base = sb.memory_kb(server.pids())["pss_kb"]
    cmd = [str(client), "--host", server.addr, "--port", str(WS_PORT), "--domain", sb.DOMAIN,
           "--users", str(connections), "--window", str(window), "--hold-seconds", "8",
           "--reregister-seconds", str(rereg_seconds), "--phase-limit", "240"]
    sb.log(f"{server.name}: {' '.join(cmd)}")
    out: dict = {"server": server.name, "pss_base_kb": base}
    cpu0 = sb.cpu_seconds(server.pids())
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240 + 8 + rereg_seconds + 60
    try:
        for line in proc.stdout:
            phase = json.loads(line)
            name = phase["phase"]
            cpu = sb.cpu_seconds(server.pids())
            if name == "connect":
                out["connect"] = phase
                out["connect_cpu_s"] = cpu - cpu0
            elif name == "holding":
                time.sleep(5)  # let the last allocations settle
                mem = sb.memory_kb(server.pids())
                out["pss_held_kb"] = mem["pss_kb"]
                out["rss_held_kb"] = mem["rss_kb"]
                out["held"] = phase["open"]
            elif name == "hold":
                cpu_before_rereg = cpu
            elif name == "reregister":
                out["reregister"] = phase
                out["reregister_cpu_s"] = cpu - cpu_before_rereg
            if time.monotonic() > deadline:
                break
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read()
        if err.strip():
            sb.log(f"{server.name}: ws_load says: {err.strip()[:500]}")
        server.stop()
    held = max(out.get("held", 0), 1)
    out["pss_per_connection_kib"] = (out.get("pss_held_kb", base) - base) / held
    c, r = out.get("connect", {}), out.get("reregister", {})
    out["connect_rate"] = c.get("rate", 0)
    out["reregister_rate"] = r.get("rate", 0)
    # Server CPU milliseconds per operation.
    out["connect_cpu_ms"] = 1000 * out.get("connect_cpu_s", 0) / max(c.get("done", 0), 1)
    out["reregister_cpu_ms"] = 1000 * out.get("reregister_cpu_s", 0) / max(r.get("done", 0), 1)
    sb.log(f"{server.name}: {json.dumps(out)}")
    return out


def table(results: dict) -> str:
    rows = [
        ("connections held", lambda r: f"{r.get('held', 0):,}"),
        ("failed connect+REGISTERs", lambda r: f"{r['connect'].get('failed', 0)}"),
        ("new connections + REGISTERs per second", lambda r: f"{r['connect_rate']:,.0f}"),
        ("server CPU per connect+REGISTER (ms)", lambda r: f"{r['connect_cpu_ms']:.3f}"),
        ("re-REGISTERs per second on open connections", lambda r: f"{r['reregister_rate']:,.0f}"),
        ("server CPU per re-REGISTER (ms)", lambda r: f"{r['reregister_cpu_ms']:.3f}"),
        ("server PSS per held connection (KiB)", lambda r: f"{r['pss_per_connection_kib']:.1f}"),
        ("server PSS with all held (MB)", lambda r: f"{r.get('pss_held_kb', 0) / 1024:.0f}"),
    ]
    names = [n for n in ("tandem", "kamailio") if n in results]
    out = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    for label, f in rows:
        out += f"| {label} | " + " | ".join(f(results[n]) for n in names) + " |\n"
    return out


def section(results: dict, opts, versions: list[str]) -> str:
    t, k = results.get("tandem"), results.get("kamailio")
    ratios = ""
    if t and k:
        def ratio(a, b):
            return a / b if b else float("nan")
        ratios = (
            "\nTandem / Kamailio in this run: new connections + REGISTERs per second "
            f"**{ratio(t['connect_rate'], k['connect_rate']):.2f}×** (server CPU per operation "
            f"{ratio(k['connect_cpu_ms'], t['connect_cpu_ms']):.2f}× less); re-REGISTERs per "
            f"second **{ratio(t['reregister_rate'], k['reregister_rate']):.2f}×** (server CPU "
            f"per operation {ratio(k['reregister_cpu_ms'], t['reregister_cpu_ms']):.2f}× less); "
            f"memory per held connection **{t['pss_per_connection_kib']:.1f} KiB** against "
            f"{k['pss_per_connection_kib']:.1f} KiB.\n")
    return f"""{sb.WS_SECTION_BEGIN}
## SIP over WebSocket: Tandem and Kamailio's websocket module

Generated by `bench/ws_bench.py` on {time.strftime('%Y-%m-%d %H:%M')} ({'; '.join(versions)}).
Reproduce: `python3 bench/ws_bench.py --connections {opts.connections} --write` (as root;
about 2 minutes).

{table(results)}{ratios}
How it was measured: `bench/ws/ws_load` (our own load client, one thread, Boost.Beast)
opens {opts.connections:,} WebSockets (subprotocol `sip`; the open-files hard limit here
is 20,000) with at most {opts.window} registrations in flight, each REGISTER, 401,
REGISTER with MD5 digest, 200; holds them 8 s with CRLF keep-alives (PSS read from
`/proc/PID/smaps_rollup` of all the server's processes, minus its PSS before the
first connection); then re-REGISTERs on the open connections for
{opts.reregister_seconds:.0f} s (the nonce reused with the next nonce-count) with
{opts.window} in flight. Each server gets a fresh start, the same users (Kamailio:
db_text loaded into an htable, `-x tlsf -m 2048 -n {opts.kamailio_children}`,
`bench/kamailio/kamailio-ws.cfg`; Tandem: release build, one thread) and the same
client; the network namespace's ephemeral port range is widened (1024-65000), or the
kernel's search for a free port in the client's connect() bounds both servers near
3,500 connections/s. The client shares the 2 cores with the server: Tandem runs one
thread and uses a whole core at its connection rate, Kamailio spreads over its
processes, so the server CPU per operation is the figure that carries over to a
bigger machine. Five runs on this machine moved the rate ratios by about ±0.1.
{sb.WS_SECTION_END}
"""


def write_section(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else ""
    start, end = old.find(sb.WS_SECTION_BEGIN), old.find(sb.WS_SECTION_END)
    if start != -1 and end != -1:
        new = old[:start] + text.strip() + old[end + len(sb.WS_SECTION_END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text.strip() + "\n"
    path.write_text(new)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=19000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--reregister-seconds", type=float, default=15)
    ap.add_argument("--servers", default="tandem,kamailio")
    ap.add_argument("--kamailio-children", type=int, default=2)
    ap.add_argument("--work", default="/tmp/ws-bench")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    opts = ap.parse_args()
    if os.environ.get(NETNS_ENV) != "1":
        if os.geteuid() != 0:
            sys.exit("ws_bench needs root: it runs in a private network namespace")
        env = dict(os.environ, **{NETNS_ENV: "1", sb.NETNS_ENV: "1"})
        os.execvpe("unshare", ["unshare", "--net", "--fork", "--kill-child", "--", sys.executable,
                               str(Path(__file__).resolve())] + sys.argv[1:], env)
    sb.ensure_netns([])  # brings lo up and checks the namespace (NETNS_ENV set above)
    # The client's ~19,000 connections all go to one address and port: with
    # the default ephemeral range (28,000 ports) the kernel's search for a
    # free port in connect() grows slow as it fills, and bounds the connection
    # rate for both servers. The range is per network namespace: widen ours.
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("1024 65000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = opts.connections + 200
    if hard < need:
        sb.log(f"open-files limit {hard} < {need}: holding at most {hard - 200} connections")
        opts.connections = hard - 200

    sb.N_USERS = opts.connections
    work = Path(opts.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    client = build_load_client()
    tandem_bin = str(REPO / "build" / "release" / "src" / "app" / "tandem")
    servers = {}
    for n in opts.servers.split(","):
        if n == "tandem":
            servers[n] = TandemWs(work, tandem_bin, 2)
        elif n == "kamailio":
            servers[n] = KamailioWs(work, opts.kamailio_children)
        else:
            sys.exit(f"unknown server {n}")
    for s in servers.values():
        s.prepare()
    results = {n: measure(s, client, opts.connections, opts.window, opts.reregister_seconds)
               for n, s in servers.items()}
    print(json.dumps(results, indent=1))
    print(table(results))
    versions = [s.version() for s in servers.values()]
    if opts.write:
        write_section(section(results, opts, versions), sb.DOCS_OUT)
        sb.log(f"wrote the WebSocket section of {sb.DOCS_OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
