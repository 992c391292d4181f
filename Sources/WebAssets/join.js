// The room PC's join page: a commune's hall joins its meeting on the bridge over WebRTC.
// Protocol: docs/PROTOCOL.md, "Joining from a browser" and "The session, for the join page".
// Plain JavaScript, no framework, nothing from outside the bridge (the government network has no internet).
"use strict";

// ---- Words: Vietnamese unless the browser prefers English ----

const STRINGS = {
  vi: {
    pageTitle: "Vào cuộc họp trực tuyến", setupHeading: "Chuẩn bị", keyLegend: "Khóa của điểm cầu",
    keyFileLabel: "Nạp tệp khóa (.key) một lần", forgetKey: "Quên khóa", devicesLegend: "Thiết bị",
    camera: "Máy quay", microphone: "Micrô", speaker: "Loa", micLevel: "Mức micrô", selfView: "Hình của điểm cầu",
    join: "Vào họp", waitingHeading: "Chưa đến giờ họp", stopWaiting: "Thôi chờ", meetingHeading: "Trong cuộc họp",
    muteMic: "Tắt micrô", unmuteMic: "Bật micrô", muteCamera: "Tắt máy quay", unmuteCamera: "Bật máy quay",
    leave: "Rời cuộc họp", chairHeading: "Cho điểm cầu phát biểu", floorBack: "Lấy lại quyền phát biểu",
    giveFloor: "Cho phát biểu", hasFloor: "đang phát biểu", offline: "chưa kết nối",
    noKey: "Chưa có khóa. Hãy nạp tệp khóa của điểm cầu.", keyFor: (s, g) => `Khóa của điểm cầu ${s} (thế hệ ${g}) đã lưu trong trình duyệt.`,
    keyOther: (s, e) => `Chú ý: khóa là của ${s}, đường dẫn dành cho ${e}.`, keyBad: (w) => `Tệp khóa không dùng được: ${w}.`,
    keyForgotten: "Đã quên khóa.", noDevice: "không có", defaultSpeaker: "Loa mặc định", noSinkId: "Trình duyệt này không chọn được loa",
    deviceError: (e) => `Không mở được máy quay/micrô: ${e}`, joining: "Đang vào họp…", inMeeting: "Đã vào họp.",
    rejoining: (s) => `Mất kết nối, tự vào lại sau ${s} giây…`, refusedKey: "Cầu nối không nhận khóa này (khóa sai, đã thu hồi, hoặc đồng hồ máy lệch).",
    refused: (r) => `Cầu nối từ chối: ${r}`, badProof: "Cầu nối không chứng minh được khóa: không vào họp.",
    notBooked: "Điểm cầu chưa có cuộc họp nào được đặt.",
    next: (t, start, ready) => `Cuộc họp tiếp theo: «${t}», bắt đầu ${start}. Phòng sẵn sàng từ ${ready}; trang sẽ tự vào họp lúc đó.`,
    timeLeft: (t) => `Còn lại ${t}`, ended: "Đã hết giờ", warning: (m) => `Cuộc họp còn ${m} phút`,
    extended: (t) => `Cuộc họp được gia hạn đến ${t}`, left: "Đã rời cuộc họp.",
    speakerNow: "Đang phát biểu", nobody: "chưa có hình",
    quality: (g, d) => `Đường truyền: ${g} (${d})`, good: "tốt", fair: "trung bình", poor: "kém",
    qualityDetail: (l, j, r) => `mất ${l} %, jitter ${j} ms, trễ ${r} ms`, floorFailed: (r) => `Không đổi được quyền phát biểu: ${r}`,
  },
  en: {
    pageTitle: "Join the video meeting", setupHeading: "Setup", keyLegend: "The site's key",
    keyFileLabel: "Load the key file (.key) once", forgetKey: "Forget the key", devicesLegend: "Devices",
    camera: "Camera", microphone: "Microphone", speaker: "Speaker", micLevel: "Microphone level", selfView: "This site's camera",
    join: "Join", waitingHeading: "The meeting has not started", stopWaiting: "Stop waiting", meetingHeading: "In the meeting",
    muteMic: "Mute microphone", unmuteMic: "Unmute microphone", muteCamera: "Turn camera off", unmuteCamera: "Turn camera on",
    leave: "Leave the meeting", chairHeading: "Give the floor to", floorBack: "Take the floor back",
    giveFloor: "Give the floor", hasFloor: "has the floor", offline: "not connected",
    noKey: "No key yet. Load the site's key file.", keyFor: (s, g) => `The key of site ${s} (generation ${g}) is kept in this browser.`,
    keyOther: (s, e) => `Note: the key is ${s}'s; the link is for ${e}.`, keyBad: (w) => `The key file cannot be used: ${w}.`,
    keyForgotten: "The key was forgotten.", noDevice: "none", defaultSpeaker: "Default speaker", noSinkId: "This browser cannot choose the speaker",
    deviceError: (e) => `Cannot open the camera/microphone: ${e}`, joining: "Joining…", inMeeting: "In the meeting.",
    rejoining: (s) => `Connection lost; joining again in ${s} s…`, refusedKey: "The bridge refused this key (wrong, revoked, or this PC's clock is off).",
    refused: (r) => `The bridge refused: ${r}`, badProof: "The bridge could not prove the key: not joining.",
    notBooked: "No meeting is booked for this site.",
    next: (t, start, ready) => `Next meeting: “${t}”, starting ${start}. The room is ready from ${ready}; the page joins by itself then.`,
    timeLeft: (t) => `${t} left`, ended: "Time is up", warning: (m) => `${m} minute${m === 1 ? "" : "s"} left in the meeting`,
    extended: (t) => `The meeting was extended to ${t}`, left: "You left the meeting.",
    speakerNow: "Speaking", nobody: "no picture",
    quality: (g, d) => `Link: ${g} (${d})`, good: "good", fair: "fair", poor: "poor",
    qualityDetail: (l, j, r) => `loss ${l} %, jitter ${j} ms, RTT ${r} ms`, floorFailed: (r) => `Could not change the floor: ${r}`,
  },
};
const LANG = (navigator.languages || [navigator.language || "vi"]).map((l) => l.slice(0, 2).toLowerCase())
  .find((l) => l === "vi" || l === "en") || "vi";
