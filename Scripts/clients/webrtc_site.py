#!/usr/bin/env python3
"""A site joining vcbridge over WebRTC with aiortc, a real independent WebRTC stack (tests, checks).

It makes the offer a browser makes (audio sendrecv, camera video sendrecv, speaker video recvonly),
proves the site's key as docs/PROTOCOL.md ("Joining from a browser") says, checks the bridge's proof,
sends a WAV file (and optionally a video file), records what it hears, counts the video frames it
decodes per stream, leaves with DELETE, and prints one JSON object.

    webrtc_site.py --bridge http://127.0.0.1:7480 --key-file SITE.key --send tone.wav --record heard.wav --seconds 8
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRecorder

LABEL = "vcbridge-webrtc-v1"


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
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--send", help="a WAV file to send as the microphone")
    parser.add_argument("--video", help="a video file to send as the camera")
    parser.add_argument("--record", help="write what the site hears to this WAV file")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--replay-to", help="also write the join request here (for replay tests)")
    args = parser.parse_args()
    site, secret = read_key(args.key_file)

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

    recorder = MediaRecorder(args.record) if args.record else None
    frames = {}
    consumers = []

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
        if track.kind == "audio" and recorder:
            recorder.addTrack(track)
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
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        print(json.dumps({"joined": False, "status": error.code, "body": error.read().decode(errors="replace")}))
        await pc.close()
        return 1
    answer = response.read().decode()
    location = response.headers["Location"]
    expected = proof(key, "bridge", site, when, nonce, [site_fingerprint, fingerprint(answer)])
    if not hmac.compare_digest(bytes.fromhex(response.headers.get("VCBridge-Proof", "")), expected):
        print(json.dumps({"joined": False, "error": "the bridge's proof does not verify"}))
        await pc.close()
        return 1
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    if recorder:
        await recorder.start()
    started = time.monotonic()
    while time.monotonic() - started < args.seconds and pc.connectionState not in ("failed", "closed"):
        await asyncio.sleep(0.2)
    state = pc.connectionState
    try:
        urllib.request.urlopen(urllib.request.Request(args.bridge + location, method="DELETE"), timeout=5)
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
    print(json.dumps({"joined": True, "state": state, "left": left, "videoFrames": frames, "session": location}))
    return 0 if state == "connected" or state == "closed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
