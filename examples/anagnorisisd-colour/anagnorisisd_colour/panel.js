// The colour feature's part of the panel: a swatch per colour of the library, with its
// count; a click searches for it. Loaded by name (Feature.panel), handed the panel's API.
const SWATCH = { red: "#d62828", orange: "#f77f00", yellow: "#fcbf49", green: "#2a9d8f",
  cyan: "#48cae4", blue: "#1d4ed8", purple: "#7b2cbf", pink: "#f472b6", brown: "#7f4f24",
  black: "#111111", white: "#f8f8f8", grey: "#8d99ae" };

export async function register(panel) {
  const { colors } = await panel.api("/api/colors");
  const row = document.createElement("div");
  row.className = "colour-swatches";
  row.setAttribute("data-testid", "colour-swatches");
  for (const { name, count } of colors) {
    const button = document.createElement("button");
    button.type = "button";
    button.title = `${count} photos with ${name} in them`;
    button.setAttribute("aria-label", `Photos with ${name} (${count})`);
    button.setAttribute("data-testid", `colour-${name}`);
    button.style.borderLeft = `1.2em solid ${SWATCH[name] || "#888"}`;
    button.textContent = `${name} ${count}`;
    button.addEventListener("click", () => panel.search(`color:${name}`));
    row.append(button);
  }
  panel.addToSearchBar(row);
}
