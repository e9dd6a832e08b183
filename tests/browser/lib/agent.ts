// A small typed HTTP client for what agents (and, for set-up, customers) do through the API,
// with the wire types generated from crates/protocol (widget/src/bindings). Tests use it to
// change a chat under the widget's feet and to check what the server holds.
import type {
  AgentView,
  AssignRequest,
  ChannelSettings,
  ChatView,
  CustomerSessionResponse,
  CustomerView,
  DemoCustomer,
  DemoDirectory,
  ErrorBody,
  MeetView,
  MessageView,
  PostMessageRequest,
  ResumeRequest,
  SessionResponse,
  SignInRequest,
  UpdateChatRequest,
} from "../../../widget/src/bindings";

/** A refused request: the server's error code and message, or `http_<status>` without a JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

async function request<T>(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = text.slice(0, 200);
    try {
      const err = JSON.parse(text) as ErrorBody;
      code = err.error.code;
      message = err.error.message;
    } catch {
      // not our error shape
    }
    throw new HttpError(res.status, code, `${method} ${path}: ${message}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/** `GET /api/demo` (demo mode only). */
export async function demoDirectory(base: string): Promise<DemoDirectory> {
  return request<DemoDirectory>(base, "GET", "/api/demo", null);
}

export function demoCustomer(dir: DemoDirectory, name: string): DemoCustomer {
  const c = dir.customers.find((c) => c.name === name);
  if (!c) throw new Error(`the demo has no customer "${name}" (has: ${dir.customers.map((c) => c.name).join(", ")})`);
  return c;
}

/** An agent signed in over HTTP (a device without an event socket: it is never rung). */
export class AgentClient {
  private constructor(
    readonly base: string,
    readonly session: SessionResponse,
  ) {}

  static async signIn(base: string, email: string, password = "demo"): Promise<AgentClient> {
    const req: SignInRequest = { email, password, device_name: "browser test" };
    return new AgentClient(base, await request<SessionResponse>(base, "POST", "/api/auth/sign-in", null, req));
  }

  get agent(): AgentView {
    return this.session.agent;
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return request<T>(this.base, method, path, this.session.token, body);
  }

  agents(): Promise<AgentView[]> {
    return this.call("GET", "/api/agents");
  }

  async agentByEmail(email: string): Promise<AgentView> {
    const a = (await this.agents()).find((a) => a.email === email);
    if (!a) throw new Error(`no agent ${email}`);
    return a;
  }

  chat(id: string): Promise<ChatView> {
    return this.call("GET", `/api/chats/${encodeURIComponent(id)}`);
  }

  updateChat(id: string, change: Partial<UpdateChatRequest>): Promise<ChatView> {
    const req: UpdateChatRequest = { state: null, input_open: null, ...change };
    return this.call("PATCH", `/api/chats/${encodeURIComponent(id)}`, req);
  }

  /** Assigns the chat to this agent id, or unassigns it with `null`. */
  assign(id: string, agentId: string | null): Promise<ChatView> {
    const req: AssignRequest = { agent_id: agentId };
    return this.call("POST", `/api/chats/${encodeURIComponent(id)}/assign`, req);
  }

  messages(chatId: string): Promise<MessageView[]> {
    return this.call("GET", `/api/chats/${encodeURIComponent(chatId)}/messages`);
  }

  postMessage(chatId: string, body: string): Promise<MessageView> {
    const req: PostMessageRequest = { body };
    return this.call("POST", `/api/chats/${encodeURIComponent(chatId)}/messages`, req);
  }

  postInternal(chatId: string, body: string): Promise<MessageView> {
    const req: PostMessageRequest = { body };
    return this.call("POST", `/api/chats/${encodeURIComponent(chatId)}/internal-messages`, req);
  }

  settings(): Promise<ChannelSettings> {
    return this.call("GET", "/api/channel/settings");
  }

  /** P1 (admins only). */
  setSettings(settings: ChannelSettings): Promise<ChannelSettings> {
    return this.call("PUT", "/api/channel/settings", settings);
  }

  customer(id: string): Promise<CustomerView> {
    return this.call("GET", `/api/customers/${encodeURIComponent(id)}`);
  }

  meet(id: string): Promise<MeetView> {
    return this.call("GET", `/api/meets/${encodeURIComponent(id)}`);
  }
}

/**
 * A customer session from a resume link, over HTTP only (no event socket, so the customer
 * stays offline): reads what the customer's chat shows, e.g. a follow-up meet link, which
 * agents never see.
 */
export class CustomerClient {
  private constructor(
    readonly base: string,
    readonly session: CustomerSessionResponse,
  ) {}

  static async resume(base: string, resumeLink: string): Promise<CustomerClient> {
    const token = new URL(resumeLink).searchParams.get("resume");
    if (!token) throw new Error(`not a resume link: ${resumeLink}`);
    const req: ResumeRequest = { token };
    return new CustomerClient(base, await request(base, "POST", "/api/widget/resume", null, req));
  }

  messages(chatId: string): Promise<MessageView[]> {
    return request(this.base, "GET", `/api/chats/${encodeURIComponent(chatId)}/messages`, this.session.token);
  }
}
