// A meet's audio in the browser: one RTCPeerConnection to the server's media router (SFU) in
// meetdesk's slot layout, the same as every other client (crates/rtc):
//
//   m-line 0        sendrecv   this device's microphone
//   m-lines 1..=7   recvonly   the receive slots 0..6, one other participant each
//
// Opus only. Signalling is not trickled: the offer is sent once ICE gathering completed, so
// it carries every candidate, and the answer carries the server's. Who is heard in which slot
// comes from `media_slots` events (`setSlots`).
//
// Restarts, fresh offers and giving up follow the same pure policy as the Rust clients
// (reconnect.ts, ported from crates/rtc/src/reconnect.rs): the connection's states are fed to
// it, and one timer sleeps until it is next due. A connection that was connected and turns
// `disconnected` (0.5 s grace) or `failed` is ICE-restarted (`restart: true`, same connection
// and slots), again and again with backoff while it stays down; one that does not connect
// within 10 s, or fails first, and one the server no longer has (`no_media_connection`), is
// offered afresh. Down for 30 s, or `MAX_OFFERS` fresh offers without connecting: `failed`.

import { isApiError, type Api } from "./api";
import type { MediaSlot, PartyView } from "./bindings";
import { TrackTap, type ToneReading } from "./level";
import { DEFAULT_RECONNECT_POLICY, Reconnect, type ReconnectAction, type ReconnectInput } from "./reconnect";

/** Receive slots per connection (the server's `MAX_REMOTE`; `GET /api/media/config` says it too). */
export const RECEIVE_SLOTS = 7;
/** How long ICE gathering may take (host candidates take milliseconds; STUN/TURN bound this). */
export const GATHER_TIMEOUT_MS = 10_000;
/** Offers in a row (the first and fresh ones) without connecting before giving up (the Rust clients' `MAX_MEDIA_ATTEMPTS`). */
export const MAX_OFFERS = 5;
/** Wait before another fresh offer after one that failed (the request, or gathering). */
const OFFER_RETRY_MS = 1_000;

export type MediaState = "connecting" | "connected" | "reconnecting" | "failed" | "closed";

/** Why the microphone could not be opened (P7: the widget shows the browser's steps). */
export type MicrophoneProblem = "denied" | "no_device" | "in_use" | "unsupported" | "other";

export class MicrophoneError extends Error {
  readonly problem: MicrophoneProblem;

  constructor(problem: MicrophoneProblem, message: string) {
    super(message);
    this.name = "MicrophoneError";
    this.problem = problem;
  }
}

/**
 * Opens the microphone. `processing`: the browser's echo cancellation, noise suppression and
 * gain control (on for people; a test feeding a pure tone may turn them off).
 */
export async function openMicrophone(processing = true): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new MicrophoneError("unsupported", "This browser cannot use a microphone here (a secure https page is needed).");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing },
      video: false,
    });
  } catch (e) {
    const name = e instanceof DOMException ? e.name : "";
    const message = e instanceof Error ? e.message : String(e);
    if (name === "NotAllowedError" || name === "SecurityError") throw new MicrophoneError("denied", message);
    if (name === "NotFoundError" || name === "OverconstrainedError") throw new MicrophoneError("no_device", message);
    if (name === "NotReadableError" || name === "AbortError") throw new MicrophoneError("in_use", message);
    throw new MicrophoneError("other", message);
  }
}

/** One receive slot: who the server put there (null: nobody) and the track it plays. */
export interface SlotInfo {
  index: number;
  party: PartyView | null;
  track: MediaStreamTrack;
}

export interface MeetMediaOptions {
  api: Api;
  meetId: string;
  /** The microphone (from `openMicrophone`); its tracks are stopped when the media closes. */
  microphone: MediaStream;
  /** STUN/TURN servers (`GET /api/media/config`). */
  iceServers?: RTCIceServer[];
  /** Play every slot through an audio element (default true; a test may only measure). */
  playback?: boolean;
  /** Who is in which slot, known already (a `media_slots` event can beat the answer). */
  slots?: MediaSlot[];
  onState?: (state: MediaState, detail?: string) => void;
  onSlots?: (slots: SlotInfo[]) => void;
  /** Diagnostics: one line per step (offers, restarts, state changes). */
  log?: (message: string, data?: unknown) => void;
}

