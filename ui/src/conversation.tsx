// What the inbox's chats and the team's rooms share: the message list (with missed-meet
// indicators), the composer, and the [Meet] → [Meet audio] menu.
import { useEffect, useRef, useState } from "preact/hooks";
import type { MeetTarget, MessageView } from "./bindings";
import { composerKey, type ComposerState } from "./inbox";
import { missedIndicator } from "./meet";
import { errorText } from "./util";

/**
 * Messages oldest first, kept scrolled to the newest. A missed-meet indicator shows its reason
 * to admins and "Open meet" when `canOpen` allows starting that meet again.
 */
export function MessageList(props: {
  id: string;
  messages: MessageView[] | null;
  isAdmin: boolean;
  canOpen: (target: MeetTarget) => boolean;
  onOpen: (target: MeetTarget) => void;
  empty?: string;
  /** In a team room (everyone an agent): this agent's own messages on the right, others' left. */
  selfId?: string;
}) {
  const list = useRef<HTMLOListElement>(null);
  const count = props.messages?.length ?? 0;
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [count]);
  if (props.messages === null) return <p class="muted">Loading…</p>;
  return (
    <ol id={props.id} class="messages" ref={list}>
      {props.messages.length === 0 && props.empty && <li class="muted">{props.empty}</li>}
      {props.messages.map((m) => {
        const missed = missedIndicator(m, props.isAdmin);
        if (missed !== null) {
          return (
            <li key={m.id} class="message system missed" data-message-id={m.id} data-testid="md-missed"
              data-meet-id={missed.meetId}>
              <span class="body">Missed meet</span>
              {missed.reason && <span class="muted small" data-testid="md-missed-reason">Reason: {missed.reason}</span>}
              {missed.again && props.canOpen(missed.again) && (
                <button class="link" data-testid="md-missed-open" onClick={() => missed.again && props.onOpen(missed.again)}>
                  Open meet
                </button>
              )}
            </li>
          );
        }
        return (
          <li key={m.id} data-message-id={m.id}
            class={`message ${m.author.kind} ${props.selfId !== undefined && m.author.id !== props.selfId ? "other" : ""}`}>
            <span class="author">{m.author.name}</span>
            <span class="body">{m.body}</span>
          </li>
        );
      })}
    </ol>
  );
}

/** A message box: Enter sends, Shift+Enter starts a new line; disabled with its reason. */
export function Composer(props: { testid: string; state: ComposerState; placeholder: string; onSend: (body: string) => Promise<unknown> }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const enabled = props.state.enabled;
  const send = () => {
    if (!enabled || busy || text.trim() === "") return;
    setBusy(true);
    setError(null);
    props.onSend(text).then(
      () => (setText(""), setBusy(false)),
      (e) => (setError(errorText(e)), setBusy(false)),
    );
  };
  return (
    <div class={`composer ${enabled ? "" : "disabled"}`} data-testid={props.testid}>
      <textarea data-testid={`${props.testid}-input`} rows={2} value={text} disabled={!enabled || busy}
        placeholder={enabled ? props.placeholder : ""} aria-label={props.placeholder}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (composerKey(e) === "send") {
            e.preventDefault();
            send();
          }
        }} />
      <button data-testid={`${props.testid}-send`} disabled={!enabled || busy || text.trim() === ""} onClick={send}>Send</button>
      {!props.state.enabled && <p class="muted small reason" data-testid={`${props.testid}-reason`}>{props.state.reason}</p>}
      {error && <p class="error small" role="alert">{error}</p>}
    </div>
  );
}

/** [Meet] opening a menu of its kinds (audio only in this app: its meets are audio). */
export function MeetMenu(props: { testid: string; label?: string; item: string; orange?: boolean; onPick: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <span class="meet-menu">
      <button class={`meet-button ${props.orange ? "internal" : ""}`} data-testid={props.testid} aria-haspopup="menu"
        aria-expanded={open} onClick={() => setOpen(!open)}>{props.label ?? "Meet"}</button>
      {open && (
        <span class="menu" role="menu">
          <button role="menuitem" data-testid={`${props.testid}-audio`} onClick={() => (setOpen(false), props.onPick())}>
            {props.item}
          </button>
        </span>
      )}
    </span>
  );
}
