// The customer's side: a session resumed from a signed link (or opened from a follow-up meet
// link), its event socket, and the meets it takes part in (`MeetCall`: press Meet, see it
// ring, hold its media while this device is in it, hang up).

import { Api, ApiError, isApiError } from "./api";
import type {
  ChatView,
  CustomerSessionResponse,
  CustomerView,
  Event,
  MediaSlot,
  MeetView,
  RingStopReason,
} from "./bindings";
import { EventSocket, type SocketState } from "./events";
import { MeetMedia, openMicrophone, type MediaState, type SlotInfo } from "./media";

/** Attempts at setting up a meet's media (offer → answer) before giving up. */
const MAX_MEDIA_ATTEMPTS = 5;
const MEDIA_RETRY_MS = 1_000;

/** A resume link: `…/anything?resume=TOKEN` (the demo directory and follow-ups give them). */
export function parseResumeLink(link: string): { base: string; token: string } {
  const url = new URL(link);
  const token = url.searchParams.get("resume");
  if (!token) throw new Error("This is not a chat link (it has no resume token).");
  return { base: url.origin, token };
}

/** A follow-up meet link: `…/m/{meet_id}?t=TOKEN`. */
export function parseMeetLink(link: string): { base: string; meetId: string; token: string } {
  const url = new URL(link);
  const token = url.searchParams.get("t");
  const parts = url.pathname.split("/").filter(Boolean);
  const meetId = parts.length >= 2 && parts[parts.length - 2] === "m" ? parts[parts.length - 1] : undefined;
  if (!token || !meetId) throw new Error("This is not a meet link.");
  return { base: url.origin, meetId: decodeURIComponent(meetId), token };
}

type Listener<T> = (value: T) => void;

/** A tiny typed event emitter. */
class Emitter<T> {
  private listeners = new Set<Listener<T>>();

  on(fn: Listener<T>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(value: T): void {
    for (const fn of [...this.listeners]) fn(value);
  }
}

/** A customer session as a browser keeps it (localStorage) between visits. */
export interface StoredSession {
  token: string;
  device_id: string;
  expires_at: number;
  customer: CustomerView;
}

/** How a call gets its microphone: given, or opened with (default) or without processing. */
export interface CallOptions {
  microphone?: MediaStream;
  processing?: boolean;
}

export interface SessionOptions {
  /** The API's origin (default: the link's). */
  base?: string;
  log?: (message: string, data?: unknown) => void;
}

/** A customer's signed-in widget: chats, meets, and the event socket that keeps them live. */
export class CustomerSession {
  readonly api: Api;
  readonly deviceId: string;
  readonly expiresAt: number;
  readonly customer: CustomerView;
  readonly chats = new Map<string, ChatView>();
  /** Set when the session was opened from a meet link (it reaches that meet only). */
  readonly linkedMeet: MeetView | null;
  readonly events = new Emitter<Event>();
  readonly chatChanged = new Emitter<ChatView>();
  readonly meetChanged = new Emitter<MeetView>();
  readonly ringing = new Emitter<MeetView>();
  readonly ringStopped = new Emitter<{ meetId: string; reason: RingStopReason }>();
  readonly socketState = new Emitter<SocketState>();
  private readonly meets = new Map<string, MeetView>();
  private readonly socket: EventSocket;
  private readonly log: (message: string, data?: unknown) => void;
  /** Resolves once the event socket is open (the server's `hello`): from then on nothing is missed. */
  readonly ready: Promise<void>;

