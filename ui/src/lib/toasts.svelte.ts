/** Notifications in the corner: deploy outcomes (from /api/events) and the results of actions. */
export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  title: string;
  message?: string;
  href?: string;
  linkText?: string;
}

let next = 1;
export const toasts = $state<Toast[]>([]);

export function toast(t: Omit<Toast, 'id'>, ms = t.kind === 'error' ? 12_000 : 6_000): void {
  const id = next++;
  toasts.push({ ...t, id });
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}
