// The backups list (GET /api/backups): when each was made, its size, and its last verification.
// Servers without backups answer 404: that is an empty state, not an error.
import { api, ApiError, type BackupEntry } from './api.ts';
import { h, one } from './dom.ts';
import { formatAgo, formatBytes, formatCount } from './format.ts';
import { icon } from './icons.ts';
import { emptyState } from './admin-ui.ts';

/** Tolerates a wrapped list and counts given as arrays, so a small change of the endpoint does not blank the view. */
export function normalizeBackups(body: unknown): BackupEntry[] {
  const list = Array.isArray(body) ? body : typeof body === 'object' && body !== null ? ((body as Record<string, unknown>).snapshots ?? (body as Record<string, unknown>).items ?? (body as Record<string, unknown>).backups) : undefined;
  if (!Array.isArray(list)) return [];
  const count = (v: unknown): number => (typeof v === 'number' ? v : Array.isArray(v) ? v.length : typeof v === 'object' && v !== null ? Object.values(v).reduce<number>((a, x) => a + (typeof x === 'number' ? x : 0), 0) : 0);
  return list
    .filter((b): b is Record<string, unknown> => typeof b === 'object' && b !== null && typeof (b as { id?: unknown }).id === 'string')
    .map((b) => {
      const lv = b.lastVerified as { at?: unknown; ok?: unknown; message?: unknown } | null | undefined;
      return {
        id: b.id as string,
        createdAt: typeof b.createdAt === 'string' ? b.createdAt : '',
        sizeBytes: typeof b.sizeBytes === 'number' ? b.sizeBytes : NaN,
        files: count(b.files),
        rows: count(b.rows),
        lastVerified: lv && typeof lv.at === 'string' ? { at: lv.at, ok: lv.ok === true, message: typeof lv.message === 'string' ? lv.message : undefined } : null,
      };
    })
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}

function verification(b: BackupEntry, now: number): HTMLElement {
  const v = b.lastVerified;
  if (v === null) return h('span', { class: 'badge badge-none' }, 'Not verified');
  if (v.ok) return h('span', { class: 'status status-ok' }, icon('check', 16), `Verified ${formatAgo(v.at, now)}`);
  // A failure says why, on the page (not only in a tooltip): the first problem `verify` recorded.
  return h('div', { class: 'verify-failed' },
    h('span', { class: 'status status-bad' }, icon('alert', 16), `Failed ${formatAgo(v.at, now)}`),
    h('span', { class: 'verify-reason' }, v.message ?? 'No reason was recorded; run mediacdn backup verify for details.'));
}

export function createBackupsView(): { refresh(): void } {
  const body = one('.backups-body');
  async function load(): Promise<void> {
    let list: BackupEntry[];
    try {
      list = normalizeBackups(await api<unknown>('GET', '/api/backups'));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 501)) {
        body.replaceChildren(emptyState('archive', 'Backups are not available here', h('span', {}, 'This server does not list backups. Make one with ', h('code', {}, 'mediacdn backup create'), '.')));
      } else if (!(err instanceof ApiError && err.status === 401)) {
        body.replaceChildren(h('p', { class: 'banner banner-error', role: 'alert' }, `Backups could not be loaded: ${(err as Error).message}`));
      }
      return;
    }
    if (list.length === 0) {
      body.replaceChildren(emptyState('archive', 'No backups yet', h('span', {}, 'Make the first with ', h('code', {}, 'mediacdn backup create'), ' and check it with ', h('code', {}, 'mediacdn backup verify'), '.')));
      return;
    }
    const now = Date.now();
    const latest = list[0];
    body.replaceChildren(
      h('p', { class: 'muted' }, `${list.length} snapshot${list.length === 1 ? '' : 's'}, latest ${latest.createdAt ? formatAgo(latest.createdAt, now) : latest.id}.`),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'backups-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Snapshot'), h('th', { scope: 'col' }, 'Made'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col', class: 'num' }, 'Files'), h('th', { scope: 'col', class: 'num' }, 'Rows'), h('th', { scope: 'col' }, 'Last verification'))),
          h('tbody', {}, ...list.map((b) => h('tr', { 'data-id': b.id },
            h('td', { class: 'mono' }, b.id),
            h('td', { 'data-label': 'Made' }, b.createdAt ? h('time', { datetime: b.createdAt, title: new Date(b.createdAt).toLocaleString() }, formatAgo(b.createdAt, now)) : '–'),
            h('td', { class: 'num', 'data-label': 'Size' }, formatBytes(b.sizeBytes)),
            h('td', { class: 'num', 'data-label': 'Files' }, formatCount(b.files)),
            h('td', { class: 'num', 'data-label': 'Rows' }, formatCount(b.rows)),
            h('td', { 'data-label': 'Verified' }, verification(b, now)))))),
      ),
    );
  }
  return { refresh: () => void load() };
}
