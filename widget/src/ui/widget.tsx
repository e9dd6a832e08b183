// The embedded widget: a launcher, and a panel with the chat, the Meet button (P2), the meet
// bar, an incoming ring (P3) and the microphone help (P7).

import { useEffect, useRef, useState } from "preact/hooks";

import type { MessageView } from "../bindings";
import { icons, MeetBar, MicHelpView } from "./parts";
import { useObservable } from "./observable";
import type { WidgetState } from "./widget-state";

function time(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function Message({ m }: { m: MessageView }) {
  const author = m.author.kind === "customer" ? "customer" : m.author.kind === "agent" ? "agent" : "system";
  return (
    <li class={`md-msg md-msg-${author}`} data-testid="md-message" data-author={author} data-message-id={m.id}>
      {author === "agent" && <span class="md-msg-author">{m.author.name}</span>}
      <span class="md-msg-body">{m.body}</span>
      {m.link && (
        <a class="md-btn md-btn-primary md-msg-link" data-testid="md-message-link" href={m.link} target="_blank" rel="noopener">
          {icons.phone} Join the meet
        </a>
      )}
      <time class="md-msg-time">{time(m.created_at)}</time>
    </li>
  );
}

function Messages({ list }: { list: MessageView[] }) {
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [list.length]);
  return (
    <ul class="md-messages" data-testid="md-messages" aria-live="polite">
      {list.length === 0 && <li class="md-empty">Ask us anything — we usually answer in a few minutes.</li>}
      {list.map((m) => (
        <Message key={m.id} m={m} />
      ))}
      <li ref={end} aria-hidden="true" />
    </ul>
  );
}

function Composer({ w }: { w: WidgetState }) {
  const [text, setText] = useState("");
  const chat = w.chat;
  if (chat && !chat.input_open) {
    return (
      <p class="md-input-closed" data-testid="md-input-closed">
        This conversation is not taking new messages right now.
      </p>
    );
  }
  const send = async () => {
    if (await w.send(text)) setText("");
  };
  return (
    <form
      class="md-composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <textarea
        data-testid="md-composer"
        rows={1}
        placeholder="Write a message…"
        aria-label="Message"
        value={text}
        maxLength={10000}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <button type="submit" class="md-btn md-btn-icon md-btn-primary" data-testid="md-send" aria-label="Send" disabled={!text.trim() || w.sending || !chat}>
        {icons.send}
      </button>
    </form>
  );
}

function Incoming({ w }: { w: WidgetState }) {
  const meet = w.incoming!;
  return (
    <div class="md-incoming" data-testid="md-incoming" role="alertdialog" aria-label="Incoming meet">
      <span class="md-incoming-pulse">{icons.phone}</span>
      <p>
        <strong>{meet.caller.name || "The team"}</strong> is calling
      </p>
      <div class="md-row">
        <button type="button" class="md-btn md-btn-danger" data-testid="md-decline" onClick={() => void w.decline()}>
          Decline
        </button>
        <button type="button" class="md-btn md-btn-accept" data-testid="md-accept" onClick={() => void w.accept()}>
          Accept
        </button>
      </div>
    </div>
  );
}

function Panel({ w }: { w: WidgetState }) {
  return (
    <section class="md-panel" data-testid="md-panel" role="dialog" aria-label="Chat with the team">
      <header class="md-header">
        <div class="md-title">
          <strong>Chat with the team</strong>
          <span class="md-subtitle">{w.chat?.assignee ? `with ${w.chat.assignee.name}` : "We're here to help"}</span>
        </div>
        {w.meetButtonShown && (
          <button type="button" class="md-btn md-btn-meet" data-testid="md-meet-button" onClick={() => void w.startMeet()}>
            {icons.phone} Meet
          </button>
        )}
        <button type="button" class="md-btn md-btn-icon md-btn-quiet" data-testid="md-close" aria-label="Close" onClick={() => w.setOpen(false)}>
          {icons.close}
        </button>
      </header>
      {w.status === "ready" && w.socket === "reconnecting" && (
        <div class="md-banner" data-testid="md-banner" role="status">
          Reconnecting…
        </div>
      )}
      {w.call && <MeetBar call={w.call} onDismiss={() => w.dismissCall()} />}
      {w.incoming && <Incoming w={w} />}
      {w.rejoinable && !w.call && (
        <div class="md-incoming" data-testid="md-rejoin" role="alert">
          <p>
            <strong>Your meet is still going on.</strong> Rejoin it?
          </p>
          <div class="md-row">
            <button type="button" class="md-btn md-btn-danger" data-testid="md-rejoin-hangup" onClick={() => void w.leaveRejoinable()}>
              Hang up
            </button>
            <button type="button" class="md-btn md-btn-accept" data-testid="md-rejoin-button" onClick={() => void w.rejoin()}>
              Rejoin
            </button>
          </div>
        </div>
      )}
      {w.micProblem && <MicHelpView problem={w.micProblem} onClose={() => w.closeMicHelp()} />}
      {w.status === "loading" && <p class="md-loading">Loading…</p>}
      {w.status === "error" && (
        <div class="md-load-error" role="alert">
          <p>{w.loadError}</p>
          <button type="button" class="md-btn md-btn-primary" onClick={() => void w.load()}>
            Try again
          </button>
        </div>
      )}
      {w.status === "ready" && (
        <>
          <Messages list={w.messages} />
          <Composer w={w} />
        </>
      )}
      {w.toast && (
        <div class="md-toast" data-testid="md-error" role="alert">
          {w.toast}
        </div>
      )}
    </section>
  );
}

export function Widget({ w }: { w: WidgetState }) {
  useObservable(w);
  const ringing = !!w.incoming;
  return (
    <div class="md-root">
      {w.open && <Panel w={w} />}
      <button
        type="button"
        class={`md-launcher${ringing ? " md-launcher-ringing" : ""}`}
        data-testid="md-launcher"
        aria-label={w.open ? "Close the chat" : "Chat with the team"}
        aria-expanded={w.open ? "true" : "false"}
        onClick={() => w.setOpen(!w.open)}
      >
        {w.open ? icons.close : icons.chat}
        {!w.open && w.unread > 0 && (
          <span class="md-unread" data-testid="md-unread">
            {w.unread}
          </span>
        )}
      </button>
    </div>
  );
}