  private constructor(api: Api, res: CustomerSessionResponse, opts: SessionOptions) {
    this.api = api.withToken(res.token);
    this.deviceId = res.device_id;
    this.expiresAt = res.expires_at;
    this.customer = res.customer;
    this.linkedMeet = res.meet;
    this.log = opts.log ?? (() => {});
    for (const c of res.chats) this.chats.set(c.id, c);
    if (res.meet) this.meets.set(res.meet.id, res.meet);
    let hello: () => void = () => {};
    let fatal: (e: ApiError) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      hello = resolve;
      fatal = reject;
    });
    this.socket = new EventSocket(this.api, {
      onEvent: (e) => {
        if (e.type === "hello") hello();
        this.onEvent(e);
      },
      onState: (s, why) => {
        this.log(`event socket ${s}`, why);
        this.socketState.emit(s);
      },
      onFatal: (e) => fatal(e),
      onGap: () => void this.resync(),
    });
    this.socket.start();
  }

  /** A new visitor of the channel with this widget key: a new customer and chat. */
  static async visitor(base: string, channelKey: string, opts: SessionOptions = {}): Promise<CustomerSession> {
    const api = new Api(base);
    return new CustomerSession(api, await api.visitor(channelKey), opts);
  }

  /**
   * Picks up a session kept by this browser (`stored()`); a 401 `ApiError` once it expired or
   * was revoked. `meetId`: a meet link's session (it reaches that meet only).
   */
  static async restore(
    base: string,
    stored: StoredSession,
    opts: SessionOptions & { meetId?: string } = {},
  ): Promise<CustomerSession> {
    const api = new Api(base, stored.token);
    const res: CustomerSessionResponse = {
      token: stored.token,
      device_id: stored.device_id,
      expires_at: stored.expires_at,
      customer: stored.customer,
      chats: opts.meetId ? [] : await api.chats(),
      meet: opts.meetId ? await api.meet(opts.meetId) : null,
    };
    return new CustomerSession(api, res, opts);
  }

  /** Resumes a customer's chats from a signed resume link (`…?resume=TOKEN`). */
  static async resume(link: string, opts: SessionOptions = {}): Promise<CustomerSession> {
    const { base, token } = parseResumeLink(link);
    const api = new Api(opts.base ?? base);
    return new CustomerSession(api, await api.resume(token), opts);
  }

  /** Opens a follow-up meet link (`…/m/{meet}?t=TOKEN`): joins that meet. */
  static async openMeetLink(link: string, opts: SessionOptions = {}): Promise<CustomerSession> {
    const { base, meetId, token } = parseMeetLink(link);
    const api = new Api(opts.base ?? base);
    return new CustomerSession(api, await api.openLink(meetId, token), opts);
  }

  /** What a browser keeps to pick this session up again (`restore`). */
  stored(): StoredSession {
    return { token: this.api.token ?? "", device_id: this.deviceId, expires_at: this.expiresAt, customer: this.customer };
  }

  /** The newest view held of a meet. */
  meet(id: string): MeetView | undefined {
    return this.meets.get(id);
  }

  /** Keeps `view` if it is newer than the one held (events and answers race); true if kept. */
  noteMeet(view: MeetView): boolean {
    const held = this.meets.get(view.id);
    if (held && held.version >= view.version) return false;
    this.meets.set(view.id, view);
    this.meetChanged.emit(view);
    return true;
  }

  /** The chat whose Meet button shows (P2), if any. */
  meetableChat(): ChatView | undefined {
    return [...this.chats.values()].find((c) => c.customer_meet_button.shown);
  }

  private onEvent(e: Event): void {
    this.events.emit(e);
    switch (e.type) {
      case "chat_updated":
        this.chats.set(e.chat.id, e.chat);
        this.chatChanged.emit(e.chat);
        break;
      case "meet_updated":
        this.noteMeet(e.meet);
        break;
      case "ring":
        this.noteMeet(e.meet);
        if (e.deadline > Date.now()) this.ringing.emit(e.meet);
        break;
      case "ring_stopped":
        this.ringStopped.emit({ meetId: e.meet_id, reason: e.reason });
        break;
      case "settings_updated":
        // The Meet button's rule depends on the channel's settings: read the chats again.
        void this.resync();
        break;
      case "resync":
        void this.resync();
        break;
      default:
        break;
    }
  }

  /** After a `resync` (the socket fell too far behind, or reconnected without a cursor): read the chats and meets held again. */
  private async resync(): Promise<void> {
    for (const id of [...this.chats.keys()]) {
      try {
        const chat = await this.api.chat(id);
        this.chats.set(chat.id, chat);
        this.chatChanged.emit(chat);
      } catch (e) {
        this.log("resync: reading a chat failed", String(e));
      }
    }
    for (const id of [...this.meets.keys()]) {
      try {
        this.noteMeet(await this.api.meet(id));
      } catch (e) {
        this.log("resync: reading a meet failed", String(e));
      }
    }
  }

  /**
   * Opens the microphone (unless given), asks the server with `request` (which notes and
   * returns the meet), and holds the call; a refusal of either gives the microphone back.
   */
  private async call(opts: CallOptions, request: () => Promise<MeetView>): Promise<MeetCall> {
    const microphone = opts.microphone ?? (await openMicrophone(opts.processing ?? true));
    try {
      const view = await request();
      this.noteMeet(view);
      return new MeetCall(this, view.id, microphone, this.log);
    } catch (e) {
      for (const t of microphone.getTracks()) t.stop();
      throw e;
    }
  }

  /**
   * Presses Meet (P2) in a chat (default: the one whose button shows). Opens the microphone
   * first (P7: a refusal is a `MicrophoneError`, before anyone is rung).
   */
  async startMeet(opts: CallOptions & { chatId?: string } = {}): Promise<MeetCall> {
    const chatId = opts.chatId ?? this.meetableChat()?.id;
    if (!chatId) throw new ApiError(409, "no_meetable_chat", "No chat here can start a meet.");
    return this.call(opts, () => this.api.startMeet({ target: { kind: "user_chat", chat_id: chatId }, media: "audio" }));
  }

  /** Answers a ring (an agent calling this customer, P3). */
  accept(meetId: string, opts: CallOptions = {}): Promise<MeetCall> {
    return this.call(opts, () => this.api.accept(meetId));
  }

  /**
   * Takes this device's place in a meet it is still part of (the page was reloaded mid-meet):
   * a fresh media connection replaces the one the old page left behind.
   */
  rejoin(meetId: string, opts: CallOptions = {}): Promise<MeetCall> {
    return this.call(opts, () => this.api.meet(meetId));
  }

  /** Is this device in the meet (joined, not left)? */
  isIn(view: MeetView): boolean {
    return view.participants.some((p) => p.device_id === this.deviceId && p.left_at === null);
  }

  /** The meet a meet link opened (joined already). */
  async joinLinkedMeet(opts: CallOptions = {}): Promise<MeetCall> {
    if (!this.linkedMeet) throw new Error("This session was not opened from a meet link.");
    const microphone = opts.microphone ?? (await openMicrophone(opts.processing ?? true));
    return new MeetCall(this, this.linkedMeet.id, microphone, this.log);
  }

  close(): void {
    this.socket.close();
  }
}

