// Where a feature's panel module hears what the built-in pages do: a photo shown in the
// viewer, a page of results drawn. Each listener is guarded: one that throws costs itself.
// A feature's module loads after the first page of results may have been drawn, so a
// listener added late hears the last page drawn at once (`follow`).
export const hooks = { viewerShown: [], resultsShown: [] };
const last = {};

export function tell(name, ...args) {
  if (name === "resultsShown") last[name] = args;
  for (const listener of hooks[name]) call(name, listener, args);
}

export function follow(name, listener) {
  hooks[name].push(listener);
  if (last[name]) call(name, listener, last[name]);
}

function call(name, listener, args) {
  try {
    listener(...args);
  } catch (err) {
    console.warn(`a ${name} listener failed`, err);
  }
}
