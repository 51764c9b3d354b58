"""Benchmark: five devices on a LAN of network namespaces, editing while links flap.

Not a test. Needs root (network namespaces). Run by hand and record the
output in bench/RESULTS.md:

    sudo .venv/bin/python bench/fleet_bench.py [--devices 5] [--edits 200] [--idle 60]

Five daemons, each in its own namespace on one bridge, paired through the
first and then finding each other by mDNS. Each makes N edits (a quarter of
them to accounts every device edits) while the bench pulls and plugs hosts'
cables. A watcher in each namespace polls its daemon's API every 50 ms and
logs when what it shows changes; convergence is the time from the last heal
until every device shows the same accounts and conflicts for good. Then the
idle fleet's memory and CPU are read from /proc for the idle period.
Targets (issue 5): converged under 1 s after the last heal.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.netns.hosts import IP, Host, can_make_namespaces, network

WATCH = r"""
import hashlib, http.client, json, sys, time
home, seconds = sys.argv[1], float(sys.argv[2])
info = json.load(open(home + '/api.json')); token = open(home + '/api.token').read().strip()
c = http.client.HTTPConnection('127.0.0.1', info['port'])
h = {'Authorization': 'Bearer ' + token}
last, end = None, time.time() + seconds
while time.time() < end:
    state = []
    for path in ('/api/v1/accounts', '/api/v1/conflicts'):
        c.request('GET', path, headers=h); state.append(json.loads(c.getresponse().read()))
    for a in state[0]['accounts']:
        a.pop('updated_at', None)
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    if digest != last:
        print(f'{time.time():.4f} {digest}', flush=True); last = digest
    time.sleep(0.05)
"""

EDIT = r"""
import http.client, json, random, sys
home, edits, shared, own = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(','), sys.argv[4]
info = json.load(open(home + '/api.json')); token = open(home + '/api.token').read().strip()
c = http.client.HTTPConnection('127.0.0.1', info['port'])
h = {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'}
rnd = random.Random(home)
for i in range(edits):
    if i == edits * 9 // 10:
        open(home + '.late', 'w').close()  # the bench makes its final cut now
    target = rnd.choice(shared) if i % 4 == 0 else own
    c.request('PATCH', '/api/v1/accounts/' + target, body=json.dumps({'note': f'{home[-5:]} {i}'}),
              headers=h)
    assert c.getresponse().read()
"""


def in_ns(host: Host, script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [IP, "netns", "exec", host.ns, sys.executable, "-c", script, str(host.home), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def wait(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.2)
    return value


def proc_stats(pid: int) -> tuple[int, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument(
        "--no-cuts", action="store_true", help="control run: edit with every cable in"
    )
    args = parser.parse_args()
    if reason := can_make_namespaces():
        raise SystemExit(reason)
    rnd = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp, network(Path(tmp), args.devices) as hosts:
        for h in hosts:
            h.start()
        first = hosts[0]
        secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        shared = [
            first.api("POST", "/accounts", {"issuer": f"shared {i}", "secret": secret})["body"][
                "id"
            ]
            for i in range(4)
        ]
        for h in hosts[1:]:
            link = first.api("POST", "/invitations", {"accept": True})["body"]["link"]
            h.api("POST", "/join", {"link": link, "accept": True})
            wait(lambda h=h: h.api("GET", "/join")["body"]["state"] == "joined")
        own = [
            h.api("POST", "/accounts", {"issuer": f"own {i}", "secret": secret})["body"]["id"]
            for i, h in enumerate(hosts)
        ]
        wait(lambda: all(len(h.api("GET", "/accounts")["body"]["accounts"]) == 4 + len(hosts)
                         for h in hosts))  # fmt: skip
        watch_for = 60.0
        watchers = [in_ns(h, WATCH, str(watch_for)) for h in hosts]
        time.sleep(1)
        t0 = time.time()
        editors = [in_ns(h, EDIT, str(args.edits), ",".join(shared), own[i])
                   for i, h in enumerate(hosts)]  # fmt: skip
        cuts = 0
        late = [Path(f"{h.home}.late") for h in hosts]
        while not all(flag.exists() for flag in late):
            if args.no_cuts:
                time.sleep(0.05)
                continue
            victim = rnd.choice(hosts)
            victim.link(False)
            time.sleep(rnd.uniform(0.1, 0.4))
            victim.link(True)
            cuts += 1
            time.sleep(rnd.uniform(0.05, 0.2))
        # The final cut: one device misses the last tenth of everyone's edits and
        # keeps its own, while the rest finish and settle; then its cable goes back.
        final = hosts[-1]
        if not args.no_cuts:
            final.link(False)
            cuts += 1
        for e in editors:
            e.wait()
        # both sides of the final cut write while apart, to shared accounts too
        apart = [in_ns(h, EDIT, "20", ",".join(shared), own[i])
                 for i, h in ((0, hosts[0]), (len(hosts) - 1, final))]  # fmt: skip
        for e in apart:
            e.wait()
        time.sleep(3)
        if not args.no_cuts:
            final.link(True)
        last_heal = time.time()
        edit_seconds = last_heal - t0
        outputs = [w.communicate(timeout=watch_for + 30)[0] for w in watchers]
        finals = []
        for out in outputs:
            lines = [line.split() for line in out.splitlines() if line.strip()]
            finals.append((float(lines[-1][0]), lines[-1][1]))
        if len({digest for _, digest in finals}) != 1:
            raise SystemExit(f"did not converge within {watch_for} s: {finals}")
        converged = max(t for t, _ in finals) - last_heal
        per_host = ", ".join(f"{(t - last_heal) * 1000:.0f}" for t, _ in finals)
        print(f"last change on each device, ms after the last heal: {per_host}")
        print(f"{len(hosts)} devices, {args.edits} edits each ({len(hosts) * args.edits} in all, "
              f"a quarter to 4 shared accounts) in {edit_seconds:.1f} s while {cuts} cables were "
              "pulled and plugged back")  # fmt: skip
        print(f"identical state on all {len(hosts)} devices {converged * 1000:.0f} ms after the "
              "last heal")  # fmt: skip

        pids = [h.process.pid for h in hosts if h.process is not None]
        before = [proc_stats(p) for p in pids]
        time.sleep(args.idle)
        after = [proc_stats(p) for p in pids]
        rss = sum(r for r, _ in after) / 1024
        cpu = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
        print(f"idle fleet over {args.idle:.0f} s: {rss:.0f} MiB resident in all "
              f"({rss / len(pids):.1f} MiB each), {cpu:.2f} s of CPU "
              f"({cpu / args.idle / len(pids) * 100:.2f}% of a core each)")  # fmt: skip
    print(f"python {sys.version.split()[0]}, {os.uname().machine}, {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
