import { useEffect, useState } from "preact/hooks";
import {
  acceptRing,
  chatMessages,
  declineRing,
  hangUp,
  meetState,
  onMeetChanged,
  setMuted,
  startMeet,
  getSession,
  listChats,
  onServerEvent,
  onSessionChanged,
  signIn,
  signOut,
  type CallUi,
  type ChannelSettings,
  type ChatFilter,
  type ChatView,
  type CommandError,
  type MeetUiState,
  type MessageView,
  type RingUi,
  type SessionState,
} from "./bindings";
import { applyToChats, applyToMessages, needsReload, sortChats } from "./inbox";
import { callDuration, canStartMeet, phaseText, scopeText } from "./meet";

type SignedIn = Extract<SessionState, { state: "signed_in" }>;

function errorText(e: unknown): string {
  const ce = e as Partial<CommandError>;
  return typeof ce?.message === "string" ? ce.message : String(e);
}

export function App() {
  const [session, setSession] = useState<SessionState | null>(null);
  useEffect(() => {
    // Listen first, then ask: no change can fall in between.
    const off = onSessionChanged(setSession);
    getSession().then(setSession, (e) => console.error(errorText(e)));
    return () => void off.then((f) => f());
  }, []);
  if (session === null || session.state === "starting") {
    return (
      <main class="center" id="starting">
        <p>Connecting{session?.state === "starting" && session.server ? ` to ${session.server}` : ""}…</p>
        {session?.state === "starting" && session.error && <p class="muted">{session.error}</p>}
      </main>
    );
  }
  if (session.state === "signed_out") return <SignInForm server={session.server} notice={session.notice} />;
  return <Inbox session={session} />;
}

/** The meets of this device, as Rust publishes them (`meet_changed`). */
function useMeets(): MeetUiState {
  const [meets, setMeets] = useState<MeetUiState>({ ringing: [], call: null });
  useEffect(() => {
    const off = onMeetChanged(setMeets);
    meetState().then(setMeets, (e) => console.error(errorText(e)));
    return () => void off.then((f) => f());
  }, []);
  return meets;
}

/** Unix ms now, once a second while `on`. */
function useNow(on: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [on]);
  return now;
}

function RingCard({ ring }: { ring: RingUi }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    f().then(
      () => setBusy(false),
      (e) => (setError(errorText(e)), setBusy(false)),
    );
  };
  return (
    <div class={`ring-card ${ring.scope === "internal" ? "internal" : ""}`} data-testid="md-ring" data-meet-id={ring.meet_id}
      role="alertdialog" aria-label={`Incoming meet from ${ring.caller_name}`}>
      <div class="ring-info">
        <span class="muted small">{scopeText(ring.scope)}</span>
        <strong data-testid="md-ring-caller">{ring.caller_name}</strong>
        {error && <span class="error small" role="alert">{error}</span>}
      </div>
      <button class="round decline" data-testid="md-ring-decline" disabled={busy} title="Decline"
        onClick={() => act(() => declineRing({ meet_id: ring.meet_id }))}>✕<span class="label">Decline</span></button>
      <button class="round accept" data-testid="md-ring-accept" disabled={busy} title="Accept"
        onClick={() => act(() => acceptRing({ meet_id: ring.meet_id }))}>✓<span class="label">Accept</span></button>
    </div>
  );
}

function CallPanel({ call }: { call: CallUi }) {
  const [error, setError] = useState<string | null>(null);
  const live = call.phase !== "ended";
  const now = useNow(live && call.started_at !== null);
  const duration = callDuration(call, now);
  const act = (f: () => Promise<unknown>) => {
    setError(null);
    f().catch((e) => setError(errorText(e)));
  };
  return (
    <div class={`call-panel ${call.internal ? "internal" : ""} ${call.phase}`} data-testid="md-call" data-meet-id={call.meet_id}
      data-phase={call.phase}>
      <div class="call-head">
        <span class="call-title">{call.internal ? "Internal meet" : scopeText(call.scope)}</span>
        <span class="call-status" data-testid="md-call-status">{phaseText(call.phase)}</span>
        <span class="call-duration" data-testid="md-call-duration">{duration ?? "--:--"}</span>
      </div>
      <div class="call-people" data-testid="md-call-participants">
        {call.participants.length === 0 ? <span class="muted">Just you</span> : call.participants.join(", ")}
      </div>
      {call.notice && call.phase === "ended" && <p class="muted small" data-testid="md-call-notice">{call.notice}</p>}
      {error && <p class="error small" role="alert">{error}</p>}
      {live && (
        <div class="call-controls">
          <div class="meter" data-testid="md-call-level" title="Microphone level" role="meter"
            aria-valuemin={0} aria-valuemax={1} aria-valuenow={call.input_level}>
            <div class="meter-bar" style={{ width: `${Math.round(call.input_level * 100)}%` }} />
          </div>
          <button class={`mute ${call.muted ? "on" : ""}`} data-testid="md-call-mute" aria-pressed={call.muted}
            onClick={() => act(() => setMuted({ muted: !call.muted }))}>{call.muted ? "Unmute" : "Mute"}</button>
          <button class="hangup" data-testid="md-call-hangup" onClick={() => act(() => hangUp())}>Hang up</button>
        </div>
      )}
    </div>
  );
}

/** The ring cards and the meet panel (they alone re-render with the 10 Hz level). */
function MeetLayer() {
  const meets = useMeets();
  if (meets.ringing.length === 0 && meets.call === null) return null;
  return (
    <div class="meet-layer">
      {meets.ringing.map((r) => <RingCard key={r.meet_id} ring={r} />)}
      {meets.call && <CallPanel call={meets.call} />}
    </div>
  );
}

