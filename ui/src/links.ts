// `meetdesk://` links (Rust reads them: platform.rs): a chat link shows the inbox with that
// chat, a meet link was joined by Rust already (its error, if any, is shown).
import { useEffect } from "preact/hooks";
import { onLinkOpened } from "./bindings";

const OPEN_CHAT = "meetdesk:open-chat";

/** Asks the inbox to show a chat (`onChatRequested` hears it). */
export function requestChat(chatId: string): void {
  window.dispatchEvent(new CustomEvent<string>(OPEN_CHAT, { detail: chatId }));
}

/** Calls `handler` with the chat a link asked for; returns the unsubscribe function. */
export function onChatRequested(handler: (chatId: string) => void): () => void {
  const listener = (e: Event) => handler((e as CustomEvent<string>).detail);
  window.addEventListener(OPEN_CHAT, listener);
  return () => window.removeEventListener(OPEN_CHAT, listener);
}

/** Follows the links the app is opened with: `showInbox` for a chat, `showError` for a failure. */
export function useAppLinks(showInbox: () => void, showError: (message: string) => void): void {
  useEffect(() => {
    const off = onLinkOpened(({ link, error }) => {
      if (error) showError(error);
      if (link.kind === "chat") {
        showInbox();
        // After the inbox screen is on (it subscribes as it mounts).
        setTimeout(() => requestChat(link.chat_id), 0);
      }
    });
    return () => void off.then((f) => f());
  }, []);
}
