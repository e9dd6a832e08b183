import { useEffect, useState } from "preact/hooks";
import {
  chatMessages,
  getSession,
  listChats,
  onServerEvent,
  onSessionChanged,
  signIn,
  signOut,
  type ChatFilter,
  type ChatView,
  type CommandError,
  type MessageView,
  type SessionState,
} from "./bindings";
import { applyToChats, applyToMessages, needsReload, sortChats } from "./inbox";

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
  const online = session.connection === "online";

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
            <h2 id="chat-title">{chat.customer.name}</h2>
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
    </div>
  );
}