export type CallPhase = "ringing" | "connecting" | "connected" | "reconnecting" | "ended" | "failed";

/**
 * This device's part in one meet: follows the meet's view; while the meet is active and this
 * device is in it, holds its media (`MeetMedia`); leaves when the meet ends or on `hangUp`.
 */
export class MeetCall {
  readonly id: string;
  readonly changed = new Emitter<MeetCall>();
  readonly slotsChanged = new Emitter<SlotInfo[]>();
  media: MeetMedia | null = null;
  phase: CallPhase = "ringing";
  /** Why the call failed (`phase` "failed"). */
  error: string | null = null;
  private readonly session: CustomerSession;
  private readonly microphone: MediaStream;
  private readonly log: (message: string, data?: unknown) => void;
  private slots: MediaSlot[] = [];
  private wasPresent = false;
  private starting = false;
  private attempts = 0;
  private mutedWanted = false;
  private finishing = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(session: CustomerSession, id: string, microphone: MediaStream, log: (m: string, d?: unknown) => void) {
    this.session = session;
    this.id = id;
    this.microphone = microphone;
    this.log = log;
    this.unsubscribe.push(
      session.meetChanged.on((m) => {
        if (m.id === this.id) void this.evaluate();
      }),
      session.events.on((e) => {
        if (e.type === "media_slots" && e.meet_id === this.id && e.device_id === session.deviceId) {
          this.slots = e.slots;
          this.media?.setSlots(e.slots);
        }
      }),
    );
    void this.evaluate();
  }

