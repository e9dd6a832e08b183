// The inbox: chat tabs, the open chat and its Meet button.
import { useEffect, useState } from "preact/hooks";
import {
  chatMessages,
  listChats,
  meetState,
  onMeetChanged,
  onServerEvent,
  startMeet,
  type ChannelSettings,
  type ChatFilter,
  type ChatView,
  type MeetUiState,
  type MessageView,
} from "./bindings";
import { applyToChats, applyToMessages, needsReload, sortChats } from "./inbox";
import { canStartMeet } from "./meet";
import type { SignedIn } from "./shell";
import { errorText } from "./util";

const TABS: { filter: ChatFilter; label: string }[] = [
  { filter: "mine", label: "Mine" },
  { filter: "all", label: "All" },
  { filter: "unassigned", label: "Unassigned" },
];

export function Inbox({ session }: { session: SignedIn }) {
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
    <>
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
                    startMeet({ target: { kind: "user_chat", chat_id: chat.id } }).catch((e) => setMeetError(errorText(e)));
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
    </>
  );
}
