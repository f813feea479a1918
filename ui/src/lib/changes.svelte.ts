/**
 * What changed elsewhere, as the layout hears it on /api/events: pages that show apps reload when a deploy,
 * rollback or restart finishes, wherever it was started, instead of waiting for their next timer.
 */
export const changes = $state({ deploysFinished: 0 });
