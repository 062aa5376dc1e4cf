// The library's integrity on the dashboard (GET /api/library-check, from `mediacdn check`): a line that
// says all files are present, or the records whose file is missing or damaged, flagged in the table
// too; "Verify contents" hashes every file (GET /api/library-verify). Servers without the endpoint
// simply show nothing.
import { api, ApiError } from './api.ts';
import { h, one } from './dom.ts';
import { formatAgo, formatBytes, formatCount } from './format.ts';
import { icon } from './icons.ts';
import { toast } from './admin-ui.ts';

/** The wire shape of src/web/library-health.ts. */
export type HealthProblem = {
  kind: 'missing-file' | 'size-mismatch' | 'hash-mismatch' | 'orphan-file' | 'stale-temp';
  id?: number;
  fileName: string;
  /** size-mismatch: bytes recorded / found; orphan and temp files: their size. */
  expected?: number | string;
  actual?: number | string;
  size?: number;
  /** `mediacdn check`'s line for it. */
  message: string;
  title: string | null;
};

/** The problem in the dashboard's words (the check's own line is the row flag's tooltip). */
export function describeForDashboard(p: HealthProblem): string {
  switch (p.kind) {
    case 'missing-file':
      return `the file ${p.fileName} is missing`;
    case 'size-mismatch':
      return `${p.fileName} is ${p.actual} bytes, ${p.expected} were stored`;
    case 'hash-mismatch':
      return `${p.fileName} no longer has the content that was stored (SHA-256 differs)`;
    case 'orphan-file':
      return `${p.fileName} is in the media folder without a record (${formatBytes(p.size ?? NaN)})`;
    case 'stale-temp':
      return `${p.fileName} was left by an interrupted upload (${formatBytes(p.size ?? NaN)})`;
  }
}
export type LibraryHealth = { version: 1; checkedAt: string; records: number; files: number; contents: { checkedAt: string; records: number; problems: number } | null; problems: HealthProblem[] };

/** What a flagged row says about its file. */
export const FLAG_LABEL: Record<'missing-file' | 'size-mismatch' | 'hash-mismatch', string> = {
  'missing-file': 'File missing',
  'size-mismatch': 'Damaged: wrong size',
  'hash-mismatch': 'Damaged: content changed',
};

export type HealthView = {
  refresh(): void;
  /** The problem with a record's file, if any. */
  flagFor(id: number): HealthProblem | undefined;
};

export function createHealthView(opts: { onChange: () => void }): HealthView {
  const box = one('.lib-health');
  let health: LibraryHealth | undefined;
  let verifying = false;
  let inflight = 0;

  function verifyButton(): HTMLButtonElement {
    const b = h('button', { class: 'btn btn-ghost btn-small verify-contents', type: 'button', disabled: verifying }, verifying ? 'Verifying…' : 'Verify contents');
    b.addEventListener('click', () => void verify());
    return b;
  }

  function contentsNote(h0: LibraryHealth): string {
    const c = h0.contents;
    return c === null ? 'Contents not verified yet.' : `Contents verified ${formatAgo(c.checkedAt, Date.now())}.`;
  }

  function render(): void {
    if (health === undefined) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const ps = health.problems;
    if (ps.length === 0) {
      box.className = 'lib-health health-ok';
      box.removeAttribute('role');
      box.replaceChildren(
        h('span', { class: 'status status-ok' }, icon('check', 16), `All ${formatCount(health.records)} file${health.records === 1 ? '' : 's'} present with their recorded size.`),
        h('span', { class: 'muted small' }, contentsNote(health)),
        verifyButton(),
      );
      return;
    }
    const records = ps.filter((p) => p.id !== undefined).length;
    const others = ps.length - records;
    const headline = [records > 0 ? `${records} file${records === 1 ? '' : 's'} missing or damaged` : '', others > 0 ? `${others} stray file${others === 1 ? '' : 's'}` : ''].filter((s) => s).join(', ');
    box.className = 'lib-health health-bad';
    box.setAttribute('role', 'alert');
    box.replaceChildren(
      h('div', { class: 'health-head' },
        h('span', { class: 'status status-bad' }, icon('alert', 16), headline),
        h('span', { class: 'muted small' }, contentsNote(health)),
        verifyButton()),
      h('ul', { class: 'health-list' }, ...ps.slice(0, 20).map((p) => h('li', { 'data-file': p.fileName, title: p.message },
        p.title !== null ? h('strong', {}, p.title) : null,
        p.title !== null ? ' — ' : '',
        describeForDashboard(p)))),
      ...(ps.length > 20 ? [h('p', { class: 'muted small' }, `…and ${ps.length - 20} more.`)] : []),
      h('p', { class: 'muted small' }, 'Restore the files from a backup, or delete the records; ', h('code', {}, 'mediacdn check'), ' on the server lists the same, and ', h('code', {}, 'mediacdn check --fix'), ' removes stray files.'),
    );
  }

  async function load(path: string): Promise<void> {
    const mine = ++inflight;
    try {
      const body = await api<LibraryHealth>('GET', path);
      if (mine !== inflight && path === '/api/library-check') return;
      health = body;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 501)) health = undefined;
      else if (!(err instanceof ApiError && err.status === 401)) toast(`The library check failed: ${(err as Error).message}`, 'error');
    }
    render();
    opts.onChange();
  }

  async function verify(): Promise<void> {
    if (verifying) return;
    verifying = true;
    render();
    try {
      await load('/api/library-verify');
    } finally {
      verifying = false;
      render();
    }
  }

  return {
    refresh: () => void load('/api/library-check'),
    flagFor(id) {
      return health?.problems.find((p) => p.id === id && p.kind in FLAG_LABEL);
    },
  };
}
