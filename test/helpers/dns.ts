// DNS test helpers: real `dig` (bind9-dnsutils) against a server (127.0.0.1, or another address from inside
// a network namespace), with its output parsed.
import { execFile } from 'node:child_process';

export type DigResult = {
  status: string;
  flags: string[];
  answers: string[];
  authority: string[];
  additional: string[];
  /** The CLIENT-SUBNET line of the response's OPT record, e.g. "81.169.145.0/24/24". */
  clientSubnet: string | undefined;
  /** dig said it retried over TCP after a truncated UDP answer. */
  retriedTcp: boolean;
  text: string;
};

function section(text: string, name: string): string[] {
  const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(text);
  return m ? m[1].split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).map((l) => l.replace(/\s+/g, ' ').trim()) : [];
}

export type DigOptions = {
  /** The server's address; default 127.0.0.1. */
  server?: string;
  /** Run dig inside this network namespace (`ip netns exec`), as a client on that host. */
  netns?: string;
};

/** Runs `dig @<server> -p <port> <args…> +time=2 +tries=1` and parses what it prints. */
export function dig(port: number, args: string[], opts: DigOptions = {}): Promise<DigResult> {
  const digArgs = [`@${opts.server ?? '127.0.0.1'}`, '-p', String(port), '+time=2', '+tries=1', ...args];
  const [command, argv] = opts.netns !== undefined ? ['ip', ['netns', 'exec', opts.netns, 'dig', ...digArgs]] : ['dig', digArgs];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { timeout: 15_000 }, (err, stdout) => {
      if (err && !stdout) return reject(err);
      const text = String(stdout);
      resolve({
        status: /status: (\w+)/.exec(text)?.[1] ?? 'none',
        flags: (/;; flags: ([^;]*);/.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
        answers: section(text, 'ANSWER'),
        authority: section(text, 'AUTHORITY'),
        additional: section(text, 'ADDITIONAL'),
        clientSubnet: /CLIENT-SUBNET: (\S+)/.exec(text)?.[1],
        retriedTcp: /Truncated, retrying in TCP mode/.test(text),
        text,
      });
    });
  });
}

/** The record data of answer lines ("name ttl IN A 192.0.2.10" → "192.0.2.10"), sorted. */
export const rdata = (lines: readonly string[]) => lines.map((l) => l.split(' ').slice(4).join(' ')).sort();
