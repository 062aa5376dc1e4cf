// Shared dashboard bits: the toast, dialog helpers, kind labels, empty states.
import { h, one } from './dom.ts';
import { icon, type IconName } from './icons.ts';
import type { MediaKind } from './api.ts';

export const KIND_LABEL: Record<MediaKind, string> = { song: 'Song', announcement: 'Announcement', background: 'Background' };
export const KIND_ICON: Record<MediaKind, IconName> = { song: 'music', announcement: 'mic', background: 'image' };

let toastTimer: ReturnType<typeof setTimeout> | undefined;

/** A short message at the bottom of the screen (also read out by screen readers). */
export function toast(message: string, tone: 'ok' | 'error' = 'ok'): void {
  const el = one('.toast');
  el.textContent = message;
  el.dataset.tone = tone;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 4000);
}

/** Buttons marked data-close close their dialog without submitting it. */
export function closeOnCancelButtons(): void {
  document.addEventListener('click', (ev) => {
    const btn = (ev.target as Element | null)?.closest('[data-close]');
    btn?.closest('dialog')?.close('cancel');
  });
}

export function emptyState(iconName: IconName, title: string, text: string | Node): HTMLElement {
  return h('div', { class: 'empty-state' }, h('span', { class: 'empty-icon' }, icon(iconName, 28)), h('p', { class: 'empty-title' }, title), h('p', { class: 'muted' }, text));
}

export function kindBadge(kind: MediaKind | null): HTMLElement {
  return kind === null ? h('span', { class: 'badge badge-none' }, 'Unassigned') : h('span', { class: `badge badge-${kind}` }, KIND_LABEL[kind]);
}

export function showFormError(form: Element, message: string | undefined): void {
  const el = one('.form-error', form);
  el.hidden = message === undefined;
  el.textContent = message ?? '';
}
