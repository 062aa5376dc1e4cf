// The library table: search, kind filter, paging, preview (audio plays in a bar, images open large),
// edit in a dialog, delete with confirmation.
import { ApiError, deleteMedia, listMedia, updateMedia, type MediaItem, type MediaKind } from './api.ts';
import { h, one } from './dom.ts';
import { formatAgo, formatBytes, formatDurationMs } from './format.ts';
import { icon, setIcon } from './icons.ts';
import { emptyState, KIND_LABEL, kindBadge, showFormError, toast } from './admin-ui.ts';
import { FLAG_LABEL } from './admin-health.ts';

const PAGE_SIZE = 25;

export type LibraryView = { refresh(): void; redraw(): void };

/** `flagFor` tells which records' files are missing or damaged (from the library check). */
export function createLibraryView(opts: { flagFor?: (id: number) => { kind: string; message: string } | undefined; onChanged?: () => void } = {}): LibraryView {
  const section = one('#library');
  const rows = one('.lib-rows', section);
  const table = one('.table-wrap', section);
  const empty = one('.lib-empty', section);
  const count = one('.count', section);
  const errorBanner = one('.lib-error', section);
  const q = one<HTMLInputElement>('.lib-q', section);
  const kind = one<HTMLSelectElement>('.lib-kind', section);
  const pager = one('.pager', section);
  const prev = one<HTMLButtonElement>('.pager-prev', section);
  const next = one<HTMLButtonElement>('.pager-next', section);
  const pagerInfo = one('.pager-info', section);
  const bar = one('.preview-bar');
  const barLabel = one('.preview-label', bar);
  const barAudio = one<HTMLAudioElement>('.preview-audio', bar);
  const barClose = one<HTMLButtonElement>('.preview-close', bar);
  const editDialog = one<HTMLDialogElement>('.edit-dialog');
  const editForm = one<HTMLFormElement>('.edit-form', editDialog);
  const deleteDialog = one<HTMLDialogElement>('.delete-dialog');
  const imageDialog = one<HTMLDialogElement>('.image-dialog');

  setIcon(barClose, 'close', 18);
  let offset = 0;
  let total = 0;
  let inflight: AbortController | undefined;
  let previewing: number | undefined;
  let shownItems: MediaItem[] = [];

  async function load(): Promise<void> {
    inflight?.abort();
    const ctl = new AbortController();
    inflight = ctl;
    section.setAttribute('aria-busy', 'true');
    try {
      const res = await listMedia({ kind: kind.value, q: q.value.trim(), limit: PAGE_SIZE, offset }, ctl.signal);
      if (ctl.signal.aborted) return;
      if (res.items.length === 0 && offset > 0 && res.total > 0) {
        offset = Math.max(0, Math.floor((res.total - 1) / PAGE_SIZE) * PAGE_SIZE);
        return load();
      }
      total = res.total;
      errorBanner.hidden = true;
      render(res.items);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      errorBanner.hidden = false;
      errorBanner.textContent = `The library could not be loaded: ${(err as Error).message}`;
    } finally {
      if (inflight === ctl) section.removeAttribute('aria-busy');
    }
  }

  function render(items: MediaItem[]): void {
    shownItems = items;
    const filtered = q.value.trim() !== '' || kind.value !== '';
    count.textContent = String(total);
    count.hidden = total === 0 && !filtered;
    rows.replaceChildren(...items.map(row));
    table.hidden = items.length === 0;
    empty.hidden = items.length > 0;
    if (items.length === 0) {
      empty.replaceChildren(
        filtered
          ? emptyState('file', 'Nothing matches', 'Try another search, or show all kinds.')
          : emptyState('upload', 'The library is empty', h('span', {}, 'Drop songs, announcements and backgrounds into ', h('a', { href: '#upload' }, 'Upload'), ' to get the radio going.')),
      );
    }
    pager.hidden = total <= PAGE_SIZE;
    prev.disabled = offset === 0;
    next.disabled = offset + PAGE_SIZE >= total;
    pagerInfo.textContent = `${offset + 1}–${Math.min(offset + PAGE_SIZE, total)} of ${total}`;
  }

  function previewCell(item: MediaItem): HTMLElement {
    const label = item.title ?? item.fileName;
    if (item.contentType.startsWith('image/')) {
      return h('button', { class: 'thumb', type: 'button', 'aria-label': `View ${label}`, onclick: () => openImage(item) },
        h('img', { src: item.url, alt: '', loading: 'lazy', width: 40, height: 40 }));
    }
    const playing = previewing === item.id && !barAudio.paused;
    const btn = h('button', { class: 'btn-icon btn-play', type: 'button', 'aria-label': `${playing ? 'Pause' : 'Play'} ${label}`, 'data-action': 'preview', onclick: () => preview(item) });
    btn.append(icon(playing ? 'pause' : 'play', 18));
    return btn;
  }

  function row(item: MediaItem): HTMLTableRowElement {
    const title = item.title ?? item.fileName;
    const sub = item.kind === 'song' ? [item.artist, item.album].filter((s) => s).join(' · ') : '';
    const created = new Date(item.createdAt);
    const flag = opts.flagFor?.(item.id);
    const classes = [previewing === item.id ? 'is-previewing' : '', flag ? 'is-broken' : ''].filter((c) => c).join(' ');
    return h('tr', { 'data-id': item.id, class: classes || false },
      h('td', { class: 'col-preview' }, previewCell(item)),
      h('td', { class: 'col-title' },
        h('span', { class: 'title' }, title),
        sub ? h('span', { class: 'sub' }, sub) : null,
        h('span', { class: 'file mono' }, item.fileName),
        flag ? h('span', { class: 'flag', title: flag.message }, icon('alert', 14), FLAG_LABEL[flag.kind as keyof typeof FLAG_LABEL] ?? flag.kind) : null),
      h('td', { class: 'col-kind', 'data-label': 'Kind' }, kindBadge(item.kind)),
      h('td', { class: 'num', 'data-label': 'Length' }, item.durationMs !== null ? formatDurationMs(item.durationMs) : item.width !== null ? `${item.width}×${item.height}` : '–'),
      h('td', { class: 'num', 'data-label': 'Size' }, formatBytes(item.byteSize)),
      h('td', { class: 'col-added', 'data-label': 'Added' }, h('time', { datetime: item.createdAt, title: created.toLocaleString() }, formatAgo(item.createdAt, Date.now()))),
      h('td', { class: 'col-actions' },
        iconButton('edit', `Edit ${title}`, 'edit', () => openEdit(item)),
        iconButton('trash', `Delete ${title}`, 'delete', () => openDelete(item), 'btn-icon-danger')),
    );
  }

  function iconButton(name: 'edit' | 'trash', label: string, action: string, onclick: () => void, extra = ''): HTMLButtonElement {
    const b = h('button', { class: `btn-icon ${extra}`.trim(), type: 'button', 'aria-label': label, title: label, 'data-action': action, onclick });
    b.append(icon(name, 18));
    return b;
  }

  function preview(item: MediaItem): void {
    if (previewing === item.id) {
      if (barAudio.paused) void barAudio.play();
      else barAudio.pause();
      return;
    }
    previewing = item.id;
    barLabel.replaceChildren(h('span', { class: 'muted small' }, 'Preview'), h('strong', {}, item.title ?? item.fileName));
    bar.hidden = false;
    barAudio.src = item.url;
    void barAudio.play().catch((err: Error) => {
      if (err.name !== 'AbortError') toast(`Could not play ${item.title ?? item.fileName}: ${err.message}`, 'error');
    });
    refreshPreviewButtons();
  }

  function refreshPreviewButtons(): void {
    for (const tr of rows.querySelectorAll<HTMLTableRowElement>('tr')) {
      const on = Number(tr.dataset.id) === previewing;
      tr.classList.toggle('is-previewing', on);
      const btn = tr.querySelector('[data-action=preview]');
      if (btn !== null) {
        const playing = on && !barAudio.paused;
        setIcon(btn, playing ? 'pause' : 'play', 18);
        btn.setAttribute('aria-label', (btn.getAttribute('aria-label') ?? '').replace(/^(Play|Pause)/, playing ? 'Pause' : 'Play'));
      }
    }
  }

  function stopPreview(): void {
    barAudio.pause();
    barAudio.removeAttribute('src');
    barAudio.load();
    previewing = undefined;
    bar.hidden = true;
    refreshPreviewButtons();
  }

  function openImage(item: MediaItem): void {
    const img = one<HTMLImageElement>('.image-full', imageDialog);
    img.src = item.url;
    img.alt = item.title ?? item.fileName;
    imageDialog.showModal();
  }

  let editing: MediaItem | undefined;
  function syncSongFields(): void {
    const isSong = (editForm.elements.namedItem('kind') as HTMLSelectElement).value === 'song';
    for (const el of editForm.querySelectorAll<HTMLElement>('.song-only')) el.hidden = !isSong;
  }
  function openEdit(item: MediaItem): void {
    editing = item;
    const f = editForm.elements;
    (f.namedItem('kind') as HTMLSelectElement).value = item.kind ?? (item.contentType.startsWith('image/') ? 'background' : 'song');
    (f.namedItem('title') as HTMLInputElement).value = item.title ?? '';
    (f.namedItem('artist') as HTMLInputElement).value = item.artist ?? '';
    (f.namedItem('album') as HTMLInputElement).value = item.album ?? '';
    one('.edit-file', editForm).textContent = `${item.fileName} · ${item.contentType} · ${formatBytes(item.byteSize)}`;
    syncSongFields();
    showFormError(editForm, undefined);
    editDialog.showModal();
  }
  (editForm.elements.namedItem('kind') as HTMLSelectElement).addEventListener('change', syncSongFields);
  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (editing === undefined) return;
    const data = new FormData(editForm);
    const k = String(data.get('kind')) as MediaKind;
    const text = (name: string) => String(data.get(name) ?? '').trim();
    const patch = k === 'song'
      ? { kind: k, title: text('title'), artist: text('artist') || null, album: text('album') || null }
      : { kind: k, title: text('title') };
    const submit = one<HTMLButtonElement>('button[type=submit]', editForm);
    submit.disabled = true;
    try {
      const updated = await updateMedia(editing.id, patch);
      editDialog.close('saved');
      toast(`Saved “${updated.title}”.`);
      void load();
      opts.onChanged?.();
    } catch (err) {
      showFormError(editForm, err instanceof ApiError ? err.message : String(err));
    } finally {
      submit.disabled = false;
    }
  });

  let deleting: MediaItem | undefined;
  function openDelete(item: MediaItem): void {
    deleting = item;
    const name = item.title ?? item.fileName;
    one('.delete-text', deleteDialog).replaceChildren(
      h('strong', {}, `“${name}”`),
      ` (${item.kind ? KIND_LABEL[item.kind].toLowerCase() : 'unassigned file'}, ${formatBytes(item.byteSize)}) will be removed from the library, with its file. Its link stops working once the edges drop their copy. This cannot be undone.`,
    );
    showFormError(deleteDialog, undefined);
    deleteDialog.showModal();
    one<HTMLButtonElement>('[data-close]', deleteDialog).focus();
  }
  one('form', deleteDialog).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (deleting === undefined) return;
    const item = deleting;
    const submit = one<HTMLButtonElement>('button[type=submit]', deleteDialog);
    submit.disabled = true;
    try {
      await deleteMedia(item.id);
      if (previewing === item.id) stopPreview();
      deleteDialog.close('deleted');
      toast(`Deleted “${item.title ?? item.fileName}”.`);
      void load();
      opts.onChanged?.();
    } catch (err) {
      showFormError(deleteDialog, err instanceof ApiError ? err.message : String(err));
    } finally {
      submit.disabled = false;
    }
  });

  let debounce: ReturnType<typeof setTimeout> | undefined;
  q.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      offset = 0;
      void load();
    }, 250);
  });
  kind.addEventListener('change', () => {
    offset = 0;
    void load();
  });
  prev.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    void load();
  });
  next.addEventListener('click', () => {
    offset += PAGE_SIZE;
    void load();
  });
  barClose.addEventListener('click', stopPreview);
  barAudio.addEventListener('play', refreshPreviewButtons);
  barAudio.addEventListener('pause', refreshPreviewButtons);
  barAudio.addEventListener('ended', refreshPreviewButtons);

  return {
    refresh: () => void load(),
    redraw: () => {
      rows.replaceChildren(...shownItems.map(row));
    },
  };
}
