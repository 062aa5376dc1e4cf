// Uploads: files dropped or picked join a queue where their details are set (kind, title, artist);
// each uploads with its own progress bar, and a rejected file shows the server's reason.
import { ApiError, uploadMedia, type MediaItem, type MediaKind, type Upload } from './api.ts';
import { h, one } from './dom.ts';
import { formatBytes, titleFromFileName } from './format.ts';
import { icon } from './icons.ts';
import { KIND_ICON, KIND_LABEL, toast } from './admin-ui.ts';

type Entry = {
  file: File;
  kind: MediaKind;
  title: string;
  artist: string;
  state: 'ready' | 'uploading' | 'done' | 'failed';
  upload?: Upload;
  el: HTMLLIElement;
};

/** A first guess, which the form lets the user change. */
export function guessKind(file: { name: string; type: string }): MediaKind {
  if (file.type.startsWith('image/') || /\.(png|jpe?g|gif|webp|avif)$/i.test(file.name)) return 'background';
  if (/announce|jingle|ident|station|promo/i.test(file.name)) return 'announcement';
  return 'song';
}

export function createUploadView(opts: { onUploaded: (item: MediaItem) => void }): { add(files: Iterable<File>): void } {
  const section = one('#upload');
  const zone = one('.dropzone', section);
  const input = one<HTMLInputElement>('.file-input', section);
  const list = one('.queue', section);
  const actions = one('.queue-actions', section);
  const uploadAll = one<HTMLButtonElement>('.upload-all', section);
  const clearDone = one<HTMLButtonElement>('.clear-done', section);
  const entries: Entry[] = [];
  let running = false;

  one('.dropzone-icon', zone).append(icon('upload', 28));

  function syncActions(): void {
    actions.hidden = entries.length === 0;
    const ready = entries.filter((e) => e.state === 'ready' || e.state === 'failed').length;
    uploadAll.disabled = running || ready === 0;
    uploadAll.textContent = running ? 'Uploading…' : ready > 1 ? `Upload ${ready} files` : 'Upload';
    clearDone.hidden = !entries.some((e) => e.state === 'done');
  }

  function render(e: Entry): void {
    const busy = e.state === 'uploading' || e.state === 'done';
    const fieldId = `up-${Math.random().toString(36).slice(2, 9)}`;
    const kindSel = h('select', { id: `${fieldId}-kind`, name: 'kind', disabled: busy },
      ...(['song', 'announcement', 'background'] as const).map((k) => h('option', { value: k, selected: e.kind === k }, KIND_LABEL[k])));
    kindSel.addEventListener('change', () => {
      e.kind = kindSel.value as MediaKind;
      render(e);
    });
    const title = h('input', { id: `${fieldId}-title`, name: 'title', value: e.title, required: true, maxlength: 500, disabled: busy });
    title.addEventListener('input', () => (e.title = title.value));
    const artist = h('input', { id: `${fieldId}-artist`, name: 'artist', value: e.artist, maxlength: 500, disabled: busy, placeholder: 'Optional' });
    artist.addEventListener('input', () => (e.artist = artist.value));

    const remove = h('button', { class: 'btn-icon', type: 'button', 'aria-label': e.state === 'uploading' ? `Cancel upload of ${e.file.name}` : `Remove ${e.file.name} from the list` });
    remove.append(icon('close', 18));
    remove.addEventListener('click', () => {
      if (e.state === 'uploading') e.upload?.abort();
      else drop(e);
    });

    const progress = h('div', { class: 'bar', role: 'progressbar', 'aria-label': `Upload of ${e.file.name}`, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': e.state === 'done' ? 100 : 0 },
      h('span', { class: 'bar-fill' }));
    const status = h('p', { class: 'queue-status', role: e.state === 'failed' ? 'alert' : false });

    e.el.className = `queue-item is-${e.state}`;
    e.el.replaceChildren(
      h('div', { class: 'queue-file' },
        h('span', { class: 'queue-icon' }, icon(KIND_ICON[e.kind], 20)),
        h('span', { class: 'queue-name' }, h('strong', {}, e.file.name), h('span', { class: 'muted small' }, `${formatBytes(e.file.size)} · ${e.file.type || 'unknown type'}`)),
        remove),
      h('div', { class: 'queue-fields' },
        h('label', { class: 'field', for: kindSel.id }, h('span', {}, 'Kind'), kindSel),
        h('label', { class: 'field field-grow', for: title.id }, h('span', {}, 'Title'), title),
        e.kind === 'song' ? h('label', { class: 'field field-grow', for: artist.id }, h('span', {}, 'Artist'), artist) : null),
      progress,
      status,
    );
    if (e.state === 'done') setStatus(e, 'ok', 'Added to the library.');
    setBar(e, e.state === 'done' ? 1 : 0);
  }

  function setBar(e: Entry, ratio: number): void {
    const bar = e.el.querySelector<HTMLElement>('.bar');
    if (bar === null) return;
    bar.style.setProperty('--p', `${(ratio * 100).toFixed(1)}%`);
    bar.setAttribute('aria-valuenow', String(Math.round(ratio * 100)));
  }

  function setStatus(e: Entry, tone: 'ok' | 'error' | 'info', text: string): void {
    const st = e.el.querySelector<HTMLElement>('.queue-status');
    if (st === null) return;
    st.dataset.tone = tone;
    st.replaceChildren();
    if (tone !== 'info') st.append(icon(tone === 'ok' ? 'check' : 'alert', 16));
    st.append(text);
    if (tone === 'error') st.setAttribute('role', 'alert');
  }

  function drop(e: Entry): void {
    entries.splice(entries.indexOf(e), 1);
    e.el.remove();
    syncActions();
  }

  function add(files: Iterable<File>): void {
    for (const file of files) {
      const e: Entry = { file, kind: guessKind(file), title: titleFromFileName(file.name), artist: '', state: 'ready', el: h('li', {}) };
      entries.push(e);
      list.append(e.el);
      render(e);
    }
    syncActions();
  }

  async function uploadOne(e: Entry): Promise<boolean> {
    if (e.title.trim() === '') {
      e.state = 'failed';
      render(e);
      setStatus(e, 'error', 'Give it a title first.');
      return false;
    }
    e.state = 'uploading';
    render(e);
    setStatus(e, 'info', 'Uploading… 0 %');
    e.upload = uploadMedia(e.file, { kind: e.kind, title: e.title.trim(), artist: e.artist.trim() || undefined }, (sent, total) => {
      const ratio = total > 0 ? sent / total : 0;
      setBar(e, ratio);
      setStatus(e, 'info', ratio >= 1 ? 'Processing…' : `Uploading… ${Math.floor(ratio * 100)} % of ${formatBytes(total)}`);
    });
    try {
      const item = await e.upload.promise;
      e.state = 'done';
      render(e);
      opts.onUploaded(item);
      return true;
    } catch (err) {
      e.state = 'failed';
      render(e);
      const msg = err instanceof ApiError ? describeRejection(err) : String(err);
      setStatus(e, 'error', msg);
      return false;
    }
  }

  uploadAll.addEventListener('click', async () => {
    running = true;
    syncActions();
    let ok = 0;
    let failed = 0;
    for (const e of entries.slice()) {
      if (e.state !== 'ready' && e.state !== 'failed') continue;
      if (await uploadOne(e)) ok++;
      else failed++;
    }
    running = false;
    syncActions();
    if (failed === 0 && ok > 0) toast(`${ok} file${ok === 1 ? '' : 's'} added to the library.`);
    else if (failed > 0) toast(`${failed} file${failed === 1 ? ' was' : 's were'} not accepted: see the reason under ${failed === 1 ? 'it' : 'each'}.`, 'error');
  });
  clearDone.addEventListener('click', () => {
    for (const e of entries.filter((x) => x.state === 'done')) drop(e);
  });

  input.addEventListener('change', () => {
    if (input.files) add(input.files);
    input.value = '';
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    zone.classList.add('is-dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('is-dragging'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('is-dragging');
    if (ev.dataTransfer?.files) add(ev.dataTransfer.files);
  });
  // Dropping a file elsewhere on the page should not navigate away from the dashboard.
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());
  syncActions();
  return { add };
}

/** The server's message, with a plain-words lead for the common refusals. */
function describeRejection(err: ApiError): string {
  const lead: Record<string, string> = {
    too_large: 'Too large.',
    unsupported_type: 'Not a supported audio or image file.',
    type_mismatch: 'The file is not what its type says.',
    network_error: 'Upload interrupted.',
  };
  const l = lead[err.code];
  return l !== undefined && !err.message.startsWith(l) ? `${l} ${err.message}` : err.message;
}
