// The listener page: a small radio that plays the public playlist (songs with an announcement between
// some of them) over a looping background, with play/pause, skip, seek and volume, all from the keyboard too.
import { isTypingTarget, one } from './dom.ts';
import { formatClock } from './format.ts';
import { setIcon } from './icons.ts';
import type { Playlist, PlaylistTrack } from './playlist-types.ts';
import { createRadio, type Radio } from './radio.ts';

const SEEK_STEP_S = 5;
const VOLUME_STEP = 0.05;
const VOLUME_KEY = 'mediacdn.volume';

const audio = one<HTMLAudioElement>('.audio');
const playBtn = one<HTMLButtonElement>('.play');
const skipBtn = one<HTMLButtonElement>('.skip');
const muteBtn = one<HTMLButtonElement>('.mute');
const volume = one<HTMLInputElement>('.volume-range');
const seek = one<HTMLInputElement>('.seek');
const elapsed = one('.elapsed');
const durationEl = one('.duration');
const titleEl = one('.track-title');
const artistEl = one('.track-artist');
const onAir = one('.on-air');
const onAirLabel = one('.on-air-label');
const upNext = one('.up-next');
const layers = [...document.querySelectorAll<HTMLImageElement>('.backdrop-img')];

setIcon(playBtn, 'play', 30);
setIcon(skipBtn, 'skip', 22);
setIcon(muteBtn, 'volume', 20);

let playlist: Playlist | undefined;
let radio: Radio | undefined;
let current: PlaylistTrack | undefined;
let failuresInARow = 0;
let seeking = false;
let frontLayer = 0;
let shownBackground: string | undefined;

function setStatus(state: 'idle' | 'playing' | 'paused' | 'announcement' | 'error', label: string): void {
  onAir.dataset.state = state;
  onAirLabel.textContent = label;
}

function showTrack(t: PlaylistTrack): void {
  titleEl.textContent = t.title;
  artistEl.textContent = t.kind === 'announcement' ? 'Station announcement' : [t.artist ?? 'Unknown artist', t.album].filter((s) => s).join(' · ');
  const d = t.durationMs === null ? NaN : t.durationMs / 1000;
  durationEl.textContent = formatClock(d);
  elapsed.textContent = formatClock(0);
  seek.value = '0';
  seek.style.setProperty('--fill', '0%');
  document.title = `${t.title} · mediacdn radio`;
  const next = radio?.peek();
  upNext.hidden = next === undefined || next === t;
  if (next !== undefined) upNext.textContent = `Up next: ${next.title}${next.kind === 'song' && next.artist ? ` — ${next.artist}` : next.kind === 'announcement' ? ' (announcement)' : ''}`;
  if ('mediaSession' in navigator) {
    navigator.mediaSession.metadata = new MediaMetadata({
      title: t.title,
      artist: t.kind === 'song' ? t.artist ?? '' : 'Announcement',
      album: t.album ?? 'mediacdn radio',
    });
  }
}

/** Cross-fades to the background for the current song; backgrounds rotate from song to song. */
function showBackground(): void {
  const bgs = playlist?.backgrounds ?? [];
  if (bgs.length === 0) return;
  const bg = bgs[Math.max(0, (radio?.songsStarted ?? 1) - 1) % bgs.length];
  if (bg.url === shownBackground) return;
  shownBackground = bg.url;
  const back = layers[1 - frontLayer];
  back.onload = () => {
    back.classList.add('shown');
    layers[frontLayer].classList.remove('shown');
    frontLayer = 1 - frontLayer;
  };
  back.src = bg.url;
}

async function playTrack(t: PlaylistTrack): Promise<void> {
  current = t;
  showTrack(t);
  if (t.kind === 'song') showBackground();
  audio.src = t.url;
  try {
    await audio.play();
  } catch (err) {
    // Autoplay refused until the listener presses play: show it as paused, keep the track loaded.
    if ((err as DOMException).name === 'NotAllowedError') updatePlayState();
  }
}

function advance(): void {
  const t = radio?.next();
  if (t !== undefined) void playTrack(t);
}

function togglePlay(): void {
  if (radio === undefined) return;
  if (current === undefined) return advance();
  if (audio.paused) void audio.play().catch(() => updatePlayState());
  else audio.pause();
}

function updatePlayState(): void {
  const playing = !audio.paused && !audio.ended;
  setIcon(playBtn, playing ? 'pause' : 'play', 30);
  playBtn.setAttribute('aria-label', playing ? 'Pause' : 'Play');
  playBtn.setAttribute('aria-pressed', String(playing));
  document.body.classList.toggle('is-playing', playing);
  if (current === undefined) return;
  if (!playing) setStatus('paused', 'Paused');
  else if (current.kind === 'announcement') setStatus('announcement', 'Announcement');
  else setStatus('playing', 'On air');
}

