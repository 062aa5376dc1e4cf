// The listener page: the station's broadcast. What plays comes from the server (GET /api/now), the same
// item at the same position for every listener: the page corrects its clock with the server's, and
// joins an item that started earlier by seeking into it (a Range request). Skipping is a local "listen
// to the next one" that leaves the broadcast, with a way back to it; an item that cannot be played is
// reported and the next one plays.
import { isTypingTarget, one } from './dom.ts';
import { formatClock } from './format.ts';
import { setIcon } from './icons.ts';
import type { NowPlaying, StationItem } from './station-types.ts';
import { addSample, clockOffset, itemAfter, itemAt, mergeItems, needsResync, positionAt, type ClockSample } from './tuner.ts';

const VOLUME_STEP = 0.05;
const VOLUME_KEY = 'mediacdn.volume';
/** How many items the page asks for after the current one (what "next" can use without asking again). */
const UPCOMING = 8;
/** Retry after a failed request, and the poll while the station is off the air. */
const RETRY_MS = 5000;
const OFF_AIR_POLL_MS = 15_000;
/** At least this long between two corrections of the playing position. */
const RESYNC_GAP_MS = 2500;

const audio = one<HTMLAudioElement>('.audio');
const playBtn = one<HTMLButtonElement>('.play');
const skipBtn = one<HTMLButtonElement>('.skip');
const liveBtn = one<HTMLButtonElement>('.golive');
const muteBtn = one<HTMLButtonElement>('.mute');
const volume = one<HTMLInputElement>('.volume-range');
const bar = one('.track-bar');
const barFill = one('.track-bar-fill');
const elapsed = one('.elapsed');
const durationEl = one('.duration');
const deck = one('.deck');
const titleEl = one('.track-title');
const artistEl = one('.track-artist');
const onAir = one('.on-air');
const onAirLabel = one('.on-air-label');
const upNext = one('.up-next');
const notice = one('.notice');
const layers = [...document.querySelectorAll<HTMLImageElement>('.backdrop-img')];

setIcon(playBtn, 'play', 30);
setIcon(skipBtn, 'skip', 22);
setIcon(muteBtn, 'volume', 20);

type Mode = 'live' | 'local';

let samples: ClockSample[] = [];
/** What the page knows of the running order: the item on the air and the ones planned after it. */
let items: StationItem[] = [];
let library = { songs: 0, announcements: 0, backgrounds: 0 };
let mode: Mode = 'live';
/** The listener wants sound: pressed play and has not paused since. */
let listening = false;
/** The item loaded into the audio element, and the one on screen. */
let loaded: StationItem | undefined;
let shown: StationItem | undefined;
/** Items that failed to play (by seq): "back to live" does not try them again. */
const failed = new Set<number>();
/** Media that failed since something last played: when every item of the station has, it is off the air. */
const failingIds = new Set<number>();
let keepNotice = false;
let boundaryTimer: ReturnType<typeof setTimeout> | undefined;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let lastResync = 0;
/** The screen's own move to the next item while nobody listens (one at a time). */
let following: Promise<void> | undefined;
let frontLayer = 0;
let shownBackground: string | undefined;

const stationNow = (): number => Date.now() + clockOffset(samples);

function setStatus(state: 'ready' | 'live' | 'announcement' | 'local' | 'paused' | 'waiting' | 'off' | 'error', label: string): void {
  onAir.dataset.state = state;
  onAirLabel.textContent = label;
}

/** Off the air: every item of the station failed to play here (until one plays again). */
function offAir(): boolean {
  return failingIds.size >= Math.max(1, library.songs + library.announcements);
}

function describe(t: StationItem): string {
  return `${t.title}${t.kind === 'song' && t.artist ? ` — ${t.artist}` : t.kind === 'announcement' ? ' (announcement)' : ''}`;
}