const T = STRINGS[LANG];
const $ = (id) => document.getElementById(id);

function translatePage() {
  document.documentElement.lang = LANG;
  document.title = T.pageTitle;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = T[el.dataset.t];
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", T[el.dataset.tLabel]);
}

const clock = (iso) => new Date(iso).toLocaleString(LANG === "vi" ? "vi-VN" : "en-GB",
  { hour: "2-digit", minute: "2-digit", day: "numeric", month: "numeric" });
const say = (text) => { $("status").textContent = text; };

// ---- The key: imported once, kept as a non-extractable CryptoKey in IndexedDB ----

const LABEL = "vcbridge-webrtc-v1";
const utf8 = (s) => new TextEncoder().encode(s);
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

function parseKeyFile(text) {
  const fields = {};
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim();
    if (l === "" || l.startsWith("#")) continue;
    const eq = l.indexOf("=");
    if (eq > 0) fields[l.slice(0, eq).trim()] = l.slice(eq + 1).trim();
  }
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(fields.site || "")) throw new Error("site=");
  if (!/^[0-9a-fA-F]{64}$/.test(fields.secret || "")) throw new Error("secret= (64 hex)");
  if (!/^[0-9]{1,9}$/.test(fields.generation || "")) throw new Error("generation=");
  return { site: fields.site, secret: unhex(fields.secret), generation: Number(fields.generation) };
}

