#!/usr/bin/env python3
"""A site joining vcbridge over WebRTC with aiortc, a real independent WebRTC stack (tests, checks).

It makes the offer a browser makes (audio sendrecv, camera video sendrecv, speaker video recvonly),
proves the site's key as docs/PROTOCOL.md ("Joining from a browser") says, checks the bridge's proof,
sends a WAV file (and optionally a video file), records what it hears, counts the video frames it
decodes per stream, leaves with DELETE, and prints one JSON object.

    webrtc_site.py --bridge http://127.0.0.1:7480 --key-file SITE.key --send tone.wav --record heard.wav --seconds 8

Over HTTPS (the bridge's web listener off loopback, or with quality.httpTLS "on"), either the system's trust
store checks the certificate, or --fingerprint pins the SHA-256 the bridge logged (event=https fingerprint=...),
or --insecure accepts any certificate (tests only):

    webrtc_site.py --bridge https://10.0.0.5:7480 --fingerprint AB:CD:... --key-file SITE.key
"""
import argparse
import asyncio
import hashlib
import hmac
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRecorder, MediaRelay

LABEL = "vcbridge-webrtc-v1"


def opener_for(bridge, insecure, pin):
    """urllib's opener for the bridge: plain for http://; for https://, the trust store, or any certificate
    (insecure), or only the certificate whose SHA-256 is `pin` (bytes)."""
    if not bridge.startswith("https://"):
        return urllib.request.build_opener()
    context = ssl.create_default_context()
    if insecure or pin is not None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

    class PinnedConnection(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            if pin is not None and hashlib.sha256(self.sock.getpeercert(binary_form=True)).digest() != pin:
                self.sock.close()
                raise urllib.error.URLError("the bridge's certificate does not have the --fingerprint given")

    class Handler(urllib.request.HTTPSHandler):
        def https_open(self, request):
            return self.do_open(PinnedConnection, request, context=context)

    return urllib.request.build_opener(Handler(context=context))


def read_key(path):
    fields = dict(line.split("=", 1) for line in open(path).read().split() if "=" in line)
    return fields["site"], bytes.fromhex(fields["secret"])


def authentication_key(secret, site, nonce):
    prk = hmac.new(nonce, secret, hashlib.sha256).digest()  # HKDF-Extract(salt = nonce, IKM = secret)
    return hmac.new(prk, f"{LABEL} auth {site}".encode() + b"\x01", hashlib.sha256).digest()  # HKDF-Expand, one block


def proof(key, role, site, when, nonce, fingerprints):
    return hmac.new(key, f"{LABEL}|{role}|{site}|{when}|".encode() + nonce + b"".join(fingerprints), hashlib.sha256).digest()


def fingerprint(sdp):
    match = re.search(r"a=fingerprint:sha-256 ([0-9A-Fa-f:]+)", sdp)
    return bytes.fromhex(match.group(1).replace(":", ""))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bridge", required=True, help="the bridge's web listener, e.g. http://127.0.0.1:7480")
    parser.add_argument("--fingerprint", help="https: accept only this certificate (SHA-256, AB:CD:... as the bridge logs it)")
    parser.add_argument("--insecure", action="store_true", help="https: accept any certificate (tests only)")
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--send", help="a WAV file to send as the microphone")
    parser.add_argument("--video", help="a video file to send as the camera")
    parser.add_argument("--record", help="write what the site hears to this WAV file")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--replay-to", help="also write the join request here (for replay tests)")
    parser.add_argument("--codec", choices=["vp8", "h264"], help="offer only this codec for the camera (default: aiortc's list)")
    parser.add_argument("--media-via", help="send media to this HOST:PORT instead of the bridge's candidate "
                        "(an impairment relay, vcbridge relay --to the bridge's media port)")
    args = parser.parse_args()
    site, secret = read_key(args.key_file)
    pin = bytes.fromhex(args.fingerprint.replace(":", "")) if args.fingerprint else None
    if pin is not None and len(pin) != 32:
        parser.error("--fingerprint must be a SHA-256: 32 bytes as AB:CD:...")
    opener = opener_for(args.bridge, args.insecure, pin)

    pc = RTCPeerConnection()
    players = []
    if args.send:
        players.append(MediaPlayer(args.send, loop=True))
        pc.addTrack(players[-1].audio)
    else:
        pc.addTransceiver("audio", direction="recvonly")
    if args.video:
        players.append(MediaPlayer(args.video, loop=True))
        pc.addTrack(players[-1].video)
    else:
        pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    if args.codec:
        mime = {"vp8": "video/VP8", "h264": "video/H264"}[args.codec]
        preferred = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in (mime, "video/rtx")]
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(preferred)

    recorder = MediaRecorder(args.record) if args.record else None
    relay = MediaRelay()
    frames = {}
    consumers = []
    # When the offer was posted, the transport connected (ICE and DTLS done) and the first audio frame came.
    times = {}

    @pc.on("connectionstatechange")
    def on_state():
        if pc.connectionState == "connected":
            times.setdefault("connected", time.monotonic())

    async def first_audio(track):
        try:
            await track.recv()
            times.setdefault("audio", time.monotonic())
        except Exception:
            return

    async def count(track, mid):
        while True:
            try:
                await track.recv()
            except Exception:
                return
            frames[mid] = frames.get(mid, 0) + 1

    @pc.on("track")
    def on_track(track):
        mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), "?")
        if track.kind == "audio":
            consumers.append(asyncio.ensure_future(first_audio(relay.subscribe(track) if recorder else track)))
            if recorder:
                recorder.addTrack(relay.subscribe(track))
        elif track.kind == "video":
            consumers.append(asyncio.ensure_future(count(track, mid)))

    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    nonce, when = os.urandom(32), int(time.time())
    key = authentication_key(secret, site, nonce)
    site_fingerprint = fingerprint(offer)
    authorization = (f'VCBridge site="{site}", nonce="{nonce.hex()}", time="{when}", '
                     f'proof="{proof(key, "site", site, when, nonce, [site_fingerprint]).hex()}"')
    if args.replay_to:
        json.dump({"authorization": authorization, "offer": offer}, open(args.replay_to, "w"))
    request = urllib.request.Request(args.bridge + "/webrtc/join", data=offer.encode(), method="POST",
                                     headers={"Content-Type": "application/sdp", "Authorization": authorization})
    times["posted"] = time.monotonic()
    try:
        response = opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        print(json.dumps({"joined": False, "status": error.code, "body": error.read().decode(errors="replace")}))
        await pc.close()
        return 1
    except urllib.error.URLError as error:
        print(json.dumps({"joined": False, "error": str(error.reason)}))
        await pc.close()
        return 1
    answer = response.read().decode()
    times["answered"] = time.monotonic()
    location = response.headers["Location"]
    expected = proof(key, "bridge", site, when, nonce, [site_fingerprint, fingerprint(answer)])
    if not hmac.compare_digest(bytes.fromhex(response.headers.get("VCBridge-Proof", "")), expected):
        print(json.dumps({"joined": False, "error": "the bridge's proof does not verify"}))
        await pc.close()
        return 1
    if args.media_via:
        # After the proof is checked: the relay stands in for the bridge's one host candidate.
        host, port = args.media_via.rsplit(":", 1)
        answer = re.sub(r"(a=candidate:\S+ \d+ (?:udp|UDP) \d+ )\S+ \d+", lambda m: f"{m.group(1)}{host} {port}", answer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    if recorder:
        await recorder.start()
    started = time.monotonic()
    while time.monotonic() - started < args.seconds and pc.connectionState not in ("failed", "closed"):
        await asyncio.sleep(0.2)
    state = pc.connectionState
    try:
        opener.open(urllib.request.Request(args.bridge + location, method="DELETE"), timeout=5)
        left = True
    except urllib.error.URLError:
        left = False
    if recorder:
        await recorder.stop()
    for player in players:
        for track in (player.audio, player.video):
            if track:
                track.stop()
    await pc.close()
    for consumer in consumers:
        consumer.cancel()
    since_post = {k + "Ms": round((v - times["posted"]) * 1000, 1) for k, v in times.items() if k != "posted"}
    print(json.dumps({"joined": True, "state": state, "left": left, "videoFrames": frames, "session": location, **since_post,
                      "bridgeFingerprint": ":".join("%02X" % b for b in fingerprint(answer))}))
    return 0 if state == "connected" or state == "closed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
