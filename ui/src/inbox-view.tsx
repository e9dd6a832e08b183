// The inbox: chat tabs; the open chat with its messages, composer and Meet button; its internal
// chat (P4: managers only, the orange internal meet); the customer's profile (P3: Voice meet).
import { useEffect, useState } from "preact/hooks";
import {
  chatMessages,
  customerProfile,
  internalMessages,
  joinMeet,
  listChats,
  meetState,
  onMeetChanged,
  onServerEvent,
  sendInternalMessage,
  sendMessage,
  startMeet,
  type ChannelSettings,
  type ChatFilter,
  type ChatView,
  type CustomerView,
  type MeetTarget,
  type MeetUiState,
  type MessageView,
} from "./bindings";
import { Composer, MeetMenu, MessageList } from "./conversation";
import {
  addMessage, applyToChats, applyToInternal, applyToInternalMeets, applyToMessages, composerState, needsReload, sortChats,
} from "./inbox";
import { onChatRequested } from "./links";
import { canCallCustomer, canOpenAgain, chatMeetAction, internalMeetAction } from "./meet";
import type { SignedIn } from "./shell";
import { errorText, settle } from "./util";
import "./inbox.css";

const TABS: { filter: ChatFilter; label: string }[] = [
  { filter: "mine", label: "Mine" },
  { filter: "all", label: "All" },
  { filter: "unassigned", label: "Unassigned" },
];

/** The open chat's two threads. */
type Thread = "chat" | "internal";

/** Whether this device is in a meet (only that: the same value does not re-render). */
export function useInMeet(): boolean {
  const [inMeet, setInMeet] = useState(false);
  useEffect(() => {
    const busy = (m: MeetUiState) => setInMeet(m.call !== null && m.call.phase !== "ended");
    const off = onMeetChanged(busy);
    meetState().then(busy, () => {});
    return () => void off.then((f) => f());
  }, []);
  return inMeet;
}

