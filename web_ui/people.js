// The People page: one face per person, the largest first, each name editable in place
// (a name someone else has offers to merge the two), merge and hide on every card, the
// hidden people one click away, and an Undo for the last correction. A person's page lists
// their faces the most doubtful first, each fixed from the keyboard: N "not them",
// M move to someone else, H hide (a stranger), arrows to move between faces.
import { api, el, plural, quoted, report, thumb, toast, withToken } from "./api.js";
import { correctionDone, pickPerson, undoLast } from "./person_picker.js";

function crop(faceId, label) {
  return el("img", { src: withToken(`/api/faces/${faceId}/crop`), alt: label,
    width: 96, height: 96, loading: "lazy" });
}

export class PeoplePage {
  enter() {
    const match = location.pathname.match(/^\/people\/([0-9a-f]{12})$/);
    if (match) return this.showPerson(match[1]);
    return this.showAll(new URLSearchParams(location.search).get("hidden") === "1");
  }

  onStatus() {}

  go(path) {
    history.pushState({}, "", path);
    this.enter();
  }

  root() { return document.getElementById("people"); }

  // The last correction, with a button that takes it back; nothing when there is none.
  undoButton(last, after) {
    if (!last) return null;
    return el("button", { type: "button", class: "quiet", "data-testid": "people-undo",
      onclick: async () => {
        try {
          const what = await undoLast();
          toast(`Undone: ${what}`, "info");
        } catch (err) {
          report(err);
        }
        after();
      } }, `Undo: ${last.what}`);
  }

  async showAll(hidden = false) {
    const root = this.root();
    root.setAttribute("aria-busy", "true");
    let result;
    try {
      result = await api(`/api/people${hidden ? "?hidden=1" : ""}`);
    } catch (err) {
      root.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    } finally {
      root.removeAttribute("aria-busy");
    }
    const s = result.summary;
    const again = () => this.showAll(hidden);
    const summary = el("p", { class: "summary", "data-testid": "people-summary" },
      hidden ? `${plural(result.people.length, "hidden person")}`
        : `${result.people.length} people · ${s.grouped} of ${s.faces} faces grouped` +
        (s.grouping.state === "running" ? " · grouping now…" : ""));
    const regroup = el("button", { type: "button", "data-testid": "regroup",
      onclick: async () => {
        try { await api("/api/people/regroup", { method: "POST" }); } catch { /* running */ }
        again();
      } }, "Group again");
    const toggle = el("a", { href: hidden ? "/people" : "/people?hidden=1",
      "data-testid": "people-hidden-link", onclick: (e) => {
        e.preventDefault(); this.go(hidden ? "/people" : "/people?hidden=1"); } },
    hidden ? "← Everyone shown" : "Hidden people");
    const cards = result.people.map((p) => this.card(p, again));
    root.replaceChildren(
      el("div", { class: "row" }, summary, regroup, toggle,
        this.undoButton(s.last_correction, again)),
      cards.length ? el("ul", { class: "people-grid", "data-testid": "people-grid" }, ...cards)
        : el("p", {}, hidden ? "Nobody is hidden." : s.faces ? "No face is grouped yet." :
          "No faces yet: they appear here as the faces stage reads your photos."));
  }

  card(person, again) {
    const label = person.name || "Unnamed";
    const input = el("input", { value: person.name || "", placeholder: "Add a name",
      "aria-label": `Name of ${label}, ${person.photos} photos`, "data-testid": "person-name",
      maxlength: 200 });
    input.addEventListener("change", () => this.rename(person, input, again));
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") input.blur(); });
    return el("li", { class: "person", "data-testid": "person", "data-id": person.id },
      el("a", { href: `/people/${person.id}`, "data-testid": "person-link",
        onclick: (e) => { e.preventDefault(); this.go(`/people/${person.id}`); } },
      person.cover ? crop(person.cover, label) : el("span", { class: "noface" }, "?")),
      input,
      el("small", {}, plural(person.photos, "photo")),
      el("div", { class: "row card-actions" },
        el("button", { type: "button", class: "quiet", "data-testid": "person-merge",
          "aria-label": `Merge… ${label} into another person`,
          onclick: () => this.merge(person, again) }, "Merge…"),
        el("button", { type: "button", class: "quiet", "data-testid": "person-hide",
          "aria-label": `${person.hidden ? "Show" : "Hide"} ${label}`,
          onclick: () => this.hide(person, !person.hidden, again) },
        person.hidden ? "Show" : "Hide")));
  }

  // A new name; one another person has offers to merge the two instead (names are unique).
  async rename(person, input, again) {
    const name = input.value.trim() || null;
    if (name === (person.name || null)) return;
    try {
      await api(`/api/people/${person.id}`, { method: "PUT", body: { name } });
      correctionDone(`Named ${name || "nobody"}`, again);
      person.name = name;
      input.classList.add("saved");
    } catch (err) {
      if (err.status === 409 && err.body.person) {
        if (confirm(`Someone else is already called ${name}. Merge ` +
          `${person.name || "this person"} into ${name}?`)) {
          await this.mergeInto(person, err.body.person, name, again);
        } else {
          input.value = person.name || "";
        }
        return;
      }
      input.setCustomValidity(err.message);
      input.reportValidity();
    }
  }

  async merge(person, again) {
    const choice = await pickPerson({ title: `Merge ${person.name || "this person"} into…`,
      face: person.cover, exclude: person.id, allowNew: false });
    if (choice && choice.person) await this.mergeInto(person, choice.person, choice.label, again);
  }

