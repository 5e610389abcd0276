// "Who is this?": one dialog for every place a face or a person is given to someone (the
// viewer's face boxes, a person's faces, a merge). Type to narrow the people (the ones
// worked on lately first, each with a face), arrows and Enter to choose, or type a new
// name. It answers {person}, {name}, {action: "not"|"hide"} or null (cancelled).
import { api, el, report, toast, withToken } from "./api.js";

const SHOWN = 12;

function crop(faceId, label, size = 40) {
  return faceId ? el("img", { src: withToken(`/api/faces/${faceId}/crop`), alt: label,
    width: size, height: size, loading: "lazy" }) : el("span", { class: "noface" }, "?");
}

function key(name) {
  return (name || "").trim().split(/\s+/).join(" ").toLowerCase();
}

// The order the picker offers people in: lately chosen first, then the largest.
function byRecent(a, b) {
  return (b.touched || 0) - (a.touched || 0) || b.faces - a.faces || a.id.localeCompare(b.id);
}

export async function loadPeople() {
  return (await api("/api/people")).people;
}

/**
 * Ask who a face (or a person) is.
 * options: {title, face (a face to show), current (its person's id), exclude (an id not
 * to offer), allowNew (a typed name may make a new person), actions (the extra buttons:
 * "not", "hide")}.
 */
export async function pickPerson({ title = "Who is this?", face = null, current = null,
  exclude = null, allowNew = true, actions = [] } = {}) {
  let people;
  try {
    people = (await loadPeople()).filter((p) => p.id !== exclude).sort(byRecent);
  } catch {
    people = [];
  }
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "picker", "data-testid": "person-picker",
      "aria-labelledby": "picker-title" });
    const input = el("input", { type: "text", "data-testid": "picker-input", role: "combobox",
      "aria-autocomplete": "list", "aria-expanded": "true", "aria-controls": "picker-list",
      "aria-label": "A person's name", placeholder: "Type a name", maxlength: 200,
      autocomplete: "off" });
    const list = el("ul", { id: "picker-list", role: "listbox", "aria-label": "People",
      "data-testid": "picker-list" });
    let options = [];
    let active = 0;
    let answered = false;

    const finish = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };

    const render = () => {
      const typed = key(input.value);
      const matching = people.filter((p) => !typed || key(p.name).includes(typed) ||
        (!p.name && "unnamed".startsWith(typed)));
      matching.sort((a, b) => (key(b.name).startsWith(typed) ? 1 : 0) -
        (key(a.name).startsWith(typed) ? 1 : 0));
      options = matching.slice(0, SHOWN).map((p) => ({ person: p.id, label: p.name ||
        "Unnamed person", detail: `${p.photos} photo${p.photos === 1 ? "" : "s"}`,
      photos: p.photos, cover: p.cover, mine: p.id === current }));
      const exact = people.find((p) => p.name && key(p.name) === typed);
      if (allowNew && typed && !exact) {  // after the people it may mean, never before
        options.push({ name: input.value.trim().split(/\s+/).join(" "),
          label: `New person “${input.value.trim()}”`, detail: "", cover: null });
      }
      active = Math.min(active, Math.max(0, options.length - 1));
      list.replaceChildren(...options.map((o, i) => el("li", { role: "option",
        id: `picker-option-${i}`, "aria-selected": String(i === active),
        "data-testid": "picker-option", class: i === active ? "active" : "",
        onmousedown: (e) => { e.preventDefault(); choose(i); } },
      o.cover !== undefined && o.person ? crop(o.cover, "") : el("span", { class: "noface" }, "+"),
      el("span", {}, o.label, o.mine ? " (now)" : ""), el("small", {}, o.detail))));
      if (options.length) input.setAttribute("aria-activedescendant", `picker-option-${active}`);
      else input.removeAttribute("aria-activedescendant");
    };

    const choose = (i) => {
      const o = options[i];
      if (!o) return;
      const typed = Boolean(input.value.trim());  // named by typing, not only by a click
      finish(o.person ? { person: o.person, label: o.label, photos: o.photos, typed }
        : { name: o.name, label: o.name });
    };

    input.addEventListener("input", () => { active = 0; render(); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") active = Math.min(options.length - 1, active + 1);
      else if (e.key === "ArrowUp") active = Math.max(0, active - 1);
      else if (e.key === "Enter") { e.preventDefault(); choose(active); return; }
      else return;
      e.preventDefault();
      render();
    });
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });

    const extra = {
      not: el("button", { type: "button", "data-testid": "picker-not",
        onclick: () => finish({ action: "not" }) }, "Not this person"),
      hide: el("button", { type: "button", "data-testid": "picker-hide",
        onclick: () => finish({ action: "hide" }) }, "Hide this face (a stranger)"),
    };
    dialog.append(
      el("h2", { id: "picker-title" }, title),
      face ? el("div", { class: "picker-face" }, crop(face, "the face asked about", 96)) : "",
      el("label", { class: "sr-only", for: "picker-input" }, "A person's name"), input, list,
      el("div", { class: "row" }, ...actions.map((a) => extra[a]).filter(Boolean),
        el("button", { type: "button", class: "quiet", "data-testid": "picker-cancel",
          onclick: () => finish(null) }, "Cancel")));
    input.id = "picker-input";
    document.body.append(dialog);
    render();
    dialog.showModal();
    input.focus();
  });
}

// Undo the last correction (POST /api/people/undo); what it was.
export async function undoLast() {
  const done = await api("/api/people/undo", { method: "POST" });
  return done.undone;
}

// A correction made: said in one line with an Undo; `after` redraws what it changed.
export function correctionDone(message, after) {
  toast(message, "info", { label: "Undo", run: async () => {
    try {
      const what = await undoLast();
      toast(`Undone: ${what}`, "info");
    } catch (err) {
      report(err);
    }
    await after();
  } });
}

/**
 * Give a face to whoever the picker answered; true if something changed. A name some
 * person already has puts the face with that person, after one confirmation when that
 * person has other faces.
 */
export async function giveFace(face, choice) {
  if (!choice) return false;
  if (choice.action === "not") {
    await api(`/api/faces/${face.id}`, { method: "PUT", body: { person: null } });
    return true;
  }
  if (choice.action === "hide") {
    await api(`/api/faces/${face.id}`, { method: "PUT", body: { hidden: true } });
    return true;
  }
  if (choice.person) {
    if (choice.person === face.person) return false;
    if (choice.typed && choice.photos && !confirm(`${choice.label} is already in ` +
      `${choice.photos} photo${choice.photos === 1 ? "" : "s"}. Put this face with them?`)) {
      return false;
    }
    await api(`/api/faces/${face.id}`, { method: "PUT", body: { person: choice.person } });
    return true;
  }
  await api(`/api/faces/${face.id}`, { method: "PUT", body: { name: choice.name } });
  return true;
}