function clockTime(stationMs: number): string {
  return new Date(stationMs - clockOffset(samples)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Everything the page says about the current state: badge, buttons, "up next". */
function render(): void {
  document.body.dataset.mode = mode;
  const playingNow = listening && !audio.paused;
  setIcon(playBtn, listening ? 'pause' : 'play', 30);
  playBtn.setAttribute('aria-label', listening ? 'Pause' : mode === 'live' ? 'Listen live' : 'Play');
  playBtn.setAttribute('aria-pressed', String(listening));
  document.body.classList.toggle('is-playing', playingNow);
  liveBtn.hidden = mode === 'live';
  const item = shown;
  if (item === undefined) return;
  if (offAir()) setStatus('error', 'Off air');
  else if (mode === 'local') setStatus(listening ? 'local' : 'paused', listening ? 'Not live' : 'Paused · not live');
  else if (failed.has(item.seq) && loaded?.seq !== item.seq) setStatus('waiting', 'Waiting for the next item');
  else if (!listening) setStatus('ready', 'On air');
  else setStatus(item.kind === 'announcement' ? 'announcement' : 'live', item.kind === 'announcement' ? 'On air · announcement' : 'On air');
  const next = itemAfter(items, item.seq);
  upNext.hidden = next === undefined;
  if (next !== undefined) upNext.textContent = mode === 'live' ? `Up next at ${clockTime(next.startsAt)}: ${describe(next)}` : `Next: ${describe(next)}`;
}

function show(t: StationItem): void {
  shown = t;
  deck.dataset.seq = String(t.seq);
  titleEl.textContent = t.title;
  artistEl.textContent = t.kind === 'announcement' ? 'Station announcement' : [t.artist ?? 'Unknown artist', t.album].filter((s) => s).join(' · ');
  durationEl.textContent = formatClock((t.endsAt - t.startsAt) / 1000);
  document.title = `${t.title} · mediacdn radio`;
  showBackground(t);
  if ('mediaSession' in navigator) {
    navigator.mediaSession.metadata = new MediaMetadata({ title: t.title, artist: t.kind === 'song' ? t.artist ?? '' : 'Announcement', album: t.album ?? 'mediacdn radio' });
  }
  tick();
  render();
}

/** Cross-fades to the item's background (an announcement keeps the song's). */
function showBackground(t: StationItem): void {
  const url = t.background?.url;
  if (url === undefined || url === shownBackground) return;
  shownBackground = url;
  const back = layers[1 - frontLayer];
  back.onload = () => {
    back.classList.add('shown');
    layers[frontLayer].classList.remove('shown');
    frontLayer = 1 - frontLayer;
  };
  back.src = url;
}

function setNotice(text: string | undefined): void {
  notice.hidden = text === undefined;
  notice.textContent = text ?? '';
}

/** The progress bar and clock: the audio's position while it plays, the station's otherwise. */
function tick(): void {
  const t = shown;
  if (t === undefined) return;
  const total = (t.endsAt - t.startsAt) / 1000;
  const usingAudio = loaded?.seq === t.seq && audio.readyState > 0 && (listening || mode === 'local');
  const pos = Math.min(total, usingAudio ? audio.currentTime : positionAt(t, stationNow()));
  elapsed.textContent = formatClock(pos);
  const pct = total > 0 ? Math.min(100, (pos / total) * 100) : 0;
  barFill.style.width = `${pct}%`;
  bar.setAttribute('aria-valuenow', String(Math.round(pct)));
  bar.setAttribute('aria-valuetext', `${formatClock(pos)} of ${formatClock(total)}`);
  // Not listening, live: the screen follows the station from item to item.
  if (mode === 'live' && !listening && stationNow() >= t.endsAt && following === undefined) {
    following = tuneIn().finally(() => {
      following = undefined;
    });
  }
}

async function fetchNow(after?: number): Promise<NowPlaying> {
  const qs = new URLSearchParams({ upcoming: String(UPCOMING) });
  if (after !== undefined) qs.set('after', String(after));
  const sentAt = Date.now();
  const res = await fetch(`/api/now?${qs}`, { cache: 'no-store', headers: { accept: 'application/json' } });
  const receivedAt = Date.now();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const n = (await res.json()) as NowPlaying;
  samples = addSample(samples, { sentAt, receivedAt, serverTime: n.serverTime });
  library = n.library;
  const keepFrom = Math.min(loaded?.seq ?? Infinity, n.current?.seq ?? Infinity);
  if (n.current !== null) items = mergeItems(items, [n.current], keepFrom);
  items = mergeItems(items, n.upcoming, keepFrom);
  return n;
}

function stopBoundary(): void {
  clearTimeout(boundaryTimer);
  boundaryTimer = undefined;
}

/** Live: at the end of the item on the air, go on with the next (and ask the server what it is). */
function scheduleBoundary(t: StationItem): void {
  stopBoundary();
  boundaryTimer = setTimeout(() => {
    if (mode !== 'live') return;
    void tuneIn().then(() => refreshLive());
  }, Math.max(0, t.endsAt - stationNow()));
}

/** Asks the server what is on the air; follows it when it differs from what the page plays (the library changed). */
async function refreshLive(): Promise<void> {
  try {
    const n = await fetchNow();
    if (mode === 'live' && n.current !== null && (shown?.seq !== n.current.seq || shown.id !== n.current.id || shown.startsAt !== n.current.startsAt)) await tuneIn();
    else render();
  } catch {
    // The page goes on with the plan it has; the next boundary asks again.
  }
}

function showOffAir(): void {
  stopBoundary();
  shown = undefined;
  loaded = undefined;
  audio.removeAttribute('src');
  audio.load();
  delete deck.dataset.seq;
  titleEl.textContent = 'Nothing on air yet';
  artistEl.textContent = '';
  artistEl.append('Add songs and announcements in the ', Object.assign(document.createElement('a'), { href: '/admin', textContent: 'dashboard' }), '.');
  upNext.hidden = true;
  setStatus('off', 'Off air');
  playBtn.disabled = true;
  skipBtn.disabled = true;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void tuneIn(), OFF_AIR_POLL_MS);
}

/** Loads an item into the audio element at `at` seconds (a seek: the browser asks for a byte range). */
function load(t: StationItem, at: number): void {
  if (!keepNotice) setNotice(undefined);
  keepNotice = false;
  loaded = t;
  show(t);
  audio.src = t.url;
  // Before the metadata is in, this sets where playback starts; the browser then reads from there.
  if (at > 0.05) audio.currentTime = at;
  lastResync = Date.now();
  if (listening) play();
}

function play(): void {
  audio.play().catch((err: DOMException) => {
    // Autoplay refused until the listener presses play; a load that was replaced aborts its play().
    if (err.name === 'NotAllowedError') {
      listening = false;
      render();
    }
  });
}

/** Joins the station: the item on the air now, at the station's position in it. */
async function tuneIn(): Promise<void> {
  mode = 'live';
  clearTimeout(retryTimer);
  let t = itemAt(items, stationNow());
  if (t === undefined) {
    try {
      const n = await fetchNow();
      if (n.current === null) return showOffAir();
      t = itemAt(items, stationNow()) ?? n.current;
    } catch (err) {
      if (shown === undefined) {
        titleEl.textContent = 'The station is unreachable';
        artistEl.textContent = `What is on the air could not be loaded (${(err as Error).message}). Trying again…`;
        setStatus('error', 'Off air');
      } else setNotice(`The station could not be reached (${(err as Error).message}). Trying again…`);
      retryTimer = setTimeout(() => void tuneIn(), RETRY_MS);
      return;
    }
  }
  playBtn.disabled = false;
  skipBtn.disabled = false;
  scheduleBoundary(t);
  if (failed.has(t.seq)) {
    // It failed for this listener before: wait for the next item rather than fail again.
    const next = itemAfter(items, t.seq);
    if (loaded !== undefined && loaded.seq !== t.seq) audio.pause();
    show(t);
    setNotice(`“${t.title}” cannot be played here.${next ? ` Back on the air with “${next.title}” at ${clockTime(next.startsAt)}.` : ''}`);
    return;
  }
  if (!listening) {
    if (loaded !== undefined) audio.pause();
    show(t);
    return;
  }
  if (loaded?.seq === t.seq && loaded.id === t.id && !audio.error) {
    const live = positionAt(t, stationNow());
    if (needsResync(audio.currentTime, live, audio.duration)) audio.currentTime = live;
    show(t);
    play();
    return;
  }
  load(t, positionAt(t, stationNow()));
}

/** Leaves the broadcast to play `t` from its start; an item the station has reached is joined live. */
async function playLocal(t: StationItem): Promise<void> {
  if (t.startsAt <= stationNow()) {
    listening = true;
    return tuneIn();
  }
  mode = 'local';
  stopBoundary();
  listening = true;
  load(t, 0);
}

/** "Listen to the next one": the item after the one playing, from its start. The station goes on. */
async function skip(): Promise<void> {
  const from = loaded ?? shown;
  if (from === undefined) return;
  let next = itemAfter(items, from.seq);
  if (next === undefined) {
    try {
      await fetchNow(from.seq);
    } catch {
      // Nothing more is known: stay.
    }
    next = itemAfter(items, from.seq);
  }
  if (next !== undefined) await playLocal(next);
}

function togglePlay(): void {
  if (shown === undefined && loaded === undefined) return;
  if (listening) {
    listening = false;
    audio.pause();
    render();
    return;
  }
  listening = true;
  // A radio: resuming live joins the station where it is now, not where the listener paused.
  if (mode === 'live') void tuneIn().then(() => refreshLive());
  else {
    play();
    render();
  }
}

function backToLive(): void {
  listening = true;
  void tuneIn().then(() => refreshLive());
}

async function reasonFor(t: StationItem): Promise<string> {
  const code = audio.error?.code;
  const status = await fetch(t.url, { method: 'HEAD', cache: 'no-store' }).then((r) => r.status, () => 0);
  if (status === 404 || status === 410) return `the file is no longer on the server (HTTP ${status})`;
  if (status >= 400) return `the server answered HTTP ${status}`;
  if (status === 0) return 'the media server could not be reached';
  if (code === MediaError.MEDIA_ERR_NETWORK) return 'the download broke off';
  return 'the browser could not decode the file';
}

async function onError(): Promise<void> {
  const t = loaded;
  if (t === undefined || audio.error === null) return;
  failed.add(t.seq);
  const reason = await reasonFor(t);
  // Counted only now: the page says "Off air" in the same step as it says why, never before.
  failingIds.add(t.id);
  if (loaded !== t) return; // the listener moved on meanwhile
  if (offAir()) {
    listening = false;
    setNotice(`“${t.title}” could not be played: ${reason}. Nothing else on this station could be played either; try again later.`);
    render();
    return;
  }
  const next = itemAfter(items, t.seq);
  setNotice(`“${t.title}” could not be played: ${reason}.${next ? ' Playing the next one.' : ''}`);
  keepNotice = true;
  if (next !== undefined) await playLocal(next);
  else render();
}

function updateVolume(): void {
  const silent = audio.muted || audio.volume === 0;
  setIcon(muteBtn, silent ? 'mute' : 'volume', 20);
  muteBtn.setAttribute('aria-label', silent ? 'Unmute' : 'Mute');
  muteBtn.setAttribute('aria-pressed', String(silent));
  volume.style.setProperty('--fill', `${audio.muted ? 0 : audio.volume * 100}%`);
}

function setVolume(v: number): void {
  audio.volume = Math.min(1, Math.max(0, v));
  audio.muted = false;
  volume.value = String(Math.round(audio.volume * 100));
  updateVolume();
  try {
    localStorage.setItem(VOLUME_KEY, String(audio.volume));
  } catch {
    // Private browsing: volume just is not remembered.
  }
}

/** The controls follow at once; 'volumechange' (a queued event) keeps them right for other sources. */
function toggleMute(): void {
  if (audio.volume === 0) setVolume(0.5);
  else audio.muted = !audio.muted;
  updateVolume();
}

audio.addEventListener('play', render);
audio.addEventListener('pause', render);
audio.addEventListener('playing', () => {
  failingIds.clear();
  // The start took a moment: catch up with the station.
  if (mode === 'live' && loaded !== undefined) {
    const live = positionAt(loaded, stationNow());
    if (needsResync(audio.currentTime, live, audio.duration)) {
      audio.currentTime = live;
      lastResync = Date.now();
    }
  }
  render();
});
audio.addEventListener('timeupdate', () => {
  tick();
  if (mode !== 'live' || !listening || loaded === undefined || audio.seeking || audio.paused || Date.now() - lastResync < RESYNC_GAP_MS) return;
  const live = positionAt(loaded, stationNow());
  if (needsResync(audio.currentTime, live, audio.duration)) {
    audio.currentTime = live;
    lastResync = Date.now();
  }
});
audio.addEventListener('ended', () => {
  // Live, the boundary timer moves on at the station's time (a file may end a little early).
  if (mode === 'local') void skip();
});
audio.addEventListener('volumechange', updateVolume);
audio.addEventListener('error', () => void onError());

playBtn.addEventListener('click', togglePlay);
skipBtn.addEventListener('click', () => void skip());
liveBtn.addEventListener('click', backToLive);
muteBtn.addEventListener('click', toggleMute);
volume.addEventListener('input', () => setVolume(Number(volume.value) / 100));
setInterval(() => {
  if (!listening || audio.paused) tick();
}, 500);

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || isTypingTarget(ev.target)) return;
  const onControl = ev.target instanceof HTMLButtonElement || ev.target instanceof HTMLAnchorElement;
  const onRange = ev.target instanceof HTMLInputElement && ev.target.type === 'range';
  switch (ev.key) {
    case ' ':
    case 'k':
      // A focused button already answers Space by clicking itself.
      if (ev.key === ' ' && onControl) return;
      ev.preventDefault();
      togglePlay();
      break;
    case 'ArrowUp':
    case 'ArrowDown':
      if (onRange) return; // the slider moves itself
      ev.preventDefault();
      setVolume(audio.volume + (ev.key === 'ArrowUp' ? VOLUME_STEP : -VOLUME_STEP));
      break;
    case 'n':
    case 'N':
      void skip();
      break;
    case 'l':
    case 'L':
      if (mode === 'local') backToLive();
      break;
    case 'm':
    case 'M':
      toggleMute();
      break;
  }
});

if ('mediaSession' in navigator) {
  navigator.mediaSession.setActionHandler('play', togglePlay);
  navigator.mediaSession.setActionHandler('pause', togglePlay);
  navigator.mediaSession.setActionHandler('nexttrack', () => void skip());
}

try {
  const saved = Number(localStorage.getItem(VOLUME_KEY) ?? '0.8');
  setVolume(Number.isFinite(saved) ? saved : 0.8);
} catch {
  setVolume(0.8);
}
updateVolume();
void tuneIn().then(() => {
  if (shown !== undefined) playBtn.focus();
});
