#!/usr/bin/env python3
"""A site in a real browser: drives Debian's Chromium headless over the DevTools protocol.

Chromium runs with its fake camera and microphone fed from files and a fresh profile, opens a page, can put a key
file into the page's file input and click the page's buttons by element id at given times, reads the page's
`window.vcbridgeDiagnostics()` every --interval seconds, takes a screenshot, and prints one JSON object with what it
saw over time. Python's standard library only.

    chromium_site.py --url https://127.0.0.1:8443/join/ --certificate bridge.pem --key-file lang-cong.key \
        --audio tone.wav --video camera.y4m --seconds 20 --click join@1 --screenshot page.png@15

The DevTools protocol runs over --remote-debugging-pipe: Chromium reads commands on its file descriptor 3 and writes
answers and events on 4, each a JSON text ended by a NUL byte. Every wait has a deadline; Chromium is killed if it
does not close when asked.

Timed actions, at S seconds after the page loaded, or at STATE+S: S seconds after the page's diagnostics first showed
that state (`join@in-meeting+2`); any number of each, run in time order:
  --click ID@S           clicks the element with that id (as a user's click: element.click())
  --floor SITE@S         the chair gives the floor to SITE: clicks SITE's button in the page's floor list
                         (#floor-sites [data-floor-site=SITE]); SITE "-" clicks #floor-take (takes it back)
  --eval JS@S            evaluates an expression in the page (for tests of this tool)
  --screenshot FILE[@S]  a PNG of the page at S (default, or if the state never came: at the end), window-sized
A click or floor whose element is missing or disabled is tried again every 0.25 s for up to --patience seconds
(default 5), as a person waits for a button to appear.

The report: {"ok", "url", "chromium", "startedAt" (Unix time of t = 0), "samples": [{"t", "diagnostics"}],
"actions": [{"t", "action", "target", "ok", "detail"}], "screenshot": {"path", "t"}, "console": [...],
"exceptions": [...], "error"}. The exit status is 0 when the page loaded and every action found its element and was
done, 1 otherwise, 2 for bad arguments.
"""

import argparse
import base64
import fcntl
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


class DevToolsError(Exception):
    pass


class Pipe:
    """The DevTools protocol over Chromium's pipe: commands with ids, answers matched to them, events queued."""

    def __init__(self, write_fd, read_fd):
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.next_id = 0
        self.lock = threading.Lock()
        self.answers = {}
        self.answered = threading.Condition(self.lock)
        self.events = queue.Queue(maxsize=10000)
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self.read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self.lock:
                    self.closed = True
                    self.answered.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                text, buffer = buffer.split(b"\0", 1)
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if "id" in message:
                    with self.lock:
                        self.answers[message["id"]] = message
                        self.answered.notify_all()
                else:
                    try:
                        self.events.put_nowait(message)
                    except queue.Full:
                        pass

    def call(self, method, params=None, session=None, timeout=10.0):
        with self.lock:
            self.next_id += 1
            ident = self.next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self.write_fd, data):]
        except OSError as error:
            raise DevToolsError("%s: the pipe to Chromium is closed (%s)" % (method, error))
        deadline = time.monotonic() + timeout
        with self.lock:
            while ident not in self.answers:
                left = deadline - time.monotonic()
                if self.closed:
                    raise DevToolsError("%s: Chromium closed the pipe" % method)
                if left <= 0:
                    raise DevToolsError("%s: no answer within %.0f s" % (method, timeout))
                self.answered.wait(left)
            answer = self.answers.pop(ident)
        if "error" in answer:
            raise DevToolsError("%s: %s" % (method, answer["error"].get("message", answer["error"])))
        return answer.get("result", {})


