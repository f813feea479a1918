/**
 * Notifications: deploy outcomes (from /api/events) and the results of actions. At most three show at
 * once, in the corner, and fade after a few seconds (errors stay longer); every one also goes to the
 * bell's list of recent ones, so nothing is lost by fading.
 */
export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  title: string;
  message?: string;
  href?: string;
  linkText?: string;
  /** When it was raised (ms). */
  at: number;
}

const SHOWN = 3;
const KEPT = 20;

let next = 1;
export const toasts = $state<Toast[]>([]);
/** The bell: newest first, and how many arrived since it was last opened. */
export const recent = $state<{ list: Toast[]; unseen: number }>({ list: [], unseen: 0 });

export function toast(t: Omit<Toast, 'id' | 'at'>, ms = t.kind === 'error' ? 10_000 : 4_000): void {
  const raised: Toast = { ...t, id: next++, at: Date.now() };
  toasts.push(raised);
  // A burst never buries the page: the oldest shown goes to the bell at once.
  while (toasts.length > SHOWN) toasts.shift();
  recent.list.unshift(raised);
  recent.list.splice(KEPT);
  recent.unseen++;
  setTimeout(() => dismiss(raised.id), ms);
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

export function seen(): void {
  recent.unseen = 0;
}
