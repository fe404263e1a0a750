#!/usr/bin/env python3
"""A/B of two Tandem binaries under the same load at the same time.

sip_bench.py measures one server at a time; between two of its steps the
machine's own speed drifts by 5-15 % (other guests, caches, frequency), more
than most single changes save. Here both binaries run at once, each with its
own sipp load at the same rate, and their CPU per operation is read over the
same seconds, so the drift hits both alike. Runs alternate which binary gets
which address. Two copies of one binary read 0.98-1.02 per run at the default
14 s (1.06 in an 8 s run): use several runs and their median.

Only for comparing Tandem with Tandem: a server sharing the machine with a
second one gets its datagrams in larger batches, which lowers Tandem's cost
per request (0.0211 -> 0.0190 ms per REGISTER at 8,000/s) and not Kamailio's,
so a pairing with Kamailio would flatter Tandem. The comparison with Kamailio
stays sip_bench.py's.

    python3 bench/ab_pair.py --a build/release/src/app/tandem --b /tmp/tandem.old \\
        [--kind reg|call] [--rate 8000] [--seconds 14] [--runs 4]

Prints each run's CPU ms per operation of A and B and A/B, then the mean and
median of A/B. Runs in its own loopback-only network namespace, like
sip_bench.py.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sip_bench as sb  # noqa: E402  (helpers: namespace, /proc, users, sipp)

# Per side: server address, caller, callee (UAS) and REGISTER load addresses.
SIDES = [
    {"addr": "127.0.0.3", "uac": "127.0.0.10", "uas": "127.0.0.11", "reg": "127.0.0.12"},
    {"addr": "127.0.0.4", "uac": "127.0.0.20", "uas": "127.0.0.21", "reg": "127.0.0.22"},
]


class Side(sb.Tandem):
    """A Tandem at a chosen address, with its web server off (two would clash)."""

    def __init__(self, work: Path, binary: str, label: str, addr: str):
        super().__init__(work / label, binary, parallel=4)
        self.addr = addr

    def command(self, run_dir: Path) -> list[str]:
        cmd = super().command(run_dir)
        cmd[cmd.index("--sip-listen") + 1] = f"udp:{self.addr}:{sb.SIP_PORT}"
        return cmd + ["--http-listen", "off"]


def sipp(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(["sipp"] + args + ["-nostdin", "-buff_size", str(sb.UDP_RCVBUF)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd)


def one_run(o, work: Path, binaries: list[str], run: int) -> tuple[float, float, int]:
    """Both servers at once; returns CPU ms per operation of binaries[0], [1]
    and the failed operations of both."""
    swap = run % 2 == 1
    order = [1, 0] if swap else [0, 1]
    servers, uas, loads = [], [], []
    try:
        for i, side in zip(order, SIDES):
            srv = Side(work / f"run{run}", binaries[i], "ab"[i], side["addr"])
            shutil.copytree(o.template, srv.template)
            servers.append((i, srv, side))
        for _, srv, _ in servers:
            srv.start()
        count = int(o.rate * o.seconds)
        common = ["-r", str(o.rate), "-m", str(count), "-timeout", f"{int(o.seconds + 20)}s",
                  "-recv_timeout", "8000", "-key", "domain", sb.DOMAIN, "-p", str(sb.SIP_PORT)]
        for i, srv, side in servers:
            target = f"{srv.addr}:{sb.SIP_PORT}"
            d = srv.work / f"run{srv.session}"
            if o.kind == "call":
                reg = subprocess.run(
                    ["sipp", target, "-sf", str(sb.SCEN / "register.xml"), "-inf",
                     str(work / "callee.csv"), "-auth_uri", sb.DOMAIN, "-au", "[field0]",
                     "-ap", "[field1]", "-i", side["uas"], "-p", str(sb.SIP_PORT), "-key",
                     "domain", sb.DOMAIN, "-m", "1", "-timeout", "10s", "-nostdin"],
                    cwd=d, capture_output=True, timeout=30)
                if reg.returncode != 0:
                    raise RuntimeError(f"callee registration with {binaries[i]} failed")
                uas.append(sipp(["-sf", str(sb.SCEN / "uas_call.xml"), "-i", side["uas"], "-p",
                                 str(sb.SIP_PORT), "-timeout", f"{int(o.seconds + 60)}s"],
                                d, d / "uas.out"))
        time.sleep(0.5)
        for i, srv, side in servers:
            d = srv.work / f"run{srv.session}"
            if o.kind == "reg":
                args = [f"{srv.addr}:{sb.SIP_PORT}", "-sf", str(sb.SCEN / "register.xml"),
                        "-inf", str(work / "users.csv"), "-auth_uri", sb.DOMAIN,
                        "-au", "[field0]", "-ap", "[field1]", "-i", side["reg"]] + common
            else:
                args = [f"{srv.addr}:{sb.SIP_PORT}", "-sf", str(sb.SCEN / "uac_call.xml"),
                        "-auth_uri", f"callee@{sb.DOMAIN}", "-au", "caller", "-ap", "pw-caller",
                        "-key", "caller", "caller", "-key", "callee", "callee",
                        "-i", side["uac"]] + common
            args += ["-trace_stat", "-stf", str(d / "stat.csv"), "-fd", "3600"]
            loads.append((i, srv, sipp(args, d, d / "uac.out"), d))
        # The window leaves out each load's first and last seconds.
        time.sleep(o.skip)
        window = o.seconds - 2 * o.skip
        c0 = {i: sb.cpu_seconds(srv.pids()) for i, srv, _ in servers}
        time.sleep(window)
        c1 = {i: sb.cpu_seconds(srv.pids()) for i, srv, _ in servers}
        failed = 0
        for i, srv, p, d in loads:
            p.wait(timeout=o.seconds + 40)
            st = sb.sipp_stats(d / "stat.csv")
            failed += count - st.get("success", 0)
        per_op = {i: (c1[i] - c0[i]) / (o.rate * window) * 1000 for i in c0}
        return per_op[0], per_op[1], failed
    finally:
        for p in uas:
            sb.stop_pid(p, "sipp uas", grace=2)
        for _, _, p, _ in loads:
            if p.poll() is None:
                sb.stop_pid(p, "sipp uac", grace=2)
        for _, srv, _ in servers:
            srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="tandem binary A")
    ap.add_argument("--b", required=True, help="tandem binary B")
    ap.add_argument("--kind", choices=["reg", "call"], default="reg")
    ap.add_argument("--rate", type=int, help="per binary (default 8000 REGISTERs, 3000 calls/s)")
    ap.add_argument("--seconds", type=float, default=14, help="load per run (default 14)")
    ap.add_argument("--skip", type=float, default=2, help="seconds left out at each end")
    ap.add_argument("--runs", type=int, default=4)
    o = ap.parse_args()
    o.rate = o.rate or (8000 if o.kind == "reg" else 3000)
    if o.seconds <= 2 * o.skip + 1:
        sys.exit("--seconds must exceed twice --skip by at least 1")
    binaries = [str(Path(o.a).resolve()), str(Path(o.b).resolve())]
    for b in binaries:
        if not Path(b).is_file():
            sys.exit(f"no such binary: {b}")
    sb.ensure_netns(sys.argv[1:], __file__)

    work = Path(tempfile.mkdtemp(prefix="ab-pair-"))
    try:
        sb.write_injection_files(work)
        # The users once, with A's CLI; both sides copy them.
        first = sb.Tandem(work / "template", binaries[0], parallel=4)
        first.prepare()
        o.template = first.template
        ratios = []
        for run in range(o.runs):
            a, b, failed = one_run(o, work, binaries, run)
            ratios.append(a / b)
            print(f"run {run + 1}: A {a:.5f} ms  B {b:.5f} ms  A/B {a / b:.3f}"
                  f"{'  (' + str(failed) + ' failed)' if failed else ''}", flush=True)
        print(f"A/B over {o.runs} runs: mean {statistics.mean(ratios):.3f}, median "
              f"{statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f} "
              f"({o.kind}, {o.rate}/s each)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