  get view(): MeetView | undefined {
    return this.session.meet(this.id);
  }

  private setPhase(phase: CallPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.log(`call ${phase}`);
    this.changed.emit(this);
  }

  /** Acts on the meet's state: it ended, this device left, media is due. */
  private async evaluate(): Promise<void> {
    const view = this.view;
    if (!view || this.phase === "ended" || this.phase === "failed") return;
    const present = this.session.isIn(view);
    if (present) this.wasPresent = true;
    if (view.state === "ended" || view.state === "missed" || (this.wasPresent && !present)) {
      this.finish("ended");
      return;
    }
    if (view.state === "active" && present && !this.media && !this.starting) await this.startMedia();
  }

  private async startMedia(): Promise<void> {
    this.starting = true;
    this.attempts += 1;
    this.setPhase("connecting");
    try {
      const config = await this.session.api.mediaConfig();
      const iceServers: RTCIceServer[] = config.ice_servers.map((s) => ({
        urls: s.urls,
        ...(s.username ? { username: s.username } : {}),
        ...(s.credential ? { credential: s.credential } : {}),
      }));
      const media = await MeetMedia.connect({
        api: this.session.api,
        meetId: this.id,
        microphone: this.microphone,
        iceServers,
        slots: this.slots,
        log: this.log,
        onState: (s) => this.onMediaState(s),
        onSlots: (slots) => this.slotsChanged.emit(slots),
      });
      if (this.phase === "ended" || this.phase === "failed") {
        media.close();
        return;
      }
      media.mute(this.mutedWanted);
      // A `media_slots` event may have come while the offer was out.
      media.setSlots(this.slots);
      this.media = media;
      this.changed.emit(this);
    } catch (e) {
      if (isApiError(e, "ended", "not_in_meet")) {
        this.session.noteMeet(await this.session.api.meet(this.id).catch(() => this.view!));
        void this.evaluate();
      } else if (this.attempts >= MAX_MEDIA_ATTEMPTS) {
        this.error = `setting up media failed ${this.attempts} times: ${String(e)}`;
        this.finish("failed");
      } else {
        this.log("setting up media failed; retrying", String(e));
        setTimeout(() => void this.evaluate(), MEDIA_RETRY_MS);
      }
    } finally {
      this.starting = false;
    }
  }

  private onMediaState(s: MediaState): void {
    if (s === "connected") this.setPhase("connected");
    else if (s === "reconnecting") this.setPhase("reconnecting");
    else if (s === "failed") {
      this.error = "the media connection did not come back";
      this.finish("failed");
    } else if (s === "closed" && !this.finishing) {
      // The server said the meet is over for this device: read it to tell which way.
      void this.session.api
        .meet(this.id)
        .then((v) => this.session.noteMeet(v))
        .catch(() => undefined);
    }
  }

  get muted(): boolean {
    return this.mutedWanted;
  }

  mute(on: boolean): void {
    this.mutedWanted = on;
    this.media?.mute(on);
    this.changed.emit(this);
  }

  /** Leaves the meet (a customer leaving ends it). */
  async hangUp(): Promise<MeetView> {
    try {
      const view = await this.session.api.hangup(this.id);
      this.session.noteMeet(view);
      return view;
    } finally {
      this.finish("ended");
    }
  }

  private finish(phase: "ended" | "failed"): void {
    if (this.phase === "ended" || this.phase === "failed") return;
    this.finishing = true;
    this.media?.close();
    this.media = null;
    for (const t of this.microphone.getTracks()) t.stop();
    for (const u of this.unsubscribe) u();
    this.setPhase(phase);
  }
}
