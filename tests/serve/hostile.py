#!/usr/bin/python3
"""Hostile HTTP clients for tests/serve/run.sh, on loopback only.

Each check prints one line "ok|fail <what>" and the script exits 1 if any
failed. The hostile clients connect from other loopback addresses
(127.0.1.x, 127.0.2.x) than the well-behaved probe (127.0.0.1), so the
per-IP limit is what keeps the probe served. Every socket has a timeout:
the script ends in bounded time whatever the server does.

usage: hostile.py PORT PID
"""
import socket
import sys
import threading
import time

PORT = int(sys.argv[1])
PID = int(sys.argv[2])
HOST = "127.0.0.1"
PER_IP = 8      # EM_SERVE_MAX_PER_IP
TIMEOUT_S = 10  # EM_SERVE_TIMEOUT_S
failed = False


def report(ok, what):
    global failed
    print(("ok " if ok else "fail ") + what, flush=True)
    failed |= not ok


def conn(src="127.0.0.1", timeout=5.0, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    s.connect((HOST, PORT))
    return s


def read_all(s, limit=1 << 22):
    data = b""
    while len(data) < limit:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        data += b
    return data


def scrape(src="127.0.0.1", timeout=5.0):
    """A full GET /metrics; returns (status, seconds) or (None, seconds)."""
    t0 = time.monotonic()
    try:
        s = conn(src, timeout)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(s)
        s.close()
    except OSError:
        return None, time.monotonic() - t0
    if not data.startswith(b"HTTP/1.1 ") or b"exitmon_build_info" not in data:
        return None, time.monotonic() - t0
    return int(data[9:12]), time.monotonic() - t0


def probe(what):
    st, dt = scrape()
    report(st == 200 and dt < 2.0, "%s: a scrape from 127.0.0.1 is served (%s in %.3f s)" % (what, st, dt))


def rss_kib():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def alive(s):
    """True while the server keeps the connection open (unread data drained)."""
    s.setblocking(False)
    try:
        while True:
            if s.recv(65536) == b"":
                return False  # closed by the server
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


rss0 = rss_kib()
probe("baseline")

# 1. Clients that never finish their request, 20 from one address:
#    at most PER_IP kept, the rest closed at once; the kept ones closed
#    by the connection timeout.
partial = []
for i in range(20):
    try:
        s = conn("127.0.1.1")
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # no blank line, ever
        partial.append(s)
    except OSError:
        pass
time.sleep(1.0)
kept = sum(alive(s) for s in partial)
report(kept <= PER_IP, "unfinished requests: %d of 20 from one address kept open (per-IP limit %d)" % (kept, PER_IP))
probe("during 20 unfinished requests")

# 2. Slow readers: tiny receive buffer, one byte at a time.
slow = []
for i in range(4):
    try:
        s = conn("127.0.1.2", rcvbuf=256)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        slow.append(s)
    except OSError:
        pass
for _ in range(10):
    for s in slow:
        try:
            s.recv(1)
        except OSError:
            pass
    time.sleep(0.1)
probe("during 4 slow readers")

# 3. Oversized headers: 100 KiB of one header; a 4xx or a close, never a hang.
try:
    s = conn("127.0.1.3")
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    data = read_all(s)
    s.close()
    st = data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "closed"
    report(st == "closed" or st.startswith("4"), "oversized header: answered %s" % st)
except OSError as e:
    report(True, "oversized header: connection dropped (%s)" % e.__class__.__name__)
probe("after an oversized header")

# 4. POST with a large body: 405 at once, body not read.
try:
    s = conn("127.0.1.4")
    s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 65536)
    data = read_all(s)
    s.close()
    report(data.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD" in data, "POST with a 100 MB body: 405 with Allow")
except OSError as e:
    report(False, "POST: %s" % e)

# 5. 200 concurrent scrapes from 25 addresses.
results = []
lock = threading.Lock()


def worker(i):
    st, dt = scrape("127.0.2.%d" % (i % 25 + 1), timeout=20)
    with lock:
        results.append(st)


t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(200)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
dt = time.monotonic() - t0
served = sum(1 for r in results if r == 200)
report(len(results) == 200 and dt < 30,
       "200 concurrent scrapes all finished in %.1f s (%d served, %d refused at the limits)"
       % (dt, served, len(results) - served))
report(served > 0, "200 concurrent scrapes: some served")
probe("after 200 concurrent scrapes")

# 6. The connection timeout closes what the unfinished requests held.
time.sleep(TIMEOUT_S + 3)
left = sum(alive(s) for s in partial + slow)
report(left == 0, "after %d s every unfinished or slow connection was closed by the server (%d left)"
       % (TIMEOUT_S + 3, left))
for s in partial + slow:
    s.close()
probe("at the end")
rss1 = rss_kib()
report(rss0 > 0 and rss1 - rss0 < 16384, "memory bounded: VmRSS %d -> %d KiB" % (rss0, rss1))
sys.exit(1 if failed else 0)