function SignInForm(props: { server: string | null; notice: string | null }) {
  const [server, setServer] = useState(props.server ?? "");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(props.notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn({ server, email, password }); // the session_changed event switches screens
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <main class="center">
      <form id="sign-in-form" class="card" onSubmit={submit}>
        <h1>Sign in to meetdesk</h1>
        <label>
          Server
          <input id="server" type="url" placeholder="https://support.example.com" required value={server}
            onInput={(e) => setServer(e.currentTarget.value)} />
        </label>
        <label>
          E-mail
          <input id="email" type="email" autocomplete="username" required value={email}
            onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input id="password" type="password" autocomplete="current-password" required value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p class="error" id="sign-in-error" role="alert">{error}</p>}
        <button id="sign-in" type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}

const TABS: { filter: ChatFilter; label: string }[] = [
  { filter: "mine", label: "Mine" },
  { filter: "all", label: "All" },
  { filter: "unassigned", label: "Unassigned" },
];

function Inbox({ session }: { session: SignedIn }) {
  const agentId = session.agent.id;
  const [filter, setFilter] = useState<ChatFilter>("mine");
  const [chats, setChats] = useState<ChatView[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [messages, setMessages] = useState<MessageView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const [settings, setSettings] = useState<ChannelSettings>(session.channel.settings);
  const [meetError, setMeetError] = useState<string | null>(null);
  const [inMeet, setInMeet] = useState(false);
  const online = session.connection === "online";
  useEffect(() => setMeetError(null), [selected]);
  useEffect(() => {
    // Only whether a meet is on (the same value does not re-render the inbox).
    const busy = (m: MeetUiState) => setInMeet(m.call !== null && m.call.phase !== "ended");
    const off = onMeetChanged(busy);
    meetState().then(busy, () => {});
    return () => void off.then((f) => f());
  }, []);

  // The tab's list, read again when the tab changes or the socket comes (back) online.
  useEffect(() => {
    let live = true;
    listChats({ filter }).then(
      (list) => live && (setChats(sortChats(list)), setError(null)),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [filter, online, reloads]);

  useEffect(() => {
    setMessages(null);
    if (selected === null) return;
    let live = true;
    chatMessages({ chat_id: selected }).then(
      (list) => live && setMessages(list),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [selected, online, reloads]);

  useEffect(() => {
    const off = onServerEvent((event) => {
      if (event.type === "settings_updated") setSettings(event.settings);
      if (needsReload(event)) {
        setReloads((n) => n + 1);
        return;
      }
      setChats((list) => (list === null ? list : applyToChats(list, event, filter, agentId)));
      if (selected !== null) setMessages((list) => (list === null ? list : applyToMessages(list, event, selected)));
    });
    return () => void off.then((f) => f());
  }, [filter, selected, agentId]);

  const chat = chats?.find((c) => c.id === selected) ?? null;
  return (
    <div class="inbox">
      <header class="topbar">
        <strong>{session.channel.name}</strong>
        <span class={`conn ${session.connection}`} id="connection">
          {session.connection === "online" ? "Online" : session.connection === "connecting" ? "Connecting…" : "Offline — reconnecting"}
        </span>
        <span class="spacer" />
        <span id="agent-name">{session.agent.name}</span>
        <button id="sign-out" class="link" onClick={() => void signOut().catch((e) => setError(errorText(e)))}>
          Sign out
        </button>
      </header>
      {!online && session.connection === "offline" && (
        <div class="banner" id="offline-banner">Offline: reconnecting to {session.server}…</div>
      )}
      <aside class="chats">
        <nav class="tabs">
          {TABS.map((t) => (
            <button key={t.filter} class={`tab ${filter === t.filter ? "active" : ""}`} data-filter={t.filter}
              onClick={() => setFilter(t.filter)}>{t.label}</button>
          ))}
        </nav>
        {error && <p class="error" role="alert">{error}</p>}
        {chats === null ? (
          <p class="muted">Loading…</p>
        ) : chats.length === 0 ? (
          <p class="muted" id="no-chats">No chats here.</p>
        ) : (
          <ul id="chat-list">
            {chats.map((c) => (
              <li key={c.id} data-chat-id={c.id} class={`chat-item ${c.id === selected ? "selected" : ""}`}
                onClick={() => setSelected(c.id)}>
                <span class="name">{c.customer.name}</span>
                {c.customer.online && <span class="dot" title="Online" />}
                <span class="muted small">{c.assignee ? c.assignee.name : "Unassigned"} · {c.state}</span>
              </li>
            ))}
          </ul>
        )}
      </aside>
      <section class="chat" id="chat">
        {chat === null ? (
          <p class="muted center">Pick a chat.</p>
        ) : (
          <>
            <div class="chat-bar">
              <h2 id="chat-title">{chat.customer.name}</h2>
              <span class="spacer" />
              {canStartMeet(chat, settings, session.agent, inMeet) && (
                <button class="meet-button" data-testid="md-chat-meet" title="Meet audio"
                  onClick={() => {
                    setMeetError(null);
                    startMeet({ chat_id: chat.id }).catch((e) => setMeetError(errorText(e)));
                  }}>Meet</button>
              )}
            </div>
            {meetError && <p class="error" role="alert" data-testid="md-chat-meet-error">{meetError}</p>}
            {messages === null ? (
              <p class="muted">Loading…</p>
            ) : (
              <ol id="messages">
                {messages.map((m) => (
                  <li key={m.id} class={`message ${m.author.kind}`} data-message-id={m.id}>
                    <span class="author">{m.author.name}</span>
                    <span class="body">{m.body}</span>
                  </li>
                ))}
              </ol>
            )}
          </>
        )}
      </section>
      <MeetLayer />
    </div>
  );
}
