// Inline SVG icons (24×24, stroke-based): no icon font, no extra requests, colour from currentColor.
import { svg } from './dom.ts';

const PATHS = {
  play: 'M7 4.5v15l12.5-7.5z',
  pause: 'M7 4.5h3.5v15H7zM13.5 4.5H17v15h-3.5z',
  skip: 'M5 4.5v15l10-7.5zM17 4.5h2.5v15H17z',
  volume: 'M4 9.5h3.5L12 5.5v13l-4.5-4H4zM15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11',
  mute: 'M4 9.5h3.5L12 5.5v13l-4.5-4H4zM16 9.5l5 5M21 9.5l-5 5',
  upload: 'M12 15.5V4M7.5 8.5 12 4l4.5 4.5M4.5 15v3.5a1.5 1.5 0 0 0 1.5 1.5h12a1.5 1.5 0 0 0 1.5-1.5V15',
  edit: 'M4.5 19.5h4l10-10-4-4-10 10zM13 7l4 4',
  trash: 'M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 12.5h9l1-12.5M10 10.5v6M14 10.5v6',
  close: 'M6 6l12 12M18 6 6 18',
  music: 'M9 18.5V6l10-2v12.5M9 18.5a2.5 2.5 0 1 1-5 0 2.5 2.5 0 0 1 5 0zM19 16.5a2.5 2.5 0 1 1-5 0 2.5 2.5 0 0 1 5 0z',
  mic: 'M12 14.5a3 3 0 0 0 3-3v-5a3 3 0 0 0-6 0v5a3 3 0 0 0 3 3zM6 11.5a6 6 0 0 0 12 0M12 17.5V20',
  image: 'M4.5 5.5h15v13h-15zM4.5 15.5l4.5-4.5 4 4 2.5-2.5 4 4M15 9.5a1 1 0 1 0 0-.01',
  file: 'M6.5 3.5h7l4 4v13h-11zM13.5 3.5v4h4',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  alert: 'M12 4.5l8.5 15h-17zM12 10v4M12 16.8v.2',
  refresh: 'M19.5 12a7.5 7.5 0 1 1-2.2-5.3M19.5 4.5v4h-4',
  chart: 'M4.5 19.5h15M7 16v-4M11 16V8M15 16v-6M19 16V5.5',
  archive: 'M4 5h16v4H4zM5.5 9v10h13V9M10 13h4',
} as const;

export type IconName = keyof typeof PATHS;

/** Filled shapes for the player glyphs, strokes for the rest. */
const FILLED: ReadonlySet<IconName> = new Set(['play', 'pause', 'skip']);

export function icon(name: IconName, size = 20): SVGSVGElement {
  const filled = FILLED.has(name);
  return svg(
    'svg',
    {
      viewBox: '0 0 24 24',
      width: size,
      height: size,
      'aria-hidden': 'true',
      focusable: 'false',
      class: `icon icon-${name}`,
      fill: filled ? 'currentColor' : 'none',
      stroke: filled ? 'none' : 'currentColor',
      'stroke-width': 1.8,
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
    },
    svg('path', { d: PATHS[name] }),
  );
}

/** Replaces an element's icon, keeping its text (if any) after it. */
export function setIcon(el: Element, name: IconName, size?: number): void {
  el.querySelector(':scope > svg.icon')?.remove();
  el.prepend(icon(name, size));
}
