// Where a feature's panel module hears what the built-in pages do: a photo shown in the
// viewer, a page of results drawn. Each listener is guarded: one that throws costs itself.
export const hooks = { viewerShown: [], resultsShown: [] };

export function tell(name, ...args) {
  for (const listener of hooks[name]) {
    try {
      listener(...args);
    } catch (err) {
      console.warn(`a ${name} listener failed`, err);
    }
  }
}
