import { Socket } from 'node:net';

/** A RESP2 reply: simple and bulk strings, integers, nil, arrays; an error reply is an `Error`. */
export type Reply = string | number | null | Error | Reply[];

/** Parses one reply at `offset`; `undefined` while the buffer does not hold all of it yet. */
function parseReply(buffer: Buffer, offset: number): { value: Reply; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new Error(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buffer.length < after + length + 2) return undefined;
      return { value: buffer.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: Reply[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

function encodeCommand(args: ReadonlyArray<string | number>): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return out;
}

function connectSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/**
 * A minimal pipelined RESP2 connection to a `redis-server` the test owns: what the tests inspect and break
 * (SCAN, PTTL, DEL, INFO) goes through it, independent of the Redis client the library uses.
 */
export class RawRedis {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve(reply: Reply): void; reject(error: Error): void }> = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      let offset = 0;
      for (;;) {
        const parsed = parseReply(this.buffer, offset);
        if (parsed === undefined) break;
        offset = parsed.next;
        this.waiting.shift()?.resolve(parsed.value);
      }
      this.buffer = this.buffer.subarray(offset);
    });
    const fail = (error: Error) => {
      for (const pending of this.waiting.splice(0)) pending.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async connect(port: number): Promise<RawRedis> {
    return new RawRedis(await connectSocket(port));
  }

  /** `host:port` of this connection as MONITOR names its commands. */
  get address(): string {
    return `${this.socket.localAddress ?? '127.0.0.1'}:${this.socket.localPort ?? 0}`;
  }

  /** Sends one command; an error reply rejects. */
  command(...args: Array<string | number>): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.push({
        resolve: (reply) => (reply instanceof Error ? reject(reply) : resolve(reply)),
        reject,
      });
      this.socket.write(encodeCommand(args));
    });
  }

  /** Every key matching `pattern`, by SCAN (never KEYS). */
  async scan(pattern: string): Promise<string[]> {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const reply = (await this.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)) as [
        string,
        string[],
      ];
      cursor = reply[0];
      for (const key of reply[1]) keys.add(key);
    } while (cursor !== '0');
    return [...keys].sort();
  }

  /** PTTL of each key, sent together: -1 for no expiry, -2 for a key that is gone. */
  async pttls(keys: readonly string[]): Promise<Map<string, number>> {
    const replies = await Promise.all(keys.map((key) => this.command('PTTL', key)));
    return new Map(keys.map((key, i) => [key, Number(replies[i])]));
  }

  /** One field of `INFO section`, as a number. */
  async infoField(section: string, field: string): Promise<number> {
    const text = String(await this.command('INFO', section));
    const match = new RegExp(`^${field}:(\\S+)`, 'm').exec(text);
    if (match?.[1] === undefined) throw new Error(`INFO ${section} has no ${field}`);
    return Number(match[1]);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One command as MONITOR reported it. */
export interface MonitoredCommand {
  /** `lua` for a command run inside a script, else the client's `host:port`. */
  readonly source: string;
  /** The command name, upper case. */
  readonly name: string;
  readonly args: readonly string[];
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8 };

/**
 * The quoted arguments of a MONITOR line, unescaped and decoded as UTF-8. Redis (`sdscatrepr`) escapes the
 * quote, the backslash, newline, carriage return, tab, bell and backspace with a backslash, and writes every
 * other byte outside printable ASCII as a backslash, `x` and two hex digits.
 */
function parseQuoted(text: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    i++;
    const bytes: number[] = [];
    while (i < text.length && text[i] !== '"') {
      if (text[i] !== '\\') {
        bytes.push(text.charCodeAt(i));
        i++;
        continue;
      }
      const escaped = text[i + 1] ?? '';
      if (escaped === 'x') {
        bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
      } else {
        bytes.push(SIMPLE_ESCAPES[escaped] ?? escaped.charCodeAt(0));
        i += 2;
      }
    }
    args.push(Buffer.from(bytes).toString('utf8'));
    i++;
  }
  return args;
}

/** Parses one MONITOR line: `1712345678.123456 [0 127.0.0.1:50312] "MGET" "a" "b"` or `[0 lua]`. */
export function parseMonitorLine(line: string): MonitoredCommand | undefined {
  const match = /^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
  if (match === null) return undefined;
  const [name = '', ...args] = parseQuoted(match[2] ?? '');
  return { source: match[1] ?? '', name: name.toUpperCase(), args };
}

/**
 * Records what a `redis-server` executes, through MONITOR on a connection of its own. {@link around} brackets
 * an action between two markers (ECHO from a control connection, which MONITOR orders with every other
 * command), so exactly the commands executed in between are counted.
 */
export class CommandLog {
  private buffer = '';
  private readonly lines: MonitoredCommand[] = [];
  private markerCount = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly control: RawRedis,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\r\n')) !== -1) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        if (!line.startsWith('+')) continue;
        const parsed = parseMonitorLine(line.slice(1));
        if (parsed !== undefined) this.lines.push(parsed);
      }
    });
  }

  static async start(port: number): Promise<CommandLog> {
    const socket = await connectSocket(port);
    const control = await RawRedis.connect(port);
    const log = new CommandLog(socket, control);
    socket.write(encodeCommand(['MONITOR']));
    // The first marker proves MONITOR is on.
    await log.mark();
    return log;
  }

  /** Sends a marker and waits until MONITOR has reported it; returns its index in the log. */
  private async mark(): Promise<number> {
    const marker = `marker-${process.pid}-${++this.markerCount}`;
    await this.control.command('ECHO', marker);
    const deadline = Date.now() + 5000;
    for (;;) {
      const index = this.lines.findIndex((c) => c.name === 'ECHO' && c.args[0] === marker);
      if (index !== -1) return index;
      if (Date.now() > deadline) throw new Error('MONITOR did not report the marker');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Runs `action`, waits for what it set off in the background (a write sent after the response): until
   * `expect` holds for the commands so far (at most 5 s), then `settleMs` more for anything after it. Returns
   * the commands executed meanwhile, without the control connection's own.
   */
  async around(
    action: () => Promise<unknown>,
    options: { settleMs?: number; expect?: (commands: MonitoredCommand[]) => boolean } = {},
  ): Promise<MonitoredCommand[]> {
    const start = await this.mark();
    const since = () => this.lines.slice(start + 1).filter((c) => c.source !== this.control.address);
    await action();
    const deadline = Date.now() + 5000;
    while (options.expect !== undefined && !options.expect(since()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, options.settleMs ?? 150));
    const end = await this.mark();
    return this.lines.slice(start + 1, end).filter((c) => c.source !== this.control.address);
  }

  close(): void {
    this.socket.destroy();
    this.control.close();
  }
}
