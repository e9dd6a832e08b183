// The real binaries as child processes: meetdesk-server (demo data, temp SQLite, a free port
// chosen by the OS) and meetdesk-cli (JSON lines on stdout). Waiting is on what they print,
// never on time.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const OUT = join(ROOT, "test-output/browser");

/** The debug binaries built by `cargo build` (scripts/test.sh builds them before this stage). */
export function binary(name: "meetdesk-server" | "meetdesk-cli"): string {
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache/meetdesk/target");
  const path = join(target, "debug", name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: build it first (cargo build -p ${name} --bins, or ./scripts/test.sh browser)`);
  }
  return path;
}

type Waiter = { test: (line: string) => boolean; resolve: (line: string) => void };

/** A child process whose stdout lines are kept (and logged to a file) and can be waited for. */
export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly log: WriteStream;
  readonly exited: Promise<number | null>;

  constructor(name: string, cmd: string, args: string[], env: Record<string, string> = {}) {
    this.name = name;
    this.log = createWriteStream(join(OUT, `${name}.log`));
    this.log.write(`$ ${cmd} ${args.join(" ")}\n`);
    this.child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let partial = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        this.onLine(line);
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => this.log.write(chunk));
    this.exited = new Promise((res) => this.child.on("exit", (code) => res(code)));
  }

  private onLine(line: string): void {
    this.lines.push(line);
    this.log.write(line + "\n");
    for (const w of [...this.waiters]) {
      if (w.test(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** The first line (printed already or to come) that passes `test`. */
  waitForLine(what: string, test: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join("\n")}`));
      }, timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer);
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`${this.name} exited (${code}) before ${what}; last lines:\n${this.lines.slice(-15).join("\n")}`));
        }
      });
    });
  }

  async waitForExit(timeoutMs = 30_000): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL if it does not go within 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      try {
        await this.waitForExit(10_000);
      } catch {
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    await new Promise<void>((res) => this.log.end(res));
  }
}

/** A JSON-lines client (meetdesk-cli): its events, parsed. */
export type CliEvent = { event: string; at_ms: number; meet_id?: string; [k: string]: unknown };

export class Cli extends Proc {
  events(): CliEvent[] {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as CliEvent];
      } catch {
        return [];
      }
    });
  }

  async waitForEvent(event: string, test: (e: CliEvent) => boolean = () => true, timeoutMs = 30_000): Promise<CliEvent> {
    const line = await this.waitForLine(
      `"${event}" event`,
      (l) => {
        try {
          const e = JSON.parse(l) as CliEvent;
          return e.event === event && test(e);
        } catch {
          return false;
        }
      },
      timeoutMs,
    );
    return JSON.parse(line) as CliEvent;
  }
}

export type ServerOptions = {
  /** Extra environment, e.g. `MEETDESK_TEST_TIME_OFFSET_MS` to start a node "later". */
  env?: Record<string, string>;
};

/**
 * meetdesk-server --demo on 127.0.0.1 (port chosen by the OS), the SQLite file `dir`/meetdesk.db
 * (created on first start; starting again with the same `dir` reuses it, as a restart would),
 * the built widget.
 */
export async function startServer(
  dir: string,
  name = "server",
  options: ServerOptions = {},
): Promise<{ proc: Proc; url: string }> {
  const proc = new Proc(
    name,
    binary("meetdesk-server"),
    [
      "--listen",
      "127.0.0.1:0",
      "--database",
      `sqlite://${join(dir, "meetdesk.db")}?mode=rwc`,
      "--demo",
      "--widget-dir",
      join(ROOT, "widget/dist"),
    ],
    options.env ?? {},
  );
  const line = await proc.waitForLine("\"listening on\" line", (l) => l.includes("listening on http://"), 60_000);
  const url = /listening on (http:\/\/\S+)/.exec(line)![1]!;
  return { proc, url };
}

/** `meetdesk-cli tone FILE --hz …`: the JSON it prints. */
export type ToneReport = {
  seconds: number;
  rms_dbfs: number;
  longest_gap_ms: number | null;
  longest_gap_at_ms: number | null;
  /** 100 ms windows above -60 dBFS. */
  sounding_windows: number;
  /** `detected`: over the whole file; `window_share`: the share of sounding windows holding the tone. */
  tones: { hz: number; power_db: number; detected: boolean; window_share: number }[];
};

export function measureWav(file: string, hz: number[]): ToneReport {
  const args = ["tone", file, ...hz.flatMap((h) => ["--hz", String(h)])];
  const r = spawnSync(binary("meetdesk-cli"), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`meetdesk-cli tone failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ToneReport;
}