def read_der(data, offset):
    """One DER element at offset: (tag, start of contents, end of contents)."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("truncated DER")
    return tag, offset, offset + length


def spki_sha256_base64(pem_text):
    """The base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo, as --ignore-certificate-errors-spki-list wants."""
    lines = pem_text.strip().splitlines()
    try:
        begin = lines.index("-----BEGIN CERTIFICATE-----")
        end = lines.index("-----END CERTIFICATE-----", begin)
    except ValueError:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) in the file")
    der = base64.b64decode("".join(lines[begin + 1:end]))
    _, certificate, _ = read_der(der, 0)              # Certificate ::= SEQUENCE
    _, position, tbs_end = read_der(der, certificate)  # tbsCertificate ::= SEQUENCE
    if der[position] == 0xA0:                          # [0] version, optional
        position = read_der(der, position)[2]
    for _ in range(5):                                 # serial, signature, issuer, validity, subject
        position = read_der(der, position)[2]
    tag, _, spki_end = read_der(der, position)
    if tag != 0x30 or spki_end > tbs_end:
        raise ValueError("no SubjectPublicKeyInfo where expected")
    return base64.b64encode(hashlib.sha256(der[position:spki_end]).digest()).decode()


def timed(value, option, default_time=None):
    """'X@S' or 'X@STATE+S' as (X, (STATE or None, S)); without '@', (X, (None, default_time)) where allowed."""
    if "@" in value:
        head, _, tail = value.rpartition("@")
        state, plus, offset = tail.rpartition("+")
        if not plus and not tail.replace(".", "", 1).isdigit():
            state, offset = tail, "0"
        try:
            at = float(offset)
        except ValueError:
            raise argparse.ArgumentTypeError("%s %s: after @ give SECONDS or STATE+SECONDS" % (option, value))
        if at < 0:
            raise argparse.ArgumentTypeError("%s %s: the time must not be negative" % (option, value))
        return head, (state or None, at)
    if default_time is None:
        raise argparse.ArgumentTypeError("%s %s: give it as VALUE@SECONDS or VALUE@STATE+SECONDS" % (option, value))
    return value, (None, default_time)


ACTION_SCRIPTS = {
    "click": """(function (id) {
        var element = document.getElementById(id);
        if (!element) return {ok: false, detail: "no element #" + id};
        if (element.disabled) return {ok: false, detail: "#" + id + " is disabled"};
        element.click();
        return {ok: true, detail: ""};
    })(%s)""",
    "floor": """(function (site) {
        var button = site === "-" ? document.getElementById("floor-take")
            : document.querySelector("#floor-sites [data-floor-site=" + JSON.stringify(site) + "]");
        if (!button) return {ok: false, detail: site === "-" ? "no element #floor-take" : "no floor button for " + site};
        if (button.disabled) return {ok: false, detail: "the floor button for " + site + " is disabled"};
        button.click();
        return {ok: true, detail: ""};
    })(%s)""",
    "eval": """(function (source) {
        try { return {ok: true, detail: JSON.stringify((0, eval)(source))}; }
        catch (e) { return {ok: false, detail: String(e)}; }
    })(%s)""",
}

DIAGNOSTICS = """(async function () {
    if (typeof window.vcbridgeDiagnostics !== "function") return null;
    return await window.vcbridgeDiagnostics();
})()"""


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the page to open")
    parser.add_argument("--certificate", help="the server's PEM certificate, trusted by its public key (pinned)")
    parser.add_argument("--spki", help="or the base64 SHA-256 of the public key to trust")
    parser.add_argument("--key-file", help="put this file into the page's file input (#key-file, else the first one)")
    parser.add_argument("--key-input", default="key-file", help="the id of the page's file input (default key-file)")
    parser.add_argument("--audio", help="WAV file for the fake microphone (looped)")
    parser.add_argument("--video", help="Y4M file for the fake camera (looped)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to watch the page after it loaded")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between diagnostics samples")
    parser.add_argument("--click", action="append", default=[], metavar="ID@S")
    parser.add_argument("--floor", action="append", default=[], metavar="SITE@S")
    parser.add_argument("--eval", action="append", default=[], metavar="JS@S")
    parser.add_argument("--screenshot", metavar="FILE[@S]")
    parser.add_argument("--patience", type=float, default=5.0, help="seconds a click waits for its element")
    parser.add_argument("--lang", help="the browser's language (e.g. en-US); default Chromium's")
    parser.add_argument("--window", default="1366,768", help="window size W,H (default 1366,768)")
    parser.add_argument("--chromium", default=os.environ.get("VCBRIDGE_CHROMIUM", "chromium"), help="the browser to run")
    parser.add_argument("--load-timeout", type=float, default=15.0, help="seconds to wait for the page to load")
    parser.add_argument("--keep-profile", action="store_true", help="keep the browser's profile directory")
    arguments = parser.parse_args(argv)
    try:
        arguments.actions = [(timed(v, "--" + kind)[1], kind, timed(v, "--" + kind)[0])
                             for kind in ["click", "floor", "eval"] for v in getattr(arguments, kind)]
        arguments.shot = timed(arguments.screenshot, "--screenshot", arguments.seconds) if arguments.screenshot else None
        width, height = (int(x) for x in arguments.window.split(","))
        arguments.size = (width, height)
    except (argparse.ArgumentTypeError, ValueError) as error:
        parser.error(str(error))
    if arguments.seconds <= 0 or arguments.seconds > 600 or arguments.interval < 0.05:
        parser.error("--seconds must be in (0, 600] and --interval at least 0.05")
    for path, option in [(arguments.key_file, "--key-file"), (arguments.audio, "--audio"), (arguments.video, "--video"),
                         (arguments.certificate, "--certificate")]:
        if path and not os.path.isfile(path):
            parser.error("%s: no file %s" % (option, path))
    if shutil.which(arguments.chromium) is None:
        parser.error("--chromium: %s is not installed (apt-get install chromium)" % arguments.chromium)
    return arguments


def chromium_flags(arguments, profile):
    flags = [
        "--headless=new", "--remote-debugging-pipe", "--user-data-dir=" + profile, "--no-first-run",
        "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-breakpad", "--disable-crash-reporter", "--mute-audio",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
        "--window-size=%d,%d" % arguments.size, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection", "--disable-dev-shm-usage",
    ]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    if arguments.audio:
        flags.append("--use-file-for-fake-audio-capture=" + os.path.abspath(arguments.audio))
    if arguments.video:
        flags.append("--use-file-for-fake-video-capture=" + os.path.abspath(arguments.video))
    spki = arguments.spki
    if arguments.certificate:
        with open(arguments.certificate) as handle:
            spki = spki_sha256_base64(handle.read())
    if spki:
        flags.append("--ignore-certificate-errors-spki-list=" + spki)
    if arguments.lang:
        flags += ["--lang=" + arguments.lang, "--accept-lang=" + arguments.lang]
    return flags + ["about:blank"]


class Browser:
    def __init__(self, arguments):
        self.profile = tempfile.mkdtemp(prefix="vcb-chromium-")
        self.keep_profile = arguments.keep_profile
        # Chromium reads commands on its fd 3 and writes on its fd 4.
        to_chromium_read, to_chromium_write = os.pipe()
        from_chromium_read, from_chromium_write = os.pipe()
        self.stderr = tempfile.TemporaryFile()

        def child_fds():
            # Python's descriptors close on exec; these two are made again as 3 and 4, which do not (subprocess would
            # close them after this function with close_fds). Out of the way first, in case either end is 3 or 4.
            reading = fcntl.fcntl(to_chromium_read, fcntl.F_DUPFD, 10)
            writing = fcntl.fcntl(from_chromium_write, fcntl.F_DUPFD, 10)
            os.dup2(reading, 3)
            os.dup2(writing, 4)
            os.setsid()  # its own process group, so the whole browser can be ended at once

        self.process = subprocess.Popen([arguments.chromium] + chromium_flags(arguments, self.profile),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                        close_fds=False, preexec_fn=child_fds)
        os.close(to_chromium_read)
        os.close(from_chromium_write)
        self.pipe = Pipe(to_chromium_write, from_chromium_read)
        self.pipe_fds = (to_chromium_write, from_chromium_read)

    def close(self):
        try:
            self.pipe.call("Browser.close", timeout=5)
        except DevToolsError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait(timeout=5)
        for fd in self.pipe_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if not self.keep_profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    def stderr_tail(self, limit=2000):
        """The end of what Chromium wrote, without its complaints about the missing D-Bus of a server."""
        self.stderr.seek(0)
        lines = self.stderr.read().decode("utf-8", "replace").splitlines()
        return "\n".join(line for line in lines if "dbus" not in line)[-limit:]


def run(arguments):
    report = {"ok": False, "url": arguments.url, "chromium": None, "samples": [], "actions": [], "screenshot": None,
              "console": [], "exceptions": [], "error": None}
    browser = Browser(arguments)
    pipe = browser.pipe
    page_loaded = threading.Event()

    def drain_events(session):
        while True:
            try:
                event = pipe.events.get_nowait()
            except queue.Empty:
                return
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Page.loadEventFired":
                page_loaded.set()
            elif method == "Runtime.consoleAPICalled" and len(report["console"]) < 200:
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                report["console"].append({"type": params.get("type"), "text": text[:500]})
            elif method == "Runtime.exceptionThrown" and len(report["exceptions"]) < 50:
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text", "")
                report["exceptions"].append(text[:500])

    def evaluate(session, expression, timeout=10.0):
        result = pipe.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           session=session, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise DevToolsError(details.get("exception", {}).get("description") or details.get("text", "exception"))
        return result.get("result", {}).get("value")

    def screenshot(session, path, started):
        data = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=15)["data"]
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
        report["screenshot"] = {"path": os.path.abspath(path), "t": round(time.monotonic() - started, 2)}

    try:
        report["chromium"] = pipe.call("Browser.getVersion", timeout=20).get("product")
        targets = pipe.call("Target.getTargets")["targetInfos"]
        page = next((t for t in targets if t.get("type") == "page"), None)
        target = page["targetId"] if page else pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ["Page.enable", "Runtime.enable", "DOM.enable"]:
            pipe.call(method, session=session)
        width, height = arguments.size  # the page's viewport, whatever the headless window's frame takes
        pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                          "mobile": False}, session=session)
        navigated = pipe.call("Page.navigate", {"url": arguments.url}, session=session, timeout=arguments.load_timeout)
        if navigated.get("errorText"):
            raise DevToolsError("the page did not open: %s" % navigated["errorText"])
        deadline = time.monotonic() + arguments.load_timeout
        while not page_loaded.is_set() and time.monotonic() < deadline:
            drain_events(session)
            time.sleep(0.05)
        if not page_loaded.is_set():
            raise DevToolsError("the page did not load within %.0f s" % arguments.load_timeout)
        started = time.monotonic()
        report["startedAt"] = round(time.time(), 3)  # wall-clock time of t = 0, to line samples up with other logs
        seen = {}  # state -> t it was first seen
        ok = True
        if arguments.key_file:
            document = pipe.call("DOM.getDocument", {"depth": 0}, session=session)["root"]["nodeId"]
            node = pipe.call("DOM.querySelector", {"nodeId": document, "selector": "#" + arguments.key_input},
                             session=session)["nodeId"]
            if not node:
                node = pipe.call("DOM.querySelector", {"nodeId": document, "selector": "input[type=file]"},
                                 session=session)["nodeId"]
            entry = {"t": round(time.monotonic() - started, 2), "action": "key-file", "target": arguments.key_file,
                     "ok": bool(node), "detail": "" if node else "no file input on the page"}
            if node:
                pipe.call("DOM.setFileInputFiles", {"nodeId": node, "files": [os.path.abspath(arguments.key_file)]},
                          session=session)
            report["actions"].append(entry)
            ok = ok and bool(node)
        def due(when, now):
            state, offset = when
            base = 0.0 if state is None else seen.get(state)
            return base is not None and base + offset <= now

        actions = list(arguments.actions)
        last_detail = {}  # what an action waiting for its element last found
        shot = arguments.shot
        next_sample = 0.0
        while True:
            now = time.monotonic() - started
            drain_events(session)
            ready = sorted((a for a in actions if due(a[0], now)), key=lambda a: (seen.get(a[0][0], 0.0) + a[0][1]))
            for action in ready:
                when, kind, target_value = action
                try:
                    result = evaluate(session, ACTION_SCRIPTS[kind] % json.dumps(target_value)) or {}
                except DevToolsError as error:
                    result = {"ok": False, "detail": str(error)}
                first_due = seen.get(when[0], 0.0) + when[1]
                if not result.get("ok") and kind != "eval" and now < first_due + arguments.patience:
                    last_detail[action] = result.get("detail", "")
                    continue  # not there or not enabled yet: again at the next turn
                actions.remove(action)
                report["actions"].append({"t": round(time.monotonic() - started, 2), "action": kind,
                                          "target": target_value, "ok": bool(result.get("ok")),
                                          "detail": result.get("detail", "")})
                ok = ok and bool(result.get("ok"))
            if shot and due(shot[1], now):
                screenshot(session, shot[0], started)
                shot = None
            if now >= next_sample:
                try:
                    value = evaluate(session, DIAGNOSTICS, timeout=5)
                except DevToolsError as error:
                    value = {"error": str(error)}
                t = round(time.monotonic() - started, 2)
                report["samples"].append({"t": t, "diagnostics": value})
                if isinstance(value, dict) and isinstance(value.get("state"), str):
                    seen.setdefault(value["state"], t)
                next_sample = now + arguments.interval
            if now >= arguments.seconds:
                break
            time.sleep(min(0.25 if ready else 0.05, max(0.0, arguments.seconds - now)))
        if shot:
            screenshot(session, shot[0], started)
        drain_events(session)
        for action in actions:  # still waiting for a state, or for its element
            when, kind, target_value = action
            detail = ("not done: %s" % last_detail[action] if action in last_detail
                      else "not done: the page never showed state %s" % when[0] if when[0] not in seen
                      else "not done: the run ended first")
            report["actions"].append({"t": None, "action": kind, "target": target_value, "ok": False, "detail": detail})
            ok = False
        report["ok"] = ok
    except (DevToolsError, OSError, KeyError, TypeError, ValueError) as error:
        report["error"] = str(error)
        report["chromiumErrors"] = browser.stderr_tail()
    finally:
        browser.close()
    return report


def main(argv):
    arguments = parse_arguments(argv)
    try:
        report = run(arguments)
    except ValueError as error:  # a certificate that cannot be read
        report = {"ok": False, "error": str(error)}
    print(json.dumps(report, ensure_ascii=False))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
