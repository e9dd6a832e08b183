// The HTTP side of the meetdesk API, typed with the wire types generated from the Rust
// protocol crate (src/bindings). Every error answer is `{"error": {"code", "message"}}`;
// it surfaces here as an `ApiError` with that code.

import type {
  ChatView,
  CustomerSessionResponse,
  DemoDirectory,
  ErrorBody,
  MediaAnswer,
  MediaConfigView,
  MediaOfferRequest,
  MessageView,
  MeetView,
  OpenLinkRequest,
  PostMessageRequest,
  MeetLinkStatus,
  ResumeRequest,
  StartMeetRequest,
  VisitorRequest,
} from "./bindings";

/** A refused or failed request: `status` 0 and code `network` when the server was not reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Is `e` an `ApiError` with one of these codes? */
export function isApiError(e: unknown, ...codes: string[]): e is ApiError {
  return e instanceof ApiError && (codes.length === 0 || codes.includes(e.code));
}

function isErrorBody(v: unknown): v is ErrorBody {
  if (typeof v !== "object" || v === null || !("error" in v)) return false;
  const error = (v as { error: unknown }).error;
  return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

/** The API at `base` (the server's origin, e.g. `http://127.0.0.1:8780`), with or without a session. */
export class Api {
  readonly base: string;
  readonly token: string | null;

  constructor(base: string, token: string | null = null) {
    this.base = base.replace(/\/+$/, "");
    this.token = token;
  }

  withToken(token: string): Api {
    return new Api(this.base, token);
  }

  async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, "network", `Could not reach the server: ${String(e)}`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: reported below
    }
    if (!res.ok) {
      if (isErrorBody(json)) throw new ApiError(res.status, json.error.code, json.error.message);
      throw new ApiError(res.status, "http_error", `${method} ${path} answered ${res.status}`);
    }
    if (json === undefined) throw new ApiError(res.status, "bad_response", `${method} ${path}: no JSON body`);
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  // ---- customer sessions -------------------------------------------------------------------

  /** A new visitor of the channel whose widget key this is: a customer, a chat with the team, a session. */
  visitor(channelKey: string, name?: string): Promise<CustomerSessionResponse> {
    const req: VisitorRequest = { channel_key: channelKey, name: name ?? null };
    return this.post("/api/widget/visitors", req);
  }

  /** Resumes a customer's chats from the token of a signed resume link. */
  resume(token: string): Promise<CustomerSessionResponse> {
    const req: ResumeRequest = { token };
    return this.post("/api/widget/resume", req);
  }

  /** Opens the meet a signed follow-up link points at (joins it; the session reaches that meet only). */
  openLink(meetId: string, token: string): Promise<CustomerSessionResponse> {
    const req: OpenLinkRequest = { token };
    return this.post(`/api/meets/${encodeURIComponent(meetId)}/open-link`, req);
  }

  /** What a meet link would open, without using it (the meet page's first look). */
  linkStatus(meetId: string, token: string): Promise<MeetLinkStatus> {
    const req: OpenLinkRequest = { token };
    return this.post(`/api/meets/${encodeURIComponent(meetId)}/link-status`, req);
  }

  /** `--demo` servers only. */
  demoDirectory(): Promise<DemoDirectory> {
    return this.get("/api/demo");
  }

  // ---- chats -------------------------------------------------------------------------------

  chat(id: string): Promise<ChatView> {
    return this.get(`/api/chats/${encodeURIComponent(id)}`);
  }

  /** The chats this session sees (a customer: their own). */
  chats(): Promise<ChatView[]> {
    return this.get("/api/chats");
  }

  messages(chatId: string): Promise<MessageView[]> {
    return this.get(`/api/chats/${encodeURIComponent(chatId)}/messages`);
  }

  postMessage(chatId: string, body: string): Promise<MessageView> {
    const req: PostMessageRequest = { body };
    return this.post(`/api/chats/${encodeURIComponent(chatId)}/messages`, req);
  }

  // ---- meets -------------------------------------------------------------------------------

  startMeet(req: StartMeetRequest): Promise<MeetView> {
    return this.post("/api/meets", req);
  }

  meet(id: string): Promise<MeetView> {
    return this.get(`/api/meets/${encodeURIComponent(id)}`);
  }

  private act(id: string, action: "accept" | "decline" | "hangup" | "media-failed"): Promise<MeetView> {
    return this.post(`/api/meets/${encodeURIComponent(id)}/${action}`);
  }

  accept(id: string): Promise<MeetView> {
    return this.act(id, "accept");
  }

  decline(id: string): Promise<MeetView> {
    return this.act(id, "decline");
  }

  hangup(id: string): Promise<MeetView> {
    return this.act(id, "hangup");
  }

  mediaFailed(id: string): Promise<MeetView> {
    return this.act(id, "media-failed");
  }

  // ---- media -------------------------------------------------------------------------------

  mediaConfig(): Promise<MediaConfigView> {
    return this.get("/api/media/config");
  }

  /** Sends this device's offer (non-trickle: the SDP carries its candidates); the answer carries the server's. */
  offerMedia(meetId: string, req: MediaOfferRequest): Promise<MediaAnswer> {
    return this.post(`/api/meets/${encodeURIComponent(meetId)}/media`, req);
  }

  // ---- events ------------------------------------------------------------------------------

  /** The event WebSocket's URL (the token goes in the query: browsers cannot set headers on a WebSocket). */
  eventsUrl(after: number | null): string {
    const url = new URL(this.base + "/api/events");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (this.token) url.searchParams.set("token", this.token);
    if (after !== null && after > 0) url.searchParams.set("after", String(after));
    return url.toString();
  }
}
