// The embedded widget's state: the customer session (resumed from a link, picked up from this
// browser's storage, or a new visitor), the chat on screen and its messages, the meet in
// progress, an incoming ring, and the microphone help (P7).

import { ApiError, isApiError } from "../api";
import type { ChatView, MeetView, MessageView } from "../bindings";
import type { SocketState } from "../events";
import { MicrophoneError, openMicrophone } from "../media";
import { CustomerSession, type MeetCall, type StoredSession } from "../session";
import { CallState, errorText, type MicProblem } from "./call-state";
import { Observable } from "./observable";

export interface WidgetConfig {
  /** The server's origin. */
  base: string;
  channelKey: string;
  /** A resume link's token (the page was opened from one): replaces a stored session. */
  resumeToken: string | null;
  /** Where the session is kept between visits (null: nowhere). */
  storage: Storage | null;
  log?: (message: string, data?: unknown) => void;
}

type Status = "idle" | "loading" | "ready" | "error";

/** What this browser keeps: the session, and the resume link token it came from (if any). */
type KeptSession = StoredSession & { resume?: string | null };

export class WidgetState extends Observable {
  open = false;
  status: Status = "idle";
  /** Why the session could not be opened (status "error"). */
  loadError: string | null = null;
  session: CustomerSession | null = null;
  chatId: string | null = null;
  messages: MessageView[] = [];
  unread = 0;
  socket: SocketState = "connecting";
  call: CallState | null = null;
  incoming: MeetView | null = null;
  /** A meet this device is still part of but holds no media for (the page was reloaded mid-meet). */
  rejoinable: MeetView | null = null;
  micProblem: MicProblem | null = null;
  toast: string | null = null;
  sending = false;
  /** Echo cancellation, noise suppression and gain control on the microphone (tests feeding a pure tone turn them off). */
  audioProcessing = true;
  readonly ready: Promise<void>;
  private readyResolve: () => void = () => {};
  private readonly config: WidgetConfig;
  private loading: Promise<void> | null = null;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(config: WidgetConfig) {
    super();
    this.config = config;
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  private get storageKey(): string {
    return `meetdesk:${this.config.channelKey}`;
  }

  private log(message: string, data?: unknown): void {
    this.config.log?.(message, data);
  }

  /** At page load: a resume link or a kept session connects now (so rings reach it); a new visitor waits for the launcher. */
  start(): void {
    if (this.config.resumeToken || this.storedSession()) void this.load();
  }

  private storedSession(): KeptSession | null {
    try {
      const raw = this.config.storage?.getItem(this.storageKey);
      if (!raw) return null;
      const s = JSON.parse(raw) as KeptSession;
      return s.expires_at > Date.now() ? s : null;
    } catch {
      return null;
    }
  }

  private keep(session: CustomerSession, resume: string | null): void {
    try {
      const kept: KeptSession = { ...session.stored(), resume };
      this.config.storage?.setItem(this.storageKey, JSON.stringify(kept));
    } catch {
      // Storage full or blocked (private mode): the session lasts this page only.
    }
  }

  private forget(): void {
    try {
      this.config.storage?.removeItem(this.storageKey);
    } catch {
      // ignore
    }
  }

  load(): Promise<void> {
    this.loading ??= this.openSession().finally(() => (this.loading = null));
    return this.loading;
  }

  private async openSession(): Promise<void> {
    if (this.session) return;
    this.status = "loading";
    this.changed();
    const opts = { log: this.config.log };
    try {
      let session: CustomerSession | null = null;
      const resume = this.config.resumeToken;
      const stored = this.storedSession();
      // A reload of a page opened from a resume link keeps the device it had (and its meet).
      if (stored && (!resume || stored.resume === resume)) {
        try {
          session = await CustomerSession.restore(this.config.base, stored, opts);
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 401)) throw e;
          this.forget();
        }
      }
      if (!session && resume) {
        session = await CustomerSession.resume(`${this.config.base}/?resume=${encodeURIComponent(resume)}`, {
          ...opts,
          base: this.config.base,
        });
      }
      session ??= await CustomerSession.visitor(this.config.base, this.config.channelKey, opts);
      this.keep(session, resume);
      this.attach(session);
      this.status = "ready";
      this.changed();
      void session.ready.then(() => this.readyResolve());
    } catch (e) {
      this.log("opening the widget session failed", String(e));
      this.status = "error";
      this.loadError = errorText(e);
      this.changed();
    }
  }

  private attach(session: CustomerSession): void {
    this.session = session;
    session.socketState.on((s) => {
      this.socket = s;
      this.changed();
    });
    session.chatChanged.on(() => this.pickChat());
    session.events.on((e) => {
      if (e.type === "message") this.onMessage(e.message);
    });
    session.ringing.on((meet) => {
      if (this.call?.live) return; // busy: the ring runs out on the agent's side
      this.incoming = meet;
      this.open = true;
      this.changed();
    });
    session.ringStopped.on(({ meetId }) => {
      if (this.incoming?.id === meetId) {
        this.incoming = null;
        this.changed();
      }
    });
    session.meetChanged.on((m) => {
      if (this.incoming?.id === m.id && m.state !== "ringing") {
        this.incoming = null;
        this.changed();
      }
      if (this.rejoinable?.id === m.id && !this.canRejoin(m)) {
        this.rejoinable = null;
        this.changed();
      }
    });
    this.pickChat();
    void this.findRejoinable();
  }

  private canRejoin(m: MeetView): boolean {
    return (m.state === "active" || m.state === "ringing") && !!this.session?.isIn(m);
  }

  /** After a reload: is this device still in one of its chats' meets? */
  private async findRejoinable(): Promise<void> {
    const session = this.session;
    if (!session) return;
    for (const chat of session.chats.values()) {
      if (!chat.ongoing_meet) continue;
      try {
        const m = await session.api.meet(chat.ongoing_meet);
        session.noteMeet(m);
        if (this.canRejoin(m) && !this.call?.live) {
          this.rejoinable = m;
          this.open = true;
          this.changed();
          return;
        }
      } catch {
        // not ours to see, or gone: nothing to rejoin
      }
    }
  }

  /** Back into the meet this device left behind. */
  async rejoin(): Promise<void> {
    const session = this.session;
    const meet = this.rejoinable;
    if (!session || !meet || this.call?.live) return;
    this.rejoinable = null;
    await this.takeCall(
      meet.caller.kind === "customer",
      () => {
        this.rejoinable = meet;
        void this.rejoin();
      },
      () => (this.rejoinable = meet),
      (microphone) => session.rejoin(meet.id, { microphone }),
    );
  }

  /** Leaves the meet this device left behind without going back in. */
  async leaveRejoinable(): Promise<void> {
    const meet = this.rejoinable;
    if (!meet || !this.session) return;
    this.rejoinable = null;
    this.changed();
    try {
      this.session.noteMeet(await this.session.api.hangup(meet.id));
    } catch (e) {
      if (!isApiError(e, "meet_ended", "not_participant")) this.showToast(errorText(e));
    }
  }

  /** The chat on screen: the one most recently active. */
  private pickChat(): void {
    const chats = [...(this.session?.chats.values() ?? [])];
    chats.sort((a, b) => b.updated_at - a.updated_at || b.created_at - a.created_at);
    const next = chats[0]?.id ?? null;
    if (next !== this.chatId) {
      this.chatId = next;
      this.messages = [];
      if (next) void this.loadMessages(next);
    }
    this.changed();
  }

  private async loadMessages(chatId: string): Promise<void> {
    try {
      const list = await this.session!.api.messages(chatId);
      if (this.chatId !== chatId) return;
      // Messages that came as events while the list was on its way are kept.
      const known = new Set(list.map((m) => m.id));
      this.messages = [...list, ...this.messages.filter((m) => !known.has(m.id))].sort(
        (a, b) => a.created_at - b.created_at,
      );
      this.changed();
    } catch (e) {
      this.showToast(errorText(e));
    }
  }

  private onMessage(m: MessageView): void {
    if (!m.chat_id || m.internal) return;
    if (m.chat_id !== this.chatId) {
      // A message in another of this customer's chats makes it the one on screen.
      if (!this.session?.chats.has(m.chat_id)) return;
      this.chatId = m.chat_id;
      this.messages = [];
      void this.loadMessages(m.chat_id);
    }
    if (this.messages.some((x) => x.id === m.id)) return;
    this.messages = [...this.messages, m];
    if (!this.open && m.author.kind !== "customer") this.unread += 1;
    this.changed();
  }

  get chat(): ChatView | null {
    return (this.chatId && this.session?.chats.get(this.chatId)) || null;
  }

  /** P2: the server's rule, and no meet of ours in progress. */
  get meetButtonShown(): boolean {
    return !!this.chat?.customer_meet_button.shown && !this.call?.live;
  }

  setOpen(open: boolean): void {
    this.open = open;
    if (open) {
      this.unread = 0;
      void this.load();
    }
    this.changed();
  }

  showToast(text: string): void {
    this.toast = text;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      this.toast = null;
      this.changed();
    }, 6000);
    this.changed();
  }

  async send(text: string): Promise<boolean> {
    const body = text.trim();
    const chatId = this.chatId;
    if (!body || !chatId || !this.session || this.sending) return false;
    this.sending = true;
    this.changed();
    try {
      const m = await this.session.api.postMessage(chatId, body);
      this.onMessage(m);
      return true;
    } catch (e) {
      this.showToast(errorText(e));
      return false;
    } finally {
      this.sending = false;
      this.changed();
    }
  }

  private async microphone(retry: () => void): Promise<MediaStream | null> {
    try {
      const mic = await openMicrophone(this.audioProcessing);
      this.micProblem = null;
      return mic;
    } catch (e) {
      if (e instanceof MicrophoneError) {
        this.micProblem = { problem: e.problem, retry };
        this.changed();
        return null;
      }
      throw e;
    }
  }

  /**
   * Opens the microphone, then takes the call `join` gives. When the microphone is refused,
   * the help shows (its "Try again" calls `retry`) and `back` puts the screen as it was.
   */
  private async takeCall(
    outgoing: boolean,
    retry: () => void,
    back: () => void,
    join: (microphone: MediaStream) => Promise<MeetCall>,
  ): Promise<void> {
    const state = new CallState(outgoing);
    this.setCall(state);
    try {
      const microphone = await this.microphone(retry);
      if (!microphone) {
        this.setCall(null);
        back();
        this.changed();
        return;
      }
      state.attach(await join(microphone));
    } catch (e) {
      state.fail(errorText(e));
    }
  }

  /** P2: the customer presses Meet. The microphone comes first: a refusal rings nobody. */
  async startMeet(): Promise<void> {
    const session = this.session;
    const chatId = this.chatId;
    if (!session || !chatId || this.call?.live) return;
    await this.takeCall(
      true,
      () => void this.startMeet(),
      () => undefined,
      (microphone) => session.startMeet({ chatId, microphone }),
    );
  }

  /** P3: the customer answers an agent's ring. */
  async accept(): Promise<void> {
    const session = this.session;
    const meet = this.incoming;
    if (!session || !meet) return;
    this.incoming = null;
    await this.takeCall(
      false,
      () => {
        this.incoming = meet;
        void this.accept();
      },
      () => (this.incoming = session.meet(meet.id)?.state === "ringing" ? meet : null),
      (microphone) => session.accept(meet.id, { microphone }),
    );
  }

  async decline(): Promise<void> {
    const meet = this.incoming;
    if (!meet || !this.session) return;
    this.incoming = null;
    this.changed();
    try {
      this.session.noteMeet(await this.session.api.decline(meet.id));
    } catch (e) {
      if (!isApiError(e, "not_ringing", "meet_ended")) this.showToast(errorText(e));
    }
  }

  closeMicHelp(): void {
    this.micProblem = null;
    this.changed();
  }

  dismissCall(): void {
    if (this.call?.live) return;
    this.setCall(null);
  }

  private setCall(state: CallState | null): void {
    this.call?.dispose();
    this.call = state;
    state?.subscribe(() => this.changed());
    this.changed();
  }
}