function keyStore(mode, work) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("vcbridge-join", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("key");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("key", mode);
      const request = work(tx.objectStore("key"));
      tx.oncomplete = () => { open.result.close(); resolve(request.result); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
const loadKey = () => keyStore("readonly", (s) => s.get("site"));
const saveKey = (k) => keyStore("readwrite", (s) => s.put(k, "site"));
const forgetKey = () => keyStore("readwrite", (s) => s.delete("site"));

// A = HKDF(salt = nonce, IKM = secret, info = "vcbridge-webrtc-v1 auth <site>"), as an HMAC key.
async function authenticationKey(stored, nonce) {
  const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: nonce, info: utf8(`${LABEL} auth ${stored.site}`) },
    stored.key, 256);
  return crypto.subtle.importKey("raw", bits, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}
const signed = (role, site, time, nonce, rest) => concat(utf8(`${LABEL}|${role}|${site}|${time}|`), nonce, rest);

// A fresh nonce and the Authorization header over `bytes` for `role` ("site" for the join, "floor").
async function authorize(stored, role, bytes) {
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const time = Math.floor(Date.now() / 1000);
  const key = await authenticationKey(stored, nonce);
  const proof = await crypto.subtle.sign("HMAC", key, signed(role, stored.site, time, nonce, bytes));
  return { key, nonce, time, header: `VCBridge site="${stored.site}", nonce="${hex(nonce)}", time="${time}", proof="${hex(proof)}"` };
}

function fingerprintOf(sdp) {
  const m = /a=fingerprint:sha-256 ([0-9A-Fa-f:]{95})/i.exec(sdp);
  if (!m) throw new Error("no sha-256 fingerprint");
  return unhex(m[1].replace(/:/g, ""));
}

// The site the link names (`/join/#lang-cong`); a malformed link names none rather than stopping the page.
function siteInLink() {
  try { return decodeURIComponent(location.hash.slice(1)); } catch (error) { return ""; }
}

// ---- Devices: camera, microphone, speaker, with a level meter and self-view ----

const app = {
  state: "setup", key: null, local: null, pc: null, token: null, session: null, serverSkew: 0,
  rejoins: 0, backoff: 0, timer: null, poller: null, failures: 0, disconnectedSince: 0, wanted: false,
  audio: null, incoming: null, micMeter: null, frames: { presenter: 0, speaker: 0 }, lastStats: null,
  notice: "", seen: {}, answeredAt: 0, expected: siteInLink(),
};

async function openDevices() {
  const pick = (id) => ($(id).value ? { deviceId: { exact: $(id).value } } : true);
  if (app.local) for (const t of app.local.getTracks()) t.stop();
  try {
    app.local = await navigator.mediaDevices.getUserMedia({ audio: pick("microphone"), video: pick("camera") });
  } catch (error) {
    say(T.deviceError(error.name || error));
    app.local = new MediaStream();
  }
  applyMutes();
  $("self-view").srcObject = app.local;
  meterMicrophone();
  await listDevices();
  if (app.pc) replaceTracks();
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const inUse = (kind) => app.local.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
  const fill = (id, kind, current, fallback) => {
    const select = $(id);
    const options = devices.filter((d) => d.kind === kind)
      .map((d, i) => new Option(d.label || `${T[id]} ${i + 1}`, d.deviceId));
    if (options.length === 0) options.push(new Option(fallback, ""));
    select.replaceChildren(...options);
    if (current) select.value = current;
  };
  fill("camera", "videoinput", inUse("video"), T.noDevice);
  fill("microphone", "audioinput", inUse("audio"), T.noDevice);
  const canChoose = "setSinkId" in HTMLMediaElement.prototype;
  fill("speaker", "audiooutput", localStorage.getItem("vcbridge-speaker"), canChoose ? T.defaultSpeaker : T.noSinkId);
  $("speaker").disabled = !canChoose;
}

async function chooseSpeaker() {
  localStorage.setItem("vcbridge-speaker", $("speaker").value);
  try { await $("remote-audio").setSinkId($("speaker").value); } catch (error) { say(T.deviceError(error.name)); }
}

function audioContext() {
  if (!app.audio) app.audio = new AudioContext({ sampleRate: 48000 });
  if (app.audio.state === "suspended") app.audio.resume();
  return app.audio;
}

function analyserFor(track, fftSize) {
  const ctx = audioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = fftSize;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  return analyser;
}

function meterMicrophone() {
  const track = app.local.getAudioTracks()[0];
  app.micMeter = track ? analyserFor(track, 2048) : null;
}

function showMicLevel() {
  if (!app.micMeter) return;
  const samples = new Float32Array(app.micMeter.fftSize);
  app.micMeter.getFloatTimeDomainData(samples);
  const rms = Math.sqrt(samples.reduce((s, x) => s + x * x, 0) / samples.length);
  const dbfs = 20 * Math.log10(rms + 1e-9);
  $("mic-level").value = Math.max(0, Math.min(1, (dbfs + 60) / 60));
}

// The strongest frequency heard and its level (dBFS); peakHz only while louder than -50 dBFS.
// peaks: the frequencies of up to 4 local maxima above -50 dBFS, strongest first (a mix of tones).
function incomingPeak() {
  if (!app.incoming) return { peakHz: null, level: null, peaks: [] };
  const bins = new Float32Array(app.incoming.frequencyBinCount);
  app.incoming.getFloatFrequencyData(bins);
  const hz = (i) => Math.round((i * app.audio.sampleRate) / app.incoming.fftSize);
  let best = 0;
  const maxima = [];
  for (let i = 1; i < bins.length; i++) {
    if (bins[i] > bins[best]) best = i;
    if (bins[i] > -50 && bins[i] >= bins[i - 1] && bins[i] > (bins[i + 1] ?? -Infinity)) maxima.push(i);
  }
  const level = Number.isFinite(bins[best]) ? Math.round(bins[best] * 10) / 10 : null;
  const peaks = [];
  for (const i of maxima.sort((x, y) => bins[y] - bins[x])) {
    if (peaks.length < 4 && peaks.every((p) => Math.abs(p - hz(i)) > 50)) peaks.push(hz(i));
  }
  return { peakHz: level !== null && level > -50 ? hz(best) : null, level, peaks };
}

// ---- Joining ----

function setState(state) {
  if (state === "in-meeting" && app.state !== state) say(T.inMeeting);
  app.state = state;
  document.body.dataset.state = state;
  $("setup").hidden = state !== "setup";
  $("waiting").hidden = state !== "waiting";
  $("meeting").hidden = !["in-meeting", "rejoining", "joining"].includes(state) || !app.session;
}

function closeConnection() {
  clearInterval(app.poller);
  app.poller = null;
  if (app.pc) { app.pc.onconnectionstatechange = null; app.pc.close(); }
  app.pc = null;
  app.incoming = null;
  app.lastStats = null;
  app.frames = { presenter: 0, speaker: 0 };
}

async function join() {
  clearTimeout(app.timer);
  if (!app.key) { say(T.noKey); setState("setup"); return; }
  if (!app.local) await openDevices();
  app.wanted = true;
  audioContext();
  setState(app.state === "rejoining" ? "rejoining" : "joining");
  say(T.joining);
  closeConnection();
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
  app.pc = pc;
  const mic = app.local.getAudioTracks()[0];
  const cam = app.local.getVideoTracks()[0];
  pc.addTransceiver(mic || "audio", { direction: "sendrecv", streams: [app.local] });
  pc.addTransceiver(cam || "video", { direction: "sendrecv", streams: [app.local] });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (event) => receive(event.transceiver.mid, event.track);
  pc.onconnectionstatechange = () => watchConnection(pc);
  let response, auth, offer;
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    offer = pc.localDescription.sdp;
    auth = await authorize(app.key, "site", fingerprintOf(offer));
    response = await fetch("/webrtc/join", {
      method: "POST", body: offer, cache: "no-store", signal: AbortSignal.timeout(10000),
      headers: { "Content-Type": "application/sdp", Authorization: auth.header },
    });
  } catch (error) {
    return retry();
  }
  if (pc !== app.pc) return;
  if (response.status === 201) return answered(pc, response, auth, offer);
  const body = await response.json().catch(() => ({}));
  closeConnection();
  if (response.status === 403 && body.reason === "not-booked") return wait(body.next);
  if (response.status === 401) { app.wanted = false; setState("setup"); say(T.refusedKey); return; }
  if (response.status >= 500) return retry();
  app.wanted = false;
  setState("setup");
  say(T.refused(`${response.status} ${body.reason || ""} ${body.detail || ""}`));
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000);
  });
}