export function Inbox({ session }: { session: SignedIn }) {
  const agentId = session.agent.id;
  const isAdmin = session.agent.role === "admin";
  const [filter, setFilter] = useState<ChatFilter>("mine");
  const [chats, setChats] = useState<ChatView[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [thread, setThread] = useState<Thread>("chat");
  const [messages, setMessages] = useState<MessageView[] | null>(null);
  const [internal, setInternal] = useState<MessageView[] | null>(null);
  const [profile, setProfile] = useState<CustomerView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const [settings, setSettings] = useState<ChannelSettings>(session.channel.settings);
  const [meetError, setMeetError] = useState<string | null>(null);
  const [internalMeets, setInternalMeets] = useState<Record<string, string>>({});
  const inMeet = useInMeet();
  const online = session.connection === "online";
  useEffect(() => setMeetError(null), [selected, thread]);
  // A `meetdesk://chat/{id}` link: that chat, in the All tab (it may not be in this one).
  useEffect(
    () =>
      onChatRequested((chatId) => {
        setFilter("all");
        setSelected(chatId);
        setThread("chat");
      }),
    [],
  );

  // The tab's list, read again when the tab changes or the socket comes (back) online.
  useEffect(
    () => settle(listChats({ filter }), (list) => (setChats(sortChats(list)), setError(null)), setError),
    [filter, online, reloads],
  );

  const chat = chats?.find((c) => c.id === selected) ?? null;
  const customerId = chat?.customer.id ?? null;

  useEffect(() => {
    setMessages(null);
    setInternal(null);
    if (selected === null) return;
    const chat = settle(chatMessages({ chat_id: selected }), setMessages, setError);
    const internal = settle(internalMessages({ chat_id: selected }), setInternal, setError);
    return () => (chat(), internal());
  }, [selected, online, reloads]);

  useEffect(() => {
    setProfile(null);
    if (customerId === null) return;
    return settle(customerProfile({ customer_id: customerId }), setProfile, setError);
  }, [customerId, online, reloads]);

  useEffect(() => {
    const off = onServerEvent((event) => {
      if (event.type === "settings_updated") setSettings(event.settings);
      if (needsReload(event)) {
        setReloads((n) => n + 1);
        return;
      }
      setChats((list) => (list === null ? list : applyToChats(list, event, filter, agentId)));
      setInternalMeets((m) => applyToInternalMeets(m, event));
      if (selected !== null) {
        setMessages((list) => (list === null ? list : applyToMessages(list, event, selected)));
        setInternal((list) => (list === null ? list : applyToInternal(list, event, selected)));
      }
      if (event.type === "chat_updated" && event.chat.customer.id === customerId) {
        setProfile((p) => (p === null ? p : { ...p, online: event.chat.customer.online }));
      }
    });
    return () => void off.then((f) => f());
  }, [filter, selected, agentId, customerId]);

  /** Starts a meet; a new chat it made (a call from the profile) is opened. */
  const meet = (target: MeetTarget) => {
    setMeetError(null);
    startMeet({ target }).then(
      (state) => {
        const chatId = state.call?.chat_id ?? null;
        if (target.kind === "customer" && chatId !== null) {
          setFilter("all");
          setSelected(chatId);
          setThread("chat");
          setReloads((n) => n + 1);
        }
      },
      (e) => setMeetError(errorText(e)),
    );
  };
  const join = (meetId: string) => {
    setMeetError(null);
    joinMeet({ meet_id: meetId }).catch((e) => setMeetError(errorText(e)));
  };
  const canOpen = (target: MeetTarget) => canOpenAgain(target, chat, settings, session.agent, inMeet);
  const chatAction = chat ? chatMeetAction(chat, settings, session.agent, inMeet) : null;
  const internalOngoing = chat ? internalMeets[chat.id] ?? null : null;
  const internalAction = internalMeetAction(internalOngoing, settings, inMeet);

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
      <section class="chat pane" id="chat">
        {chat === null ? (
          <p class="muted center">Pick a chat.</p>
        ) : (
          <div class="chat-columns">
            <div class="thread">
              <div class="chat-bar">
                <h2 id="chat-title">{chat.customer.name}</h2>
                <nav class="threads" role="tablist">
                  <button role="tab" class={`tab ${thread === "chat" ? "active" : ""}`} data-testid="md-thread-chat"
                    aria-selected={thread === "chat"} onClick={() => setThread("chat")}>Chat</button>
                  <button role="tab" class={`tab internal ${thread === "internal" ? "active" : ""}`}
                    data-testid="md-thread-internal" aria-selected={thread === "internal"}
                    onClick={() => setThread("internal")}>Internal</button>
                </nav>
                <span class="spacer" />
                {thread === "chat" && chatAction === "start" && (
                  <MeetMenu testid="md-chat-meet" item="Meet audio"
                    onPick={() => meet({ kind: "user_chat", chat_id: chat.id })} />
                )}
                {thread === "chat" && chatAction === "join" && chat.ongoing_meet && (
                  <button class="meet-button" data-testid="md-chat-join" title="A meet is going on in this chat"
                    onClick={() => chat.ongoing_meet && join(chat.ongoing_meet)}>Join meet</button>
                )}
                {thread === "internal" && internalAction === "start" && (
                  <MeetMenu testid="md-internal-meet" item="Meet audio" orange
                    onPick={() => meet({ kind: "internal", chat_id: chat.id })} />
                )}
                {thread === "internal" && internalAction === "join" && internalOngoing && (
                  <button class="meet-button internal" data-testid="md-internal-join" title="An internal meet is going on"
                    onClick={() => join(internalOngoing)}>Join meet</button>
                )}
              </div>
              {meetError && <p class="error" role="alert" data-testid="md-chat-meet-error">{meetError}</p>}
              {thread === "chat" ? (
                <>
                  <MessageList id="messages" messages={messages} isAdmin={isAdmin} canOpen={canOpen} onOpen={meet} />
                  <Composer testid="md-composer" placeholder={`Reply to ${chat.customer.name}`}
                    state={composerState(chat, online, false)}
                    onSend={(body) => sendMessage({ chat_id: chat.id, body }).then((m) => setMessages((l) => l && addMessage(l, m)))} />
                </>
              ) : (
                <div class="internal-thread" data-testid="md-internal">
                  <p class="muted small">Internal chat: managers only. The customer never sees it.</p>
                  <MessageList id="internal-messages" messages={internal} isAdmin={isAdmin} canOpen={canOpen} onOpen={meet}
                    empty="No internal notes yet." />
                  <Composer testid="md-internal-composer" placeholder="Note for the team"
                    state={composerState(chat, online, true)}
                    onSend={(body) => sendInternalMessage({ chat_id: chat.id, body }).then((m) => setInternal((l) => l && addMessage(l, m)))} />
                </div>
              )}
            </div>
            <aside class="profile" data-testid="md-profile">
              <h3>Customer</h3>
              {profile === null ? (
                <p class="muted">Loading…</p>
              ) : (
                <>
                  <strong data-testid="md-profile-name">{profile.name}</strong>
                  <span class="muted small" data-testid="md-profile-online">{profile.online ? "Online" : "Offline"}</span>
                  <dl>
                    <dt>E-mail</dt>
                    <dd data-testid="md-profile-email">{profile.email ?? "—"}</dd>
                  </dl>
                  {canCallCustomer(settings, session.agent, inMeet) && (
                    <MeetMenu testid="md-profile-meet" item="Voice meet"
                      onPick={() => meet({ kind: "customer", customer_id: profile.id })} />
                  )}
                </>
              )}
            </aside>
          </div>
        )}
      </section>
    </>
  );
}