function updateProgress(): void {
  const d = audio.duration;
  if (Number.isFinite(d) && d > 0) {
    durationEl.textContent = formatClock(d);
    if (!seeking) seek.value = String(Math.round((audio.currentTime / d) * 1000));
    seek.style.setProperty('--fill', `${Number(seek.value) / 10}%`);
    seek.disabled = false;
  }
  elapsed.textContent = formatClock(audio.currentTime);
  seek.setAttribute('aria-valuetext', `${formatClock(audio.currentTime)} of ${formatClock(d)}`);
}

function seekBy(seconds: number): void {
  if (!Number.isFinite(audio.duration)) return;
  audio.currentTime = Math.min(Math.max(0, audio.currentTime + seconds), audio.duration);
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

function updateVolume(): void {
  const silent = audio.muted || audio.volume === 0;
  setIcon(muteBtn, silent ? 'mute' : 'volume', 20);
  muteBtn.setAttribute('aria-label', silent ? 'Unmute' : 'Mute');
  muteBtn.setAttribute('aria-pressed', String(silent));
  volume.style.setProperty('--fill', `${audio.muted ? 0 : audio.volume * 100}%`);
}

audio.addEventListener('play', updatePlayState);
audio.addEventListener('pause', updatePlayState);
audio.addEventListener('playing', () => {
  failuresInARow = 0;
  updatePlayState();
});
audio.addEventListener('ended', advance);
audio.addEventListener('timeupdate', updateProgress);
audio.addEventListener('durationchange', updateProgress);
audio.addEventListener('volumechange', updateVolume);
audio.addEventListener('error', () => {
  if (current === undefined) return;
  failuresInARow++;
  const total = (playlist?.songs.length ?? 0) + (playlist?.announcements.length ?? 0);
  if (failuresInARow >= Math.max(1, total)) {
    setStatus('error', 'Off air');
    artistEl.textContent = 'None of the tracks could be played. Check the media URL and try again later.';
    return;
  }
  setStatus('error', `Could not play “${current.title}”, skipping`);
  advance();
});

playBtn.addEventListener('click', togglePlay);
skipBtn.addEventListener('click', advance);
/** The controls follow at once; 'volumechange' (a queued event) keeps them right for other sources. */
function toggleMute(): void {
  if (audio.volume === 0) setVolume(0.5);
  else audio.muted = !audio.muted;
  updateVolume();
}
muteBtn.addEventListener('click', toggleMute);
volume.addEventListener('input', () => setVolume(Number(volume.value) / 100));
seek.addEventListener('input', () => {
  seeking = true;
  seek.style.setProperty('--fill', `${Number(seek.value) / 10}%`);
  const d = audio.duration;
  if (Number.isFinite(d)) elapsed.textContent = formatClock((Number(seek.value) / 1000) * d);
});
seek.addEventListener('change', () => {
  seeking = false;
  const d = audio.duration;
  if (Number.isFinite(d)) audio.currentTime = (Number(seek.value) / 1000) * d;
});

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
    case 'ArrowLeft':
    case 'ArrowRight':
      if (onRange) return; // the slider moves itself
      ev.preventDefault();
      seekBy(ev.key === 'ArrowLeft' ? -SEEK_STEP_S : SEEK_STEP_S);
      break;
    case 'ArrowUp':
    case 'ArrowDown':
      if (onRange) return;
      ev.preventDefault();
      setVolume(audio.volume + (ev.key === 'ArrowUp' ? VOLUME_STEP : -VOLUME_STEP));
      break;
    case 'n':
    case 'N':
      advance();
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
  navigator.mediaSession.setActionHandler('nexttrack', advance);
}

function showEmpty(): void {
  titleEl.textContent = 'Nothing on air yet';
  artistEl.textContent = '';
  artistEl.append('Add songs and announcements in the ', Object.assign(document.createElement('a'), { href: '/admin', textContent: 'dashboard' }), '.');
  setStatus('idle', 'Off air');
}

async function load(): Promise<void> {
  let res: Response;
  try {
    res = await fetch('/api/playlist', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    playlist = (await res.json()) as Playlist;
  } catch (err) {
    titleEl.textContent = 'The station is unreachable';
    artistEl.textContent = `The playlist could not be loaded (${(err as Error).message}). Reload the page to try again.`;
    setStatus('error', 'Off air');
    return;
  }
  radio = createRadio(playlist);
  showBackground();
  if (radio.peek() === undefined) return showEmpty();
  const first = radio.peek() as PlaylistTrack;
  titleEl.textContent = 'Press play to tune in';
  artistEl.textContent = `${playlist.songs.length} song${playlist.songs.length === 1 ? '' : 's'}, ${playlist.announcements.length} announcement${playlist.announcements.length === 1 ? '' : 's'}`;
  upNext.hidden = false;
  upNext.textContent = `First up: ${first.title}${first.kind === 'song' && first.artist ? ` — ${first.artist}` : ''}`;
  setStatus('idle', 'Ready');
  playBtn.disabled = false;
  skipBtn.disabled = false;
  playBtn.focus();
}

try {
  const saved = Number(localStorage.getItem(VOLUME_KEY) ?? '0.8');
  if (Number.isFinite(saved)) setVolume(saved);
} catch {
  setVolume(0.8);
}
updateVolume();
void load();