async function answered(pc, response, auth, offer) {
  let answer;
  try { answer = await response.text(); } catch (error) { return retry(); }
  const proof = response.headers.get("VCBridge-Proof") || "";
  let valid = false;
  try {
    valid = /^[0-9a-f]{64}$/i.test(proof) && await crypto.subtle.verify("HMAC", auth.key, unhex(proof),
      signed("bridge", app.key.site, auth.time, auth.nonce, concat(fingerprintOf(offer), fingerprintOf(answer))));
  } catch (error) { valid = false; }
  if (!valid) { closeConnection(); app.wanted = false; setState("setup"); say(T.badProof); return; }
  app.token = (response.headers.get("Location") || "").split("/").pop();
  try { await pc.setRemoteDescription({ type: "answer", sdp: answer }); } catch (error) { return retry(); }
  if (pc !== app.pc) return;
  app.failures = 0;
  app.disconnectedSince = 0;
  app.answeredAt = Date.now();
  app.poller = setInterval(poll, 1000);
  poll();
}

function receive(mid, track) {
  if (track.kind === "audio") {
    $("remote-audio").srcObject = new MediaStream([track]);
    app.incoming = analyserFor(track, 8192);
  } else {
    $(mid === "1" ? "presenter-video" : "speaker-video").srcObject = new MediaStream([track]);
  }
}