/** Opus only, as the server negotiates it; null where the browser cannot set preferences. */
function opusOnly(): RTCRtpCodec[] | null {
  const caps = typeof RTCRtpReceiver.getCapabilities === "function" ? RTCRtpReceiver.getCapabilities("audio") : null;
  const opus = caps?.codecs.filter((c) => c.mimeType.toLowerCase() === "audio/opus") ?? [];
  return opus.length > 0 ? opus : null;
}

/** Resolves when ICE gathering completes after `apply` (set up before it, so no event is missed). */
async function setLocalAndGather(pc: RTCPeerConnection, apply: () => Promise<void>): Promise<string> {
  let cleanup = () => {};
  const gathered = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`ICE gathering did not complete within ${GATHER_TIMEOUT_MS} ms`)),
      GATHER_TIMEOUT_MS,
    );
    const onState = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    const onCandidate = (e: RTCPeerConnectionIceEvent) => {
      if (!e.candidate) resolve(); // end of this gathering generation
    };
    pc.addEventListener("icegatheringstatechange", onState);
    pc.addEventListener("icecandidate", onCandidate);
    cleanup = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", onState);
      pc.removeEventListener("icecandidate", onCandidate);
    };
  });
  try {
    await apply();
    await gathered;
  } finally {
    cleanup();
  }
  const sdp = pc.localDescription?.sdp;
  if (!sdp) throw new Error("no local description after gathering");
  return sdp;
}

/** What `MeetMedia` does next: what the reconnect policy asks for, or a fresh offer again after one that failed. */
type Step = ReconnectAction | { kind: "retry_offer" };

/** One participant device's audio in a meet. Create it with `MeetMedia.connect`. */
export class MeetMedia {
  readonly meetId: string;
  private readonly api: Api;
  private readonly opts: MeetMediaOptions;
  private readonly mic: MediaStream;
  private pc!: RTCPeerConnection;
  private slotReceivers: RTCRtpTransceiver[] = [];
  private audioEls: HTMLAudioElement[] = [];
  private parties: (PartyView | null)[] = new Array<PartyView | null>(RECEIVE_SLOTS).fill(null);
  private ctx: AudioContext | null = null;
  private micTap: TrackTap | null = null;
  private slotTaps = new Map<number, TrackTap>();
  /** The reconnect policy of the current connection (null while an offer is out, and once given up). */
  private reconnect: Reconnect | null = null;
  /** The one timer: sleeps until the policy is next due (or `retryAt`). */
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When to offer afresh again after an offer that failed; `retryDue` once it is time. */
  private retryAt: number | null = null;
  private retryDue = false;
  /** The steps being performed, one at a time (null: none). */
  private acting: Promise<void> | null = null;
  /** Why the next ICE restart (for the log). */
  private restartWhy = "";
  /** Offers (the first and fresh ones) since a connection last connected. */
  private offers = 0;
  private everConnected = false;
  private closed = false;
  private isMuted = false;
  state: MediaState = "connecting";
  /** ICE restarts done, and fresh offers after the first (the server lost the connection, it never connected, an offer failed). */
  iceRestarts = 0;
  reoffers = 0;
  /** Offer sent → first `connected`, ms (null until then). */
  offerToConnectedMs: number | null = null;
  private offeredAt = 0;

  private constructor(opts: MeetMediaOptions) {
    this.api = opts.api;
    this.meetId = opts.meetId;
    this.opts = opts;
    this.mic = opts.microphone;
    if (opts.slots) this.applySlots(opts.slots);
  }

  /** Builds the connection, offers, applies the server's answer. Connecting goes on after it returns. */
  static async connect(opts: MeetMediaOptions): Promise<MeetMedia> {
    const media = new MeetMedia(opts);
    try {
      await media.offerFresh();
    } catch (e) {
      media.close();
      throw e;
    }
    return media;
  }

  private log(message: string, data?: unknown): void {
    this.opts.log?.(message, data);
  }

  private setState(state: MediaState, detail?: string): void {
    if (this.state === state || this.state === "closed") return;
    this.state = state;
    this.log(`media ${state}`, detail);
    this.opts.onState?.(state, detail);
  }

  // ---- the connection --------------------------------------------------------------------

