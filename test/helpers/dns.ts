// DNS test helpers: real `dig` (bind9-dnsutils) against a server on 127.0.0.1, with its output parsed.
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

/** Runs `dig @127.0.0.1 -p <port> <args…> +time=2 +tries=1` and parses what it prints. */
export function dig(port: number, args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 15_000 }, (err, stdout) => {
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