function watchConnection(pc) {
  if (pc !== app.pc) return;
  const state = pc.connectionState;
  if (state === "connected") {
    app.backoff = 0;
    app.disconnectedSince = 0;
    if (app.session) setState("in-meeting");
  } else if (state === "disconnected") {
    app.disconnectedSince = app.disconnectedSince || Date.now();
  } else if (state === "failed") {
    retry();
  }
}

// Rejoin by itself: 0.5, 1, 2, 3, then every 5 s.
function retry() {
  if (!app.wanted) return;
  closeConnection();
  if (app.token) fetch(`/webrtc/sessions/${app.token}`, { method: "DELETE", signal: AbortSignal.timeout(5000) }).catch(() => {});
  app.token = null;
  const delay = [0.5, 1, 2, 3, 5][Math.min(app.backoff, 4)];
  app.backoff += 1;
  if (app.state !== "rejoining") app.rejoins += 1;
  setState("rejoining");
  say(T.rejoining(delay));
  clearTimeout(app.timer);
  app.timer = setTimeout(join, delay * 1000);
}

// Not booked: show the next meeting, try at the room's setup time and every 60 s meanwhile (bookings change).
function wait(next) {
  setState("waiting");
  say("");
  $("next-booking").textContent = next ? T.next(next.title, clock(next.start), clock(next.roomReadyFrom)) : T.notBooked;
  const until = next ? new Date(next.roomReadyFrom).getTime() - Date.now() : Infinity;
  clearTimeout(app.timer);
  app.timer = setTimeout(join, Math.max(1000, Math.min(until, 60000)));
}

// ---- In the meeting: the session every second, the link's statistics ----

async function poll() {
  const pc = app.pc;
  if (!pc || !app.token || app.polling) return;
  app.polling = true;
  let response;
  try { response = await fetch(`/webrtc/sessions/${app.token}`, { cache: "no-store", signal: AbortSignal.timeout(3000) }); } catch (error) { response = null; }
  app.polling = false;
  if (pc !== app.pc) return;
  if (response && response.status === 404) { app.token = null; return retry(); }
  if (!response || !response.ok) { app.failures += 1; if (app.failures >= 3) retry(); return; }
  app.failures = 0;
  const session = await response.json();
  app.serverSkew = new Date(session.now).getTime() - Date.now();
  app.session = session;
  if (pc.connectionState === "connected") setState("in-meeting");
  else if (app.disconnectedSince ? Date.now() - app.disconnectedSince > 4000 : Date.now() - app.answeredAt > 10000) return retry();
  showSession(session);
  await readStats(pc);
}

function showSession(s) {
  $("meeting-title").textContent = s.meeting.title;
  $("site-line").textContent = s.siteName;
  $("presenter-name").textContent = s.presenter ? s.presenter.name : T.nobody;
  $("speaker-name").textContent = `${T.speakerNow}: ${s.speaker ? s.speaker.name : T.nobody}`;
  showNotice(s);
  $("chair").hidden = !s.chair;
  if (s.chair) showFloor(s);
}

function showNotice(s) {
  const latest = s.notices[s.notices.length - 1];
  let text = "";
  if (latest && latest.type === "warning" && latest.end === s.meeting.end && new Date(latest.end) > serverNow()) {
    text = T.warning(latest.minutesLeft);
  } else if (latest && latest.type === "extended") {
    const seen = app.seen[latest.end] || (app.seen[latest.end] = Date.now());
    if (Date.now() - seen < 60000) text = T.extended(clock(latest.end));
  }
  if (text === app.notice) return;
  app.notice = text;
  $("warning").textContent = text;
  $("warning").hidden = text === "";
}

