#!/usr/bin/env python3
"""Hostile traffic at every listener of a running vcbridge, bounded and self-stopping (Scripts/hostile.sh).

Each attack runs in a process of its own for --seconds and reports, as one JSON object on stdout:
per listener the bytes it sent and the bytes the bridge sent back to it (the amplification factor is
their ratio), how many of its requests the bridge accepted (a welcome, a 200 to an INVITE, a 2xx to a
WebRTC join: all must be 0), and what it achieved (datagrams/s, joins/s, connections closed by the bridge).
Loopback only; standard library only.
"""
import argparse, json, multiprocessing as mp, os, random, resource, selectors, socket, ssl, struct, time


def hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def result(name, **fields):
    fields["listener"] = name
    return fields


# ---- media port: random datagrams (RTP-, RTCP-, STUN- and DTLS-looking and plain junk) ----
def media_flood(target, seconds, rate, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    rng = random.Random(16)
    pool = []
    for i in range(512):
        size = rng.choice([12, 20, 60, 172, 200, 400, 1200, 1400, rng.randint(1, 1472)])
        b = bytearray(rng.getrandbits(8) for _ in range(size))
        kind = i % 6
        if kind == 0 and size >= 12: b[0] = 0x80; b[1] = 111                      # RTP, audio payload type
        elif kind == 1 and size >= 12: b[0] = 0x80; b[1] = 96                     # RTP, video payload type
        elif kind == 2 and size >= 8: b[0] = 0x81; b[1] = 201                     # RTCP RR
        elif kind == 3 and size >= 20:                                            # STUN binding request, bad integrity
            b[0:4] = b"\x00\x01" + struct.pack("!H", (size - 20) & ~3); b[4:8] = b"\x21\x12\xa4\x42"
        elif kind == 4 and size >= 13: b[0] = 22; b[1:3] = b"\xfe\xfd"            # DTLS handshake record
        pool.append(bytes(b))
    sent = sent_bytes = received = received_bytes = 0
    start = time.monotonic(); end = start + seconds
    i = 0
    while True:
        now = time.monotonic()
        if now >= end: break
        allowed = int((now - start) * rate) - sent
        if allowed <= 0:
            time.sleep(0.0005); continue
        for _ in range(min(allowed, 2048)):
            d = pool[i & 511]; i += 1
            try:
                s.sendto(d, target); sent += 1; sent_bytes += len(d)
            except BlockingIOError:
                break
            except OSError:
                pass
        while True:
            try:
                d = s.recv(2048); received += 1; received_bytes += len(d)
            except (BlockingIOError, OSError):
                break
    time.sleep(0.3)
    while True:
        try:
            d = s.recv(2048); received += 1; received_bytes += len(d)
        except (BlockingIOError, OSError):
            break
    elapsed = time.monotonic() - start
    out.put(result("media (UDP)", sent=sent, sentBytes=sent_bytes, receivedDatagrams=received, receivedBytes=received_bytes,
                   accepted=0, ratePerSecond=round(sent / elapsed)))


# ---- signalling port: forged joins at a target rate (hello for a real site, then a forged proof) ----
def forged_joins(target, site, seconds, rate, sources, out):
    raise_fd_limit()
    sel = selectors.DefaultSelector()
    rng = random.Random(os.getpid())
    started = sent_bytes = received_bytes = accepted = completed = refused_lines = errors = 0
    start = time.monotonic(); end = start + seconds
    open_ = {}
    site_bytes = site.encode()
    while True:
        now = time.monotonic()
        if now >= end and not open_: break
        if now < end:
            due = int((now - start) * rate) - started
            for _ in range(min(due, 200)):
                if len(open_) >= 2000: break
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                try:
                    c.bind((f"127.0.{2 + started % sources // 250}.{1 + started % sources % 250}", 0))
                    c.connect_ex(target)
                except OSError:
                    c.close(); errors += 1; started += 1; continue
                payload = b'{"type":"hello","version":1,"site":"' + site_bytes + b'","nonce":"' + os.urandom(32).hex().encode() + \
                          b'"}\n{"type":"proof","proof":"' + os.urandom(32).hex().encode() + b'"}\n'
                open_[c.fileno()] = [c, payload, b"", now]
                sel.register(c, selectors.EVENT_WRITE | selectors.EVENT_READ)
                started += 1
        for key, events in sel.select(timeout=0.001):
            entry = open_.get(key.fd)
            if entry is None: continue
            c = entry[0]
            done = False
            try:
                if events & selectors.EVENT_WRITE and entry[1]:
                    n = c.send(entry[1]); sent_bytes += n; entry[1] = entry[1][n:]
                    if not entry[1]: sel.modify(c, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    d = c.recv(4096)
                    if not d: done = True
                    else:
                        received_bytes += len(d); entry[2] += d
                        if b'"welcome"' in entry[2]: accepted += 1; done = True
                        elif b'"refused"' in entry[2]: refused_lines += 1; done = True
            except OSError:
                errors += 1; done = True
            if done:
                completed += 1
                sel.unregister(c); c.close(); del open_[key.fd]
        # Connections the bridge keeps past 6 s are given up (its deadline is 5 s from accept).
        if now - start > 1:
            for fd, entry in list(open_.items()):
                if now - entry[3] > 6 or now >= end + 6:
                    sel.unregister(entry[0]); entry[0].close(); del open_[fd]
    elapsed = time.monotonic() - start
    out.put(result("join (TCP)", sent=started, sentBytes=sent_bytes, receivedBytes=received_bytes, accepted=accepted,
                   refused=refused_lines, completed=completed, errors=errors, ratePerSecond=round(started / min(elapsed, seconds))))


# ---- slow, silent and half-closed connections at a TCP (or Unix) listener ----
def slow_connections(name, target, seconds, count, first_bytes, tls, out):
    raise_fd_limit()
    family = socket.AF_UNIX if isinstance(target, str) else socket.AF_INET
    conns = []  # (socket, kind)
    for i in range(count * 3):
        kind = ("silent", "dribble", "half-closed")[i % 3]
        c = socket.socket(family, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(target)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            c.close(); continue
        conns.append([c, kind, None])
    time.sleep(0.2)
    sent_bytes = received_bytes = 0
    hello = first_bytes
    for entry in conns:
        c, kind, _ = entry
        try:
            if kind == "half-closed":
                n = c.send(hello[: max(1, len(hello) // 2)]); sent_bytes += n
                c.shutdown(socket.SHUT_WR)
            elif kind == "dribble":
                n = c.send(hello[:1]); sent_bytes += n
        except OSError:
            entry[2] = 0.0
    start = time.monotonic(); end = start + seconds
    position = 1
    while time.monotonic() < end:
        for entry in conns:
            c, kind, closed = entry
            if closed is not None: continue
            try:
                d = c.recv(65536, socket.MSG_DONTWAIT)
                if d: received_bytes += len(d)
                else: entry[2] = time.monotonic() - start
            except BlockingIOError:
                pass
            except OSError:
                entry[2] = time.monotonic() - start
            if entry[2] is None and kind == "dribble":
                try:
                    n = c.send(hello[position % len(hello): position % len(hello) + 1] or b" "); sent_bytes += n
                except BlockingIOError:
                    pass
                except OSError:
                    entry[2] = time.monotonic() - start
        position += 1
        time.sleep(1)
    closed = {k: sum(1 for e in conns if e[1] == k and e[2] is not None) for k in ("silent", "dribble", "half-closed")}
    total = {k: sum(1 for e in conns if e[1] == k) for k in ("silent", "dribble", "half-closed")}
    latest = max([e[2] for e in conns if e[2] is not None] or [0])
    for e in conns: e[0].close()
    out.put(result(name, sent=len(conns), sentBytes=sent_bytes, receivedBytes=received_bytes, accepted=0,
                   closedByBridge=closed, opened=total, lastClosedAfterSeconds=round(latest, 1), slow=True))


# ---- requests that are malformed, oversized or forged, at each listener; answers counted ----
def request_once(target, data, tls=False, timeout=3.0, read_all=True):
    family = socket.AF_UNIX if isinstance(target, str) else socket.AF_INET
    c = socket.socket(family, socket.SOCK_STREAM)
    c.settimeout(timeout)
    got = b""
    sent = 0
    try:
        c.connect(target)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            c = ctx.wrap_socket(c)
        try:
            c.sendall(data); sent = len(data)
        except OSError:
            sent = len(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = c.recv(65536)
            if not d: break
            got += d
            if not read_all and b"\r\n\r\n" in got: break
    except OSError:
        pass
    finally:
        c.close()
    return sent, got


def malformed_requests(name, target, requests, seconds, accepted_marker, tls, out):
    sent_bytes = received_bytes = accepted = answered = done = 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        data = requests[i % len(requests)]; i += 1
        sent, got = request_once(target, data, tls=tls, timeout=2.0)
        sent_bytes += sent; received_bytes += len(got); done += 1
        if got: answered += 1
        if accepted_marker and accepted_marker(got): accepted += 1
        time.sleep(0.01)
    out.put(result(name, sent=done, sentBytes=sent_bytes, receivedBytes=received_bytes, accepted=accepted, answered=answered))


def sip_invite(branch, call, user, transport, host, port, authorization=True, pad=0):
    body = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 40000 RTP/SAVP 9\r\na=rtpmap:9 G722/8000\r\n"
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40 + "\r\n")
    auth = (f'Authorization: Digest username="{user}", realm="vcbridge", nonce="forged{branch}", uri="sip:meeting@{host}", '
            f'response="{"0" * 32}", algorithm=MD5\r\n') if authorization else ""
    return (f"INVITE sip:meeting@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag={branch}\r\nTo: <sip:meeting@{host}>\r\n"
            f"Call-ID: {call}@attacker\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@127.0.0.1:5999>\r\n{auth}"
            f"X-Pad: {'x' * pad}\r\nContent-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def sip_udp(target, site, seconds, rate, out):
    """Forged INVITEs (wrong digest, none, garbage) from 32 source addresses (127.0.3.x), two ports each: the bytes
    answered per address (what a reflection's victim would get) <= the bytes sent from it."""
    socks = []
    for i in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False); s.bind((f"127.0.3.{1 + i // 2}", 0)); socks.append(s)
    per, ports = {}, {}
    rng = random.Random(5060)
    sent = sent_bytes = received_bytes = accepted = 0
    start = time.monotonic(); end = start + seconds
    while time.monotonic() < end:
        due = int((time.monotonic() - start) * rate) - sent
        for _ in range(min(max(due, 0), 64)):
            s = socks[sent % len(socks)]
            kind = sent % 4
            if kind == 0: d = sip_invite(sent, rng.getrandbits(64), site, "UDP", *target, authorization=True)
            elif kind == 1: d = sip_invite(sent, rng.getrandbits(64), site, "UDP", *target, authorization=False)
            elif kind == 2: d = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK" + str(sent).encode() + b"\r\n\r\n"
            else: d = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600)))
            try:
                s.sendto(d, target); sent += 1; sent_bytes += len(d)
                per.setdefault(s.getsockname()[0], [0, 0])[0] += len(d)
                ports.setdefault(s.getsockname(), [0, 0])[0] += len(d)
            except OSError:
                pass
        for s in socks:
            while True:
                try:
                    d = s.recv(65536)
                except (BlockingIOError, OSError):
                    break
                received_bytes += len(d)
                per.setdefault(s.getsockname()[0], [0, 0])[1] += len(d)
                ports.setdefault(s.getsockname(), [0, 0])[1] += len(d)
                if d.startswith(b"SIP/2.0 200") and b"INVITE" in d.split(b"\r\n\r\n")[0]: accepted += 1
        time.sleep(0.002)
    worst = max((r / max(1, snt) for snt, r in per.values()), default=0)
    worst_port = max((r / max(1, snt) for snt, r in ports.values()), default=0)
    out.put(result("SIP (UDP)", sent=sent, sentBytes=sent_bytes, receivedBytes=received_bytes, accepted=accepted,
                   worstSourceAmplification=round(worst, 3), worstPortAmplification=round(worst_port, 3),
                   ratePerSecond=round(sent / seconds)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--signal", required=True); p.add_argument("--media", required=True)
    p.add_argument("--http"); p.add_argument("--sip"); p.add_argument("--sip-tls"); p.add_argument("--control")
    p.add_argument("--site", required=True, help="a site of the meeting, named in forged joins and INVITEs")
    p.add_argument("--join-rate", type=float, default=10000); p.add_argument("--media-rate", type=float, default=200000)
    p.add_argument("--slow", type=int, default=100, help="connections of each kind (silent, dribble, half-closed) per listener")
    a = p.parse_args()
    seconds = a.seconds
    out = mp.Queue()
    joiners = 4 if a.join_rate > 0 else 0  # (Scripts/hostile.sh passes 0: its forged joins come from vcbridge-bench hostile-joins)
    jobs = [mp.Process(target=media_flood, args=(hostport(a.media), seconds, a.media_rate, out))]
    jobs += [mp.Process(target=forged_joins, args=(hostport(a.signal), a.site, seconds, a.join_rate / joiners, 500, out))
             for _ in range(joiners)]
    jobs += [
            mp.Process(target=slow_connections, args=("join (TCP) slow", hostport(a.signal), seconds, a.slow,
                                                      b'{"type":"hello","version":1,"site":"' + a.site.encode() + b'","nonce":"00"}\n', False, out))]
    join_garbage = [b"[" * 4000 + b"\n", b'{"type":"hello","version":1e400}\n', b"\xff\xfe\x00\n", b"x" * 70000,
                    b'{"type":"proof","proof":"00"}\n']
    jobs.append(mp.Process(target=malformed_requests, args=("join (TCP) malformed", hostport(a.signal), join_garbage, seconds,
                                                            lambda g: b'"welcome"' in g, False, out)))
    if a.http:
        http = hostport(a.http)
        offer = "v=0\r\n" + "a=x\r\n" * 200
        forged = json.dumps({"site": a.site, "sdp": offer}).encode()
        http_requests = [
            b"POST /webrtc/join HTTP/1.1\r\nHost: x\r\nAuthorization: VCBridge site=\"" + a.site.encode() + b"\", proof=\"" + b"0" * 64 +
            b"\"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(forged)).encode() + b"\r\n\r\n" + forged,
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 500 + b"\r\n",
            b"POST /webrtc/join HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n" + b"{" * 4000,
            b"\xff\xfe\x00\r\n\r\n", b"GET /x?%zz=%ff HTTP/1.1\r\n\r\n",
            b"DELETE /webrtc/sessions/" + b"f" * 64 + b" HTTP/1.1\r\n\r\n",
        ]
        jobs.append(mp.Process(target=malformed_requests, args=("HTTP malformed/forged", http, http_requests, seconds,
                                                                lambda g: g.startswith(b"HTTP/1.1 2") and b"v=0" in g, False, out)))
        jobs.append(mp.Process(target=slow_connections, args=("HTTP slow", http, seconds, a.slow, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", False, out)))
    if a.sip:
        sip = hostport(a.sip)
        jobs.append(mp.Process(target=sip_udp, args=(sip, a.site, seconds, 2000, out)))
        tcp_requests = [sip_invite(i, i, a.site, "TCP", *sip) for i in range(4)] + \
                       [b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n", b"\r\n" * 10 + b"\xff" * 3000 + b"\r\n\r\n"]
        jobs.append(mp.Process(target=malformed_requests, args=("SIP (TCP) forged", sip, tcp_requests, seconds,
                                                                lambda g: b"SIP/2.0 200" in g, False, out)))
        jobs.append(mp.Process(target=slow_connections, args=("SIP (TCP) slow", sip, seconds, a.slow, sip_invite(1, 1, a.site, "TCP", *sip), False, out)))
    if a.sip_tls:
        tls = hostport(a.sip_tls)
        jobs.append(mp.Process(target=malformed_requests, args=("SIP (TLS) forged", tls, [sip_invite(i, i, a.site, "TLS", *tls) for i in range(4)],
                                                                seconds, lambda g: b"SIP/2.0 200" in g, True, out)))
        # Half a ClientHello, a byte at a time, or nothing: the handshake itself is slow or half-open.
        client_hello = b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03" + bytes(range(32)) + b"\x00" * 150
        jobs.append(mp.Process(target=slow_connections, args=("SIP (TLS) slow", tls, seconds, a.slow, client_hello, True, out)))
    if a.control and os.path.exists(a.control):
        control_requests = [b"[" * 16000 + b"\n", b"x" * (1 << 20), b'{"command":"floor","meeting":1e400}\n', b'{"command":"end","site":null}\n',
                            b'{"command":"quality","site":123}\n', b"\x00\n", b'{"command":"' + b"a" * 100000 + b'"}\n']
        jobs.append(mp.Process(target=malformed_requests, args=("control (Unix) malformed/oversized", a.control, control_requests, seconds,
                                                                None, False, out)))
        jobs.append(mp.Process(target=slow_connections, args=("control (Unix) slow", a.control, seconds, min(a.slow, 20), b'{"command":"status"}\n', False, out)))
    for j in jobs: j.start()
    results = []
    deadline = time.monotonic() + seconds + 30
    while len(results) < len(jobs) and time.monotonic() < deadline:
        try:
            results.append(out.get(timeout=1))
        except Exception:
            pass
    for j in jobs:
        j.join(timeout=1)
        if j.is_alive(): j.kill()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