  private buildPeer(): void {
    const pc = new RTCPeerConnection({ iceServers: this.opts.iceServers ?? [], bundlePolicy: "max-bundle" });
    const codecs = opusOnly();
    const micTrack = this.mic.getAudioTracks()[0];
    if (!micTrack) throw new MicrophoneError("no_device", "The microphone stream has no audio track.");
    const mic = pc.addTransceiver(micTrack, { direction: "sendrecv", streams: [this.mic] });
    const slots: RTCRtpTransceiver[] = [];
    for (let i = 0; i < RECEIVE_SLOTS; i++) slots.push(pc.addTransceiver("audio", { direction: "recvonly" }));
    if (codecs) for (const t of [mic, ...slots]) t.setCodecPreferences(codecs);
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.pc) this.onConnectionState();
    });
    this.pc = pc;
    this.slotReceivers = slots;
    for (const tap of this.slotTaps.values()) tap.close();
    this.slotTaps.clear();
    this.attachPlayback();
  }

  /** One audio element per slot. (Chromium also needs this for WebAudio to see remote audio.) */
  private attachPlayback(): void {
    for (const el of this.audioEls) el.srcObject = null;
    this.audioEls = [];
    if (this.opts.playback === false) return;
    for (const t of this.slotReceivers) {
      const el = new Audio();
      el.autoplay = true;
      el.srcObject = new MediaStream([t.receiver.track]);
      el.play().catch((e: unknown) => this.log("audio element did not start", String(e)));
      this.audioEls.push(el);
    }
  }

  /** A new connection (the first, or a fresh one): offer, answer, and a reconnect policy for it. */
  private async offerFresh(): Promise<void> {
    this.reconnect = null;
    this.offers += 1;
    this.pc?.close();
    this.buildPeer();
    const pc = this.pc;
    this.offeredAt = performance.now();
    const sdp = await setLocalAndGather(pc, async () => {
      await pc.setLocalDescription(await pc.createOffer());
    });
    this.log("offer", { restart: false, candidates: candidateSummary(sdp) });
    const answer = await this.api.offerMedia(this.meetId, { sdp, restart: false });
    if (this.closed || pc !== this.pc) return;
    this.log("answer", { candidates: candidateSummary(answer.sdp) });
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    if (this.closed || pc !== this.pc) return;
    this.reconnect = new Reconnect(performance.now(), DEFAULT_RECONNECT_POLICY);
    this.emitSlots();
    // The state it is in already (it may have changed while the answer was applied).
    void this.feed({ kind: "state", state: pc.connectionState });
  }

  private onConnectionState(): void {
    if (this.closed) return;
    const s = this.pc.connectionState;
    this.log(`pc ${s}`);
    if (s === "connected") {
      if (!this.everConnected) this.offerToConnectedMs = Math.round(performance.now() - this.offeredAt);
      this.everConnected = true;
      this.offers = 0;
      this.setState("connected");
    } else if (s === "disconnected" || s === "failed") {
      this.setState(this.everConnected ? "reconnecting" : "connecting", s);
    }
    void this.feed({ kind: "state", state: s });
  }

  // ---- the reconnect policy (reconnect.ts) and the one timer --------------------------------

  /** Tells the policy what happened; performs what it asks for (resolves when all that is done). */
  private feed(input: ReconnectInput): Promise<void> {
    if (!this.reconnect) return Promise.resolve();
    this.reconnect.handle(input, performance.now());
    this.arm();
    return this.drive();
  }

  /** Sets the one timer to when the policy (or an offer retry) is next due. */
  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    const due = [this.retryAt, this.reconnect?.pollTimeout()?.at ?? null].filter((t): t is number => t !== null);
    if (due.length === 0) return;
    const wait = Math.max(0, Math.ceil(Math.min(...due) - performance.now()));
    this.timer = setTimeout(() => this.onTimer(), wait);
  }

  private onTimer(): void {
    this.timer = null;
    if (this.closed) return;
    const now = performance.now();
    if (this.retryAt !== null && this.retryAt <= now) {
      this.retryAt = null;
      this.retryDue = true;
    }
    const due = this.reconnect?.pollTimeout();
    if (this.reconnect && due && due.at <= now) {
      this.restartWhy = due.why;
      this.reconnect.handleTimeout(now);
    }
    this.arm();
    void this.drive();
  }

  private nextStep(): Step | null {
    if (this.closed) return null;
    if (this.retryDue) {
      this.retryDue = false;
      return { kind: "retry_offer" };
    }
    return this.reconnect?.pollAction() ?? null;
  }

  /**
   * Performs the pending steps one at a time, in order (a step that comes while one is under
   * way waits for it, as in the Rust clients' task). Resolves when none is left.
   */
  private drive(): Promise<void> {
    if (this.acting) return this.acting;
    const first = this.nextStep();
    if (!first) return Promise.resolve();
    this.acting = (async () => {
      try {
        for (let step: Step | null = first; step; step = this.nextStep()) {
          try {
            await this.perform(step);
          } catch (e) {
            this.log(`${step.kind} failed`, String(e));
          }
        }
      } finally {
        this.acting = null;
        this.arm();
      }
    })();
    return this.acting;
  }

  private async perform(step: Step): Promise<void> {
    switch (step.kind) {
      case "restart_ice":
        return this.restartNow(step.attempt);
      case "reoffer":
        this.log(
          step.why === "server_lost_connection"
            ? "the server has no connection for this device: offering afresh"
            : "the connection did not connect: offering afresh",
        );
        return this.reoffer();
      case "retry_offer":
        return this.reoffer();
      case "give_up":
        return this.giveUp(`not connected for ${DEFAULT_RECONNECT_POLICY.giveUpAfterMs / 1000} s`);
    }
  }

  /**
   * Restarts ICE now, whatever the state (diagnostics, tests; as after a network change), then
   * the reconnect policy as usual. Resolves when the restart (and what followed) is done.
   */
  async restartIce(why = "requested"): Promise<void> {
    if (this.closed || !this.reconnect) return;
    this.restartWhy = why;
    await this.feed({ kind: "restart_now" });
  }

  /**
   * ICE restart on the same connection (`restart: true`: the server keeps its side and the
   * slots). The server no longer having the connection is told to the policy (which then asks
   * for a fresh offer); other failures wait for its next restart.
   */
  private async restartNow(attempt: number): Promise<void> {
    const why = this.restartWhy || "restart";
    this.restartWhy = "";
    this.iceRestarts += 1;
    this.setState("reconnecting", why);
    const pc = this.pc;
    try {
      pc.restartIce();
      const sdp = await setLocalAndGather(pc, async () => {
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
      });
      this.log("offer", { restart: true, why, attempt, candidates: candidateSummary(sdp) });
      const answer = await this.api.offerMedia(this.meetId, { sdp, restart: true });
      if (this.closed || pc !== this.pc) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      // Restarted while connected: no state change follows.
      if (pc.connectionState === "connected") this.setState("connected");
    } catch (e) {
      if (this.closed || pc !== this.pc) return;
      if (isApiError(e, "no_media_connection")) {
        void this.feed({ kind: "server_lost_connection" });
      } else if (isApiError(e, "ended", "not_in_meet")) {
        this.log("the meet is over for this device", e.code);
        this.close();
      } else {
        this.log("ICE restart failed; the reconnect policy tries again", String(e));
      }
    }
  }

  /** A fresh connection in place of this one, unless `MAX_OFFERS` went by without connecting. */
  private async reoffer(): Promise<void> {
    this.reconnect = null;
    if (this.offers >= MAX_OFFERS) return this.giveUp(`no connection after ${this.offers} offers`);
    this.reoffers += 1;
    try {
      await this.offerFresh();
    } catch (e) {
      if (this.closed) return;
      if (isApiError(e, "ended", "not_in_meet")) {
        this.log("the meet is over for this device", e.code);
        this.close();
      } else if (this.offers >= MAX_OFFERS) {
        await this.giveUp(`no connection after ${this.offers} offers: ${String(e)}`);
      } else {
        this.log("offering afresh failed; retrying", String(e));
        this.retryAt = performance.now() + OFFER_RETRY_MS;
        this.arm();
      }
    }
  }

  /** Stops trying: `failed`, the server told when it never connected (so the others are not left waiting). */
  private async giveUp(detail: string): Promise<void> {
    this.reconnect = null;
    this.retryAt = null;
    this.setState("failed", detail);
    if (!this.everConnected) await this.api.mediaFailed(this.meetId).catch(() => undefined);
    this.shutdown();
  }

  // ---- slots -------------------------------------------------------------------------------

  /** A `media_slots` event for this device: the full list of who is where. */
  setSlots(slots: MediaSlot[]): void {
    this.applySlots(slots);
    this.emitSlots();
  }

  private applySlots(slots: MediaSlot[]): void {
    this.parties = new Array<PartyView | null>(RECEIVE_SLOTS).fill(null);
    for (const s of slots) if (s.index < RECEIVE_SLOTS) this.parties[s.index] = s.party;
  }

  private emitSlots(): void {
    if (this.slotReceivers.length > 0) this.opts.onSlots?.(this.slots());
  }

  slots(): SlotInfo[] {
    return this.slotReceivers.map((t, index) => ({ index, party: this.parties[index] ?? null, track: t.receiver.track }));
  }

  /** The slot a participant is heard in (by party id), or -1. */
  slotOf(partyId: string): number {
    return this.parties.findIndex((p) => p?.id === partyId);
  }

  /** The track carrying this participant's voice, while the server has them in a slot. */
  remoteTrack(partyId: string): MediaStreamTrack | null {
    const i = this.slotOf(partyId);
    return i >= 0 ? (this.slotReceivers[i]?.receiver.track ?? null) : null;
  }

  // ---- controls and meters -----------------------------------------------------------------

  get muted(): boolean {
    return this.isMuted;
  }

  /** Mute sends silence (the track keeps running, so unmuting is instant and needs no renegotiation). */
  mute(on: boolean): void {
    this.isMuted = on;
    for (const t of this.mic.getAudioTracks()) t.enabled = !on;
    this.log(on ? "muted" : "unmuted");
  }

  private audioContext(): AudioContext {
    if (!this.ctx) this.ctx = new AudioContext();
    if (this.ctx.state === "suspended") void this.ctx.resume();
    return this.ctx;
  }

  /** The microphone's level, dBFS (RMS over the last ~43 ms): the input level meter. Silence while muted. */
  inputLevel(): number {
    const track = this.mic.getAudioTracks()[0];
    if (!track) return -100;
    this.micTap ??= new TrackTap(this.audioContext(), track);
    return this.micTap.level();
  }

  /** Measures a tone in what a slot receives (diagnostics; ~170 ms window). */
  slotTone(slot: number, hz: number): ToneReading | null {
    const t = this.slotReceivers[slot];
    if (!t) return null;
    let tap = this.slotTaps.get(slot);
    if (!tap) {
      tap = new TrackTap(this.audioContext(), t.receiver.track, 8192);
      this.slotTaps.set(slot, tap);
    }
    return tap.tone(hz);
  }

  /** The connection's `getStats()` (diagnostics). */
  async stats(): Promise<RTCStatsReport> {
    return this.pc.getStats();
  }

  get connectionState(): RTCPeerConnectionState {
    return this.pc.connectionState;
  }

  /** The SDP in force (diagnostics). */
  descriptions(): { local: string | undefined; remote: string | undefined } {
    return { local: this.pc.localDescription?.sdp, remote: this.pc.remoteDescription?.sdp };
  }

  private shutdown(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.reconnect = null;
    this.retryAt = null;
    this.retryDue = false;
    this.micTap?.close();
    for (const tap of this.slotTaps.values()) tap.close();
    this.slotTaps.clear();
    for (const el of this.audioEls) {
      el.pause();
      el.srcObject = null;
    }
    this.pc?.close();
    for (const t of this.mic.getTracks()) t.stop();
    void this.ctx?.close();
    this.ctx = null;
  }

  /** Hangs up the media (the meet itself is left with `POST …/hangup`): closes the connection, releases the microphone. */
  close(): void {
    if (this.closed) return;
    this.shutdown();
    this.setState("closed");
    this.closed = true;
  }
}

/** `host 127.0.0.1 udp`, … : what a description's candidates are, for logs. */
export function candidateSummary(sdp: string): string[] {
  const out: string[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (!line.startsWith("a=candidate:")) continue;
    const f = line.slice("a=candidate:".length).split(" ");
    // foundation component transport priority address port typ TYPE …
    out.push(`${f[7] ?? "?"} ${f[4] ?? "?"}:${f[5] ?? "?"} ${f[2] ?? "?"}`);
  }
  return out;
}