const serverNow = () => new Date(Date.now() + app.serverSkew);

function showTimeLeft() {
  if (!app.session || app.state === "setup" || app.state === "waiting") { $("time-left").textContent = ""; return; }
  const seconds = Math.max(0, Math.round((new Date(app.session.meeting.end) - serverNow()) / 1000));
  const two = (n) => String(n).padStart(2, "0");
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), sec = seconds % 60;
  $("time-left").textContent = seconds === 0 ? T.ended : T.timeLeft(h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`);
}

function showFloor(s) {
  const list = $("floor-sites");
  const key = JSON.stringify([s.floor, s.sites]);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...s.sites.filter((site) => site.site !== s.site).map((site) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.floorSite = site.site;
    const note = s.floor === site.site ? ` (${T.hasFloor})` : site.connected ? "" : ` (${T.offline})`;
    button.textContent = site.name + note;
    button.setAttribute("aria-label", `${T.giveFloor}: ${site.name}${note}`);
    button.setAttribute("aria-pressed", String(s.floor === site.site));
    item.append(button);
    return item;
  }));
  $("floor-take").disabled = s.floor === null;
}

async function giveFloor(site) {
  if (!app.token || !app.key) return;
  const body = utf8(JSON.stringify({ site }));
  const auth = await authorize(app.key, "floor", body);
  const response = await fetch(`/webrtc/sessions/${app.token}/floor`, {
    method: "POST", body, cache: "no-store", signal: AbortSignal.timeout(10000), headers: { "Content-Type": "application/json", Authorization: auth.header },
  }).catch(() => null);
  if (!response || !response.ok) {
    const why = response ? (await response.json().catch(() => ({}))).reason || response.status : "network";
    say(T.floorFailed(why));
  }
  poll();
}

async function readStats(pc) {
  const stats = await pc.getStats();
  const streams = { "1": "presenter", "2": "speaker" };
  const byTrack = {};
  for (const t of pc.getTransceivers()) if (t.receiver.track) byTrack[t.receiver.track.id] = streams[t.mid];
  let lost = 0, received = 0, jitter = 0, rtt = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp") {
      lost += r.packetsLost || 0;
      received += r.packetsReceived || 0;
      jitter = Math.max(jitter, r.jitter || 0);
      const stream = r.kind === "video" && (streams[r.mid] || byTrack[r.trackIdentifier]);
      if (stream) app.frames[stream] = r.framesDecoded || 0;
    } else if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded" && r.currentRoundTripTime !== undefined) {
      rtt = r.currentRoundTripTime;
    }
  });
  const last = app.lastStats || { lost: 0, received: 0 };
  app.lastStats = { lost, received };
  const dLost = Math.max(0, lost - last.lost), dAll = Math.max(1, dLost + received - last.received);
  const loss = (100 * dLost) / dAll, jitterMs = jitter * 1000, rttMs = rtt === null ? 0 : rtt * 1000;
  const grade = loss >= 8 || jitterMs >= 80 || rttMs >= 400 ? "poor" : loss >= 2 || jitterMs >= 30 || rttMs >= 150 ? "fair" : "good";
  const line = $("link-quality");
  line.dataset.grade = grade;
  line.textContent = T.quality(T[grade], T.qualityDetail(loss.toFixed(1), Math.round(jitterMs), rtt === null ? "?" : Math.round(rttMs)));
}

// ---- Controls ----

// Mute: the button says what it will do; data-muted keeps the choice across new devices and rejoins.
function toggle(button, on, off) {
  const muted = button.dataset.muted !== "true";
  button.dataset.muted = String(muted);
  button.textContent = muted ? T[off] : T[on];
  applyMutes();
}

function applyMutes() {
  if (!app.local) return;
  for (const t of app.local.getAudioTracks()) t.enabled = $("mute-mic").dataset.muted !== "true";
  for (const t of app.local.getVideoTracks()) t.enabled = $("mute-camera").dataset.muted !== "true";
}

function replaceTracks() {
  const [audio, video] = app.pc.getTransceivers();
  audio.sender.replaceTrack(app.local.getAudioTracks()[0] || null);
  video.sender.replaceTrack(app.local.getVideoTracks()[0] || null);
}

function leave() {
  app.wanted = false;
  clearTimeout(app.timer);
  if (app.token) fetch(`/webrtc/sessions/${app.token}`, { method: "DELETE", signal: AbortSignal.timeout(5000) }).catch(() => {});
  app.token = null;
  closeConnection();
  app.session = null;
  setState("setup");
  say(T.left);
}

async function showKey() {
  app.key = await loadKey().catch(() => null) || null;
  const k = app.key;
  $("key-status").textContent = k ? T.keyFor(k.site, k.generation) : T.noKey;
  if (k && app.expected && app.expected !== k.site) $("key-status").textContent += " " + T.keyOther(k.site, app.expected);
  $("forget-key").disabled = !k;
  $("join").disabled = !k;
}

async function readKeyFile() {
  const file = $("key-file").files[0];
  if (!file) return;
  try {
    const parsed = parseKeyFile(await file.text());
    const key = await crypto.subtle.importKey("raw", parsed.secret, "HKDF", false, ["deriveKey", "deriveBits"]);
    parsed.secret.fill(0);
    await saveKey({ site: parsed.site, generation: parsed.generation, key });
    say("");
  } catch (error) {
    say(T.keyBad(error.message));
  }
  $("key-file").value = "";
  await showKey();
}

// ---- Diagnostics, for technicians and tests ----

window.vcbridgeDiagnostics = () => ({
  state: app.state,
  site: app.key ? app.key.site : null,
  meeting: app.session ? app.session.meeting.id : null,
  presenter: app.session && app.session.presenter ? app.session.presenter.site : null,
  speaker: app.session && app.session.speaker ? app.session.speaker.site : null,
  incoming: incomingPeak(),
  framesDecoded: { ...app.frames },
  connectionState: app.pc ? app.pc.connectionState : "closed",
  rejoins: app.rejoins,
  chair: app.session ? app.session.chair === true : false,
});

function showDiagnostics() {
  const d = window.vcbridgeDiagnostics();
  $("diagnostics").textContent = `${d.state} · ${d.site || "-"} · meeting ${d.meeting ?? "-"} · ${d.connectionState} · `
    + `heard ${d.incoming.peaks.join("+") || "-"} Hz (${d.incoming.level ?? "-"} dBFS) · frames ${d.framesDecoded.presenter}/`
    + `${d.framesDecoded.speaker} · rejoins ${d.rejoins}`;
}

// ---- Start ----

function start() {
  translatePage();
  setState("setup");
  $("key-file").addEventListener("change", readKeyFile);
  $("forget-key").addEventListener("click", async () => { await forgetKey(); await showKey(); say(T.keyForgotten); });
  $("camera").addEventListener("change", openDevices);
  $("microphone").addEventListener("change", openDevices);
  $("speaker").addEventListener("change", chooseSpeaker);
  $("join").addEventListener("click", join);
  $("stop-waiting").addEventListener("click", leave);
  $("leave").addEventListener("click", leave);
  $("mute-mic").addEventListener("click", (e) => toggle(e.currentTarget, "muteMic", "unmuteMic"));
  $("mute-camera").addEventListener("click", (e) => toggle(e.currentTarget, "muteCamera", "unmuteCamera"));
  navigator.mediaDevices.addEventListener("devicechange", listDevices);
  // Closing or reloading the page leaves the meeting at once (else the bridge waits for the site to be lost).
  window.addEventListener("pagehide", () => {
    if (app.token) fetch(`/webrtc/sessions/${app.token}`, { method: "DELETE", keepalive: true }).catch(() => {});
  });
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => audioContext(), { once: true });
  $("floor-sites").addEventListener("click", (e) => { const b = e.target.closest("[data-floor-site]"); if (b) giveFloor(b.dataset.floorSite); });
  $("floor-take").addEventListener("click", () => giveFloor(null));
  setInterval(() => { showMicLevel(); }, 100);
  setInterval(() => { showTimeLeft(); showDiagnostics(); }, 1000);
  showKey();
  openDevices().then(() => { if (localStorage.getItem("vcbridge-speaker")) chooseSpeaker(); });
}

start();