  async mergeInto(person, into, label, again) {
    try {
      await api(`/api/people/${person.id}/merge`, { method: "POST", body: { into } });
    } catch (err) {
      return report(err);
    }
    correctionDone(`Merged ${person.name || "a person"} into ${label}`, again);
    if (location.pathname === `/people/${person.id}`) this.go(`/people/${into}`);
    else again();
  }

  async hide(person, hidden, again) {
    try {
      await api(`/api/people/${person.id}`, { method: "PUT", body: { hidden } });
    } catch (err) {
      return report(err);
    }
    correctionDone(`${hidden ? "Hid" : "Showed"} ${person.name || "a person"}`, again);
    again();
  }

  async showPerson(id) {
    const root = this.root();
    let person;
    try {
      person = await api(`/api/people/${id}`);
    } catch (err) {
      root.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    const again = () => this.showPerson(id);
    const name = person.name || "Unnamed person";
    const list = el("ul", { class: "faces", "data-testid": "person-faces",
      "aria-label": `Faces of ${name}, the most doubtful first` });
    const faces = person.face_list.map((face) => this.faceItem(face, person, list, again));
    list.append(...faces);
    list.addEventListener("keydown", (e) => this.faceKeys(e, list, person, again));
    const input = el("input", { value: person.name || "", placeholder: "Add a name",
      "aria-label": `Name of ${name}`, "data-testid": "person-name", maxlength: 200 });
    input.addEventListener("change", () => this.rename(person, input, again));
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") input.blur(); });
    const photos = person.photo_ids.map((pid) => el("a", { href: `/?q=similar:${pid}`,
      class: "photo" }, el("img", { src: thumb(pid), alt: `a photo of ${name}`,
      loading: "lazy" })));
    root.replaceChildren(
      el("p", {}, el("a", { href: "/people", onclick: (e) => {
        e.preventDefault(); this.go("/people"); } }, "← All people")),
      el("h2", { "data-testid": "person-title" }, name),
      el("div", { class: "row" }, input,
        el("button", { type: "button", "data-testid": "person-merge",
          onclick: () => this.merge(person, again) }, "Merge into…"),
        el("button", { type: "button", "data-testid": "person-hide",
          onclick: () => this.hide(person, !person.hidden, again) },
        person.hidden ? "Show this person" : "Hide this person")),
      el("p", { class: "summary" }, `${person.faces} faces in ${person.photos} photos · `,
        el("a", { href: `/?q=${encodeURIComponent(`person:${quoted(person.name || person.id)}`)}` },
          "search their photos")),
      el("h3", {}, "Faces, the least alike first"),
      el("p", { class: "hint" }, "Tab to a face, then N: not them · M: someone else · " +
        "H: hide (a stranger) · arrows: the next face"),
      faces.length ? list : el("p", {}, "No faces left."),
      el("h3", {}, "Photos"),
      el("div", { class: "person-photos" }, ...photos));
  }

  faceItem(face, person, list, again) {
    const name = person.name || "this person";
    const likeness = face.likeness == null ? "" : ` ${Math.round(face.likeness * 100)} % alike`;
    const act = (what) => () => this.fixFace(face, person, what, list, again);
    return el("li", { class: "face", tabindex: "0", "data-testid": "person-face",
      "data-face": face.id, "aria-label": `a face of ${name},${likeness || " likeness unknown"}` },
    crop(face.id, `a face of ${name}`),
    el("small", { class: "likeness" }, likeness.trim()),
    el("div", { class: "row" },
      el("button", { type: "button", "data-testid": "not-this-person", tabindex: "-1",
        "aria-label": `Not them: this face is not ${name} (N)`, onclick: act("not") }, "Not them"),
      el("button", { type: "button", "data-testid": "move-face", tabindex: "-1",
        "aria-label": "Move… to someone else (M)", onclick: act("move") }, "Move…"),
      el("button", { type: "button", "data-testid": "hide-face", tabindex: "-1",
        "aria-label": "Hide this face (H)", onclick: act("hide") }, "Hide")));
  }

  faceKeys(e, list, person, again) {
    const items = [...list.querySelectorAll("li.face")];
    const at = items.indexOf(document.activeElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (step) {
      e.preventDefault();
      items[Math.max(0, Math.min(items.length - 1, at + step))].focus();
      return;
    }
    const what = { n: "not", m: "move", h: "hide" }[e.key.toLowerCase()];
    if (!what) return;
    e.preventDefault();
    const face = person.face_list.find((f) => f.id === items[at].dataset.face);
    if (face) this.fixFace(face, person, what, list, again);
  }

  // One face fixed: it leaves the list, the focus goes to the next one, an Undo is offered.
  async fixFace(face, person, what, list, again) {
    let body;
    let message;
    if (what === "not") {
      body = { person: null };
      message = `Not ${person.name || "this person"}`;
    } else if (what === "hide") {
      body = { hidden: true };
      message = "Face hidden";
    } else {
      const choice = await pickPerson({ face: face.id, current: person.id, exclude: person.id });
      if (!choice) return;
      body = choice.person ? { person: choice.person } : { name: choice.name };
      message = `Moved to ${choice.label}`;
    }
    try {
      await api(`/api/faces/${face.id}`, { method: "PUT", body });
    } catch (err) {
      return report(err);
    }
    const item = list.querySelector(`li[data-face="${face.id}"]`);
    const next = item && (item.nextElementSibling || item.previousElementSibling);
    if (item) item.remove();
    person.face_list = person.face_list.filter((f) => f.id !== face.id);
    if (next) next.focus();
    correctionDone(message, again);
  }
}

