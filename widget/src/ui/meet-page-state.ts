// The full-page meet a follow-up link opens (`/m/{meet}?t=TOKEN`, P3): first a look at the
// link without using it (expired, altered, used, another meet's → a page that says so), then
// "Join": microphone, open the link (the server joins this device to the meet), media.
// The session is kept in sessionStorage so a reload of this tab rejoins instead of finding
// the link used.

import { Api, ApiError, isApiError } from "../api";
import { MicrophoneError, openMicrophone } from "../media";
import { CustomerSession, parseMeetLink, type StoredSession } from "../session";
import { CallState, errorText, type MicProblem } from "./call-state";
import { Observable } from "./observable";

export type PageState = "checking" | "ready" | "joining" | "in_meet" | "ended" | "error";

export interface LinkProblem {
  code: string;
  title: string;
  text: string;
}

/** The page for a refused link: what happened and what to do, never a stack trace. */
export function linkProblem(e: unknown): LinkProblem {
  const code = e instanceof ApiError ? e.code : "network";
  switch (code) {
    case "link_invalid":
      return {
        code,
        title: "This link does not work",
        text: "It may have been copied incompletely or changed. Ask the team in the chat to call you again.",
      };
    case "link_expired":
      return {
        code,
        title: "This link has expired",
        text: "Meet links work for a short time only. Ask the team in the chat to call you again.",
      };
    case "link_used":
      return {
        code,
        title: "This link has already been used",
        text: "It opened the meet in another tab or on another device. Continue there, or ask the team to call you again.",
      };
    case "link_wrong_meet":
      return {
        code,
        title: "This link belongs to another meet",
        text: "Open the link exactly as you received it.",
      };
    case "meet_ended":
      return { code, title: "This meet has ended", text: "You can close this page. The team can call you again from the chat." };
    case "not_found":
      return { code, title: "This meet does not exist", text: "Check that the link is complete." };
    case "network":
      return { code, title: "Cannot reach the server", text: "Check your internet connection, then reload this page." };
    default:
      return { code, title: "This meet cannot be opened", text: errorText(e) };
  }
}

export class MeetPageState extends Observable {
  state: PageState = "checking";
  problem: LinkProblem | null = null;
  callerName = "";
  call: CallState | null = null;
  micProblem: MicProblem | null = null;
  session: CustomerSession | null = null;
  audioProcessing = true;
  private readonly base: string;
  private readonly meetId: string;
  private readonly token: string;
  private readonly link: string;
  private readonly storage: Storage | null;

  constructor(link: string, storage: Storage | null) {
    super();
    this.link = link;
    this.storage = storage;
    let parsed: { base: string; meetId: string; token: string } | null = null;
    try {
      parsed = parseMeetLink(link);
    } catch {
      parsed = null;
    }
    this.base = parsed?.base ?? "";
    this.meetId = parsed?.meetId ?? "";
    this.token = parsed?.token ?? "";
    if (!parsed) this.setProblem(new ApiError(400, "link_invalid", "not a meet link"));
  }

  private get key(): string {
    return `meetdesk:meet:${this.meetId}`;
  }

  private stored(): (StoredSession & { caller: string }) | null {
    try {
      const raw = this.storage?.getItem(this.key);
      const s = raw ? (JSON.parse(raw) as StoredSession & { caller: string }) : null;
      return s && s.expires_at > Date.now() ? s : null;
    } catch {
      return null;
    }
  }

  private setProblem(e: unknown): void {
    this.problem = linkProblem(e);
    this.state = this.problem.code === "meet_ended" ? "ended" : "error";
    this.changed();
  }

  /** The first look: is the link good? (Or is this tab already in the meet?) */
  async check(): Promise<void> {
    if (this.state !== "checking") return;
    const kept = this.stored();
    if (kept) {
      this.callerName = kept.caller;
      this.state = "ready";
      this.changed();
      return;
    }
    try {
      const status = await new Api(this.base).linkStatus(this.meetId, this.token);
      this.callerName = status.caller_name;
      this.state = "ready";
      this.changed();
    } catch (e) {
      this.setProblem(e);
    }
  }

  async join(): Promise<void> {
    if (this.state !== "ready") return;
    this.state = "joining";
    this.micProblem = null;
    this.changed();
    let microphone: MediaStream;
    try {
      microphone = await openMicrophone(this.audioProcessing);
    } catch (e) {
      if (!(e instanceof MicrophoneError)) {
        this.setProblem(e);
        return;
      }
      this.state = "ready";
      this.micProblem = { problem: e.problem, retry: () => void this.join() };
      this.changed();
      return;
    }
    try {
      const kept = this.stored();
      let session: CustomerSession | null = null;
      if (kept) {
        try {
          session = await CustomerSession.restore(this.base, kept, { meetId: this.meetId });
        } catch (e) {
          if (!isApiError(e) || e.status !== 401) throw e;
        }
      }
      session ??= await CustomerSession.openMeetLink(this.link);
      this.session = session;
      try {
        this.storage?.setItem(this.key, JSON.stringify({ ...session.stored(), caller: this.callerName }));
      } catch {
        // no storage: a reload finds the link used
      }
      const call = new CallState(false);
      this.call = call;
      call.subscribe(() => {
        if (!call.live) {
          this.state = "ended";
          this.storage?.removeItem(this.key);
        }
        this.changed();
      });
      this.state = "in_meet";
      call.attach(await session.joinLinkedMeet({ microphone }));
    } catch (e) {
      for (const t of microphone.getTracks()) t.stop();
      this.setProblem(e);
    }
  }
}
