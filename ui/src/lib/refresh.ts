/**
 * For `onMount`: loads now and again every `ms` while the page or card is shown; the returned function
 * (onMount's cleanup) stops it.
 */
export function refreshEvery(load: () => unknown, ms: number): () => void {
  void load();
  const timer = setInterval(load, ms);
  return () => clearInterval(timer);
}
