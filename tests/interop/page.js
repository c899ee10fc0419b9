// The interop page: joins a Confab room with the unmodified twilio-video.js and reports to the
// harness (POST /report, one JSON object per report, appended to REPORTS/<page>.jsonl).
//
// URL parameters: page (report id), ws (wsServer), token, room, audio/video/data (1/0, what to
// publish), dominantSpeaker, networkQuality (1/0), bandwidthProfile (JSON, connect()'s option),
// duration (s after connect, then "finish"; 0: only on command), script (JSON [{at: s after
// connect, do, text?}]).
// Commands (from the script or long-polled from GET /next): mute-audio, unmute-audio, mute-video,
// unmute-video, unpublish-video, republish-video, switch-off, switch-on (every remote video), send {text},
// drop-ws, stats, finish.
//
// Report kinds (field "report"): "event" {event, ...}, "tick" every second {frames: {trackSid: n}}, "final"
// {videos, messages, connectMs, errors, stats}.
(function () {
  'use strict';
  const P = new URLSearchParams(location.search);
  const page = P.get('page') || 'page';
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const flag = (name, dflt) => (P.get(name) === null ? dflt : P.get(name) === '1');

  function post(kind, body) {
    const record = Object.assign({ page, t: ms(), wall: Date.now() / 1000 }, body, { report: kind });
    return fetch('/report', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(record) }).catch(() => {});
  }
  const errors = [];
  function event(name, fields) {
    console.log('interop ' + name + ' ' + JSON.stringify(fields || {}));
    return post('event', Object.assign({ event: name }, fields || {}));
  }
  function errorFields(e) {
    return { name: e && e.name, code: e && e.code, message: String((e && e.message) || e) };
  }
  window.addEventListener('error', (e) => { errors.push(errorFields(e.error || e)); event('pageError', errorFields(e.error || e)); });
  window.addEventListener('unhandledrejection', (e) => {
    errors.push(errorFields(e.reason)); event('pageError', errorFields(e.reason));
  });

  // Every RTCPeerConnection the SDK creates, to read raw inbound-rtp/outbound-rtp stats.
  const pcs = [];
  const NativePC = window.RTCPeerConnection;
  // A plain function, not a subclass: the SDK proxies the own properties of
  // RTCPeerConnection.prototype (ontrack...), which a subclass's prototype does not have.
  function TracedPeerConnection(...args) {
    const pc = new NativePC(...args);
    const index = pcs.push(pc) - 1;
    pc.addEventListener('track', (e) => event('pcTrack', { pc: index, mid: e.transceiver && e.transceiver.mid,
      kind: e.track.kind, trackId: e.track.id }));
    return pc;
  }
  TracedPeerConnection.prototype = NativePC.prototype;
  Object.setPrototypeOf(TracedPeerConnection, NativePC); // generateCertificate
  window.RTCPeerConnection = TracedPeerConnection;

  async function rawStats() {
    const out = [];
    for (const [i, pc] of pcs.entries()) {
      const entry = { pc: i, connectionState: pc.connectionState, signalingState: pc.signalingState,
        inbound: [], outbound: [], transceivers: [] };
      try {
        entry.transceivers = pc.getTransceivers().map((t) => ({ mid: t.mid, direction: t.direction,
          currentDirection: t.currentDirection, kind: t.receiver.track.kind, receiverTrack: t.receiver.track.id,
          receiverState: t.receiver.track.readyState, sending: !!t.sender.track }));
      } catch (e) { entry.transceiversError = String(e); }
      try {
        const report = await pc.getStats();
        report.forEach((s) => {
          if (s.type === 'inbound-rtp') {
            entry.inbound.push({ kind: s.kind, ssrc: s.ssrc, mid: s.mid, trackIdentifier: s.trackIdentifier,
              packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded, bytesReceived: s.bytesReceived,
              codecId: s.codecId });
          } else if (s.type === 'outbound-rtp') {
            entry.outbound.push({ kind: s.kind, ssrc: s.ssrc, mid: s.mid, packetsSent: s.packetsSent,
              framesEncoded: s.framesEncoded, bytesSent: s.bytesSent });
          }
        });
      } catch (e) { entry.error = String(e); }
      out.push(entry);
    }
    return out;
  }

  const videos = {};   // trackSid -> {participant, name, frames, firstFrameMs, lastFrameMs, width, height}
  const messages = []; // {participant, trackSid, data, t}
  let room = null;
  let connectMs = null;
  let local = { audio: null, video: null, data: null };
  let finished = false;

  function watchVideo(track, participant) {
    const rec = { participant: participant.identity, name: track.name, frames: 0, firstFrameMs: null,
      lastFrameMs: null, width: null, height: null, subscribedMs: ms() };
    videos[track.sid] = rec;
    const el = track.attach();
    el.muted = true;
    el.autoplay = true;
    document.body.appendChild(el);
    el.play().catch((e) => event('playError', errorFields(e)));
    const onFrame = (_now, meta) => {
      rec.frames += 1;
      rec.lastFrameMs = ms();
      if (rec.firstFrameMs === null) {
        rec.firstFrameMs = rec.lastFrameMs;
        event('firstFrame', { trackSid: track.sid, participant: participant.identity, afterSubscribeMs: rec.firstFrameMs - rec.subscribedMs });
      }
      rec.width = meta.width;
      rec.height = meta.height;
      el.requestVideoFrameCallback(onFrame);
    };
    el.requestVideoFrameCallback(onFrame);
  }

  function listen(r) {
    const who = (p) => (p ? p.identity : null);
    r.on('participantConnected', (p) => event('participantConnected', { participant: p.identity }));
    r.on('participantDisconnected', (p) => event('participantDisconnected', { participant: p.identity }));
    r.on('participantReconnecting', (p) => event('participantReconnecting', { participant: p.identity }));
    r.on('participantReconnected', (p) => event('participantReconnected', { participant: p.identity }));
    r.on('trackPublished', (pub, p) => event('trackPublished', { participant: p.identity, trackSid: pub.trackSid, kind: pub.kind }));
    r.on('trackUnpublished', (pub, p) => event('trackUnpublished', { participant: p.identity, trackSid: pub.trackSid, kind: pub.kind }));
    r.on('trackSubscribed', (track, pub, p) => {
      event('trackSubscribed', { participant: p.identity, trackSid: track.sid, kind: track.kind, name: track.name });
      if (track.kind === 'video') watchVideo(track, p);
    });
    r.on('trackUnsubscribed', (track, pub, p) => event('trackUnsubscribed', { participant: p.identity, trackSid: track.sid, kind: track.kind }));
    r.on('trackSubscriptionFailed', (e, pub, p) => event('trackSubscriptionFailed', Object.assign({ participant: p.identity, trackSid: pub.trackSid }, errorFields(e))));
    r.on('trackDisabled', (track, p) => event('trackDisabled', { participant: who(p), trackSid: track.sid, kind: track.kind }));
    r.on('trackEnabled', (track, p) => event('trackEnabled', { participant: who(p), trackSid: track.sid, kind: track.kind }));
    r.on('trackSwitchedOff', (track, pub, p) => event('trackSwitchedOff', { participant: who(p), trackSid: track.sid,
      kind: track.kind, isSwitchedOff: track.isSwitchedOff }));
    r.on('trackSwitchedOn', (track, pub, p) => event('trackSwitchedOn', { participant: who(p), trackSid: track.sid,
      kind: track.kind, isSwitchedOff: track.isSwitchedOff }));
    r.on('trackMessage', (data, track, p) => {
      const msg = { participant: who(p), trackSid: track.sid, data: typeof data === 'string' ? data : '<binary>', t: ms() };
      messages.push(msg);
      event('trackMessage', msg);
    });
    r.on('dominantSpeakerChanged', (p) => event('dominantSpeakerChanged', { participant: who(p) }));
    r.on('reconnecting', (e) => event('reconnecting', errorFields(e)));
    r.on('reconnected', () => event('reconnected', {}));
    r.on('disconnected', (_room, e) => event('disconnected', e ? errorFields(e) : {}));
    r.localParticipant.on('trackPublished', (pub) => event('localTrackPublished', { trackSid: pub.trackSid, kind: pub.kind }));
    r.localParticipant.on('trackPublicationFailed', (e, track) => {
      errors.push(errorFields(e));
      event('trackPublicationFailed', Object.assign({ kind: track.kind }, errorFields(e)));
    });
    r.localParticipant.on('networkQualityLevelChanged', (level) => event('networkQualityLevelChanged', { level }));
  }

  function localPublications() {
    const out = [];
    room.localParticipant.tracks.forEach((pub) => out.push({ trackSid: pub.trackSid, kind: pub.kind, name: pub.trackName }));
    return out;
  }

  async function act(step) {
    const d = step.do;
    try {
      if (d === 'mute-audio' && local.audio) local.audio.disable();
      else if (d === 'unmute-audio' && local.audio) local.audio.enable();
      else if (d === 'mute-video' && local.video) local.video.disable();
      else if (d === 'unmute-video' && local.video) local.video.enable();
      else if (d === 'unpublish-video' && local.video) {
        const pub = room.localParticipant.unpublishTrack(local.video);
        local.video.stop();
        local.video = null;
        await event('unpublished', { trackSid: pub && pub.trackSid });
        return;
      } else if (d === 'republish-video') {
        local.video = await Twilio.Video.createLocalVideoTrack({ width: 640, height: 480 });
        const pub = await room.localParticipant.publishTrack(local.video);
        await event('republished', { trackSid: pub.trackSid });
        return;
      } else if (d === 'switch-off' || d === 'switch-on') {  // remote videos, clientTrackSwitchOffControl 'manual'
        room.participants.forEach((p) => p.videoTracks.forEach((pub) => {
          if (pub.track) { if (d === 'switch-off') pub.track.switchOff(); else pub.track.switchOn(); }
        }));
      } else if (d === 'send' && local.data) local.data.send(step.text || '');
      else if (d === 'drop-ws') await fetch('/ctl/cut', { method: 'POST', body: JSON.stringify({ page }) });
      else if (d === 'internals') { await post('internals', { internals: internals() }); return; }
      else if (d === 'stats') { await post('stats', { stats: await rawStats() }); return; }
      else if (d === 'finish') { await finish(); return; }
      await event('did', step);
    } catch (e) {
      errors.push(errorFields(e));
      await event('actionError', Object.assign({ step }, errorFields(e)));
    }
  }

  // The SDK's private subscription state (diagnostics only; never asserted on).
  function internals() {
    const sig = room && room._signaling;
    if (!sig) return null;
    const out = { subscribed: Array.from((sig._subscribed || new Map()).entries()),
      deferreds: Array.from((sig._trackReceiverDeferreds || new Map()).keys()), receivers: [], publications: [] };
    try { out.receivers = sig._peerConnectionManager.getTrackReceivers().map((r) => [r.kind, r.id, r.readyState]); } catch (e) { out.receiversError = String(e); }
    try {
      out.peerConnections = Array.from(sig._peerConnectionManager._peerConnections.values()).map((pcv2) => ({
        id: pcv2.id, media: Array.from(pcv2._mediaTrackReceivers || []).map((r) => [r.kind, r.id, r.readyState]),
        matcher: pcv2._trackMatcher ? Array.from(pcv2._trackMatcher._midsToTrackIds.entries()) : null }));
    } catch (e) { out.peerConnectionsError = String(e); }
    room.participants.forEach((p) => p.tracks.forEach((pub) => out.publications.push([p.identity, pub.kind, pub.trackSid, pub.isSubscribed])));
    return out;
  }

  async function finish() {
    if (finished) return;
    finished = true;
    const stats = await rawStats();
    const state = room ? room.state : null;
    if (room) room.disconnect();
    await post('final', { videos, messages, connectMs, errors, stats, state, pcs: pcs.length,
      publications: room ? localPublications() : [] });
  }

  async function pollCommands() {
    while (!finished) {
      try {
        const resp = await fetch('/next?page=' + encodeURIComponent(page));
        if (resp.status === 200) await act(await resp.json());
      } catch (e) {
        await new Promise((res) => setTimeout(res, 200));
      }
    }
  }

  window.confabInteropMain = async function () {
    const V = window.Twilio && window.Twilio.Video;
    await event('loaded', { version: V && V.version, isSupported: V && V.isSupported });
    const ticker = setInterval(() => {
      const frames = {};
      for (const sid in videos) frames[sid] = videos[sid].frames;
      post('tick', { frames, state: room ? room.state : null });
    }, 1000);
    try {
      const tracks = [];
      if (flag('audio', true)) tracks.push(local.audio = await V.createLocalAudioTrack());
      if (flag('video', true)) tracks.push(local.video = await V.createLocalVideoTrack({ width: 640, height: 480 }));
      if (flag('data', true)) tracks.push(local.data = new V.LocalDataTrack());
      const start = performance.now();
      room = await V.connect(P.get('token'), {
        wsServer: P.get('ws'), name: P.get('room'), tracks, insights: false, iceServers: [],
        dominantSpeaker: flag('dominantSpeaker', false), networkQuality: flag('networkQuality', false),
        logLevel: P.get('logLevel') || 'warn',
        ...(P.get('bandwidthProfile') ? { bandwidthProfile: JSON.parse(P.get('bandwidthProfile')) } : {}),
      });
      connectMs = Math.round(performance.now() - start);
      listen(room);
      const existing = [];
      room.participants.forEach((p) => {
        existing.push(p.identity);
        p.tracks.forEach((pub) => {
          if (pub.track) {
            event('trackSubscribed', { participant: p.identity, trackSid: pub.track.sid, kind: pub.track.kind, name: pub.track.name, existing: true });
            if (pub.track.kind === 'video') watchVideo(pub.track, p);
          }
        });
      });
      await event('connected', { connectMs, roomSid: room.sid, sid: room.localParticipant.sid,
        identity: room.localParticipant.identity, participants: existing, publications: localPublications() });
    } catch (e) {
      errors.push(errorFields(e));
      await event('connectError', errorFields(e));
      clearInterval(ticker);
      await post('final', { videos, messages, connectMs, errors, stats: await rawStats(), state: 'failed', pcs: pcs.length, publications: [] });
      finished = true;
      return;
    }
    pollCommands();
    for (const step of JSON.parse(P.get('script') || '[]')) {
      setTimeout(() => act(step), step.at * 1000);
    }
    const duration = parseFloat(P.get('duration') || '0');
    if (duration > 0) setTimeout(() => act({ do: 'finish' }), duration * 1000);
  };
})();
