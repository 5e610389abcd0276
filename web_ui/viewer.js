// The full-size view: arrows move, digits rate (+ for 10), Esc closes; ratings save at once.
import { tell } from "./hooks.js";
import { api, el, file, plural, preview, report, thumb } from "./api.js";
import { trashWithUndo } from "./cull.js";
import { correctionDone, giveFace, pickPerson } from "./person_picker.js";
import { TextLines } from "./text_lines.js";

export class Viewer {
  constructor(page) {
    this.page = page;
    this.index = 0;
    this.dialog = document.getElementById("viewer");
    const bar = document.getElementById("rating-bar");
    for (let v = 0; v <= 10; v++) {
      bar.append(el("button", { type: "button", "data-testid": `rate-${v}`,
        onclick: () => this.rate(v) }, String(v)));
    }
    document.getElementById("viewer-close").onclick = () => this.close();
    document.getElementById("viewer-prev").onclick = () => this.move(-1);
    document.getElementById("viewer-next").onclick = () => this.move(1);
    document.getElementById("viewer-similar").onclick = () => {
      const id = this.item.id;
      this.close();
      page.navigate({ q: `similar:${id}`, page: 1 });
    };
    document.getElementById("viewer-explain").onclick = () => this.explain();
    document.getElementById("viewer-mark").onclick = () => this.markConcept();
    document.getElementById("viewer-open").onclick = async () => {
      try {
        const result = await api(`/api/images/${this.item.id}/reveal`, { method: "POST" });
        document.getElementById("viewer-title").textContent = result.opened
          ? `Opened the folder of ${result.path}` : `${result.path} (${result.message})`;
      } catch (err) {
        report(err);
      }
    };
    document.getElementById("viewer-delete").onclick = () => this.trash();
    this.faces = new FaceBoxes(document.getElementById("viewer-image"),
      document.getElementById("viewer-faces"));
    this.text = new TextLines(document.getElementById("viewer-image"),
      document.getElementById("viewer-text"), document.getElementById("viewer-lines"));
    this.dialog.addEventListener("keydown", (e) => this.key(e));
    this.dialog.addEventListener("close", () => page.load());
  }

  get item() { return this.page.items[this.index]; }

  open(index) {
    this.index = index;
    this.show();
    if (!this.dialog.open) this.dialog.showModal();
  }

  close() { this.dialog.close(); }

  move(step) {
    const next = this.index + step;
    if (next >= 0 && next < this.page.items.length) {
      this.index = next;
      this.show();
    }
  }

  show() {
    const item = this.item;
    document.getElementById("viewer-image").src =
      preview(item.id, Math.max(window.innerWidth, window.innerHeight));
    const download = document.getElementById("viewer-download");
    download.href = file(item.id);
    download.setAttribute("download", (item.path || "").split("/").pop());
    document.getElementById("viewer-title").textContent =
      `${item.path} · ${item.width}×${item.height}` +
      (item.model_rating != null ? ` · model rates it ${item.model_rating.toFixed(1)}` : "");
    document.getElementById("viewer-info").textContent = photoInfo(item);
    document.getElementById("viewer-tags").textContent = tagLine(item);
    document.getElementById("viewer-explanation").hidden = true;
    this.markRating(item.user_rating);
    this.faces.show(item);
    this.text.show(item);
    tell("viewerShown", item);
  }

  // "This is Rex": the photo becomes one of the chosen concept's examples.
  async markConcept() {
    const select = document.getElementById("viewer-concept");
    const item = this.item;
    if (!select.value) return;
    try {
      await api(`/api/concepts/${select.value}/answers`,
        { method: "POST", body: { images: [item.id], answer: "yes" } });
      const name = select.selectedOptions[0].text;
      item.tags = [...(item.tags || []).filter((t) => t.name !== name),
        { name, source: "concept" }];
      item.suggested_tags = (item.suggested_tags || []).filter((n) => n !== name);
      document.getElementById("viewer-tags").textContent = tagLine(item);
    } catch (err) {
      report(err);
    }
  }

  markRating(value) {
    document.querySelectorAll("#rating-bar button").forEach((b, v) => {
      b.classList.toggle("on", value !== null && value !== undefined && Math.round(value) === v);
    });
  }

  async rate(value) {
    const item = this.item;
    try {
      const updated = value === null
        ? await api(`/api/images/${item.id}/rating`, { method: "DELETE" })
        : await api(`/api/images/${item.id}/rating`, { method: "PUT", body: { rating: value } });
      item.user_rating = updated.user_rating;
      this.markRating(item.user_rating);
    } catch (err) {
      report(err);  // not saved, and said so: the bar keeps showing the stored rating
    }
  }

  key(e) {
    if (e.key === "ArrowRight") this.move(1);
    else if (e.key === "ArrowLeft") this.move(-1);
    else if (/^[0-9]$/.test(e.key)) this.rate(Number(e.key));
    else if (e.key === "+" || e.key === "=") this.rate(10);
    else if (e.key === "Delete" || e.key === "Backspace") this.rate(null);
    else if (e.key === "f" || e.key === "F") this.faces.toggle();
    else if (e.key === "t" || e.key === "T") this.text.toggle();
    else return;
    e.preventDefault();
  }

  async explain() {
    const box = document.getElementById("viewer-explanation");
    box.hidden = false;
    box.replaceChildren(el("p", { role: "status" }, "Finding the rated images it resembles…"));
    let why;
    try {
      why = await api(`/api/images/${this.item.id}/explain`);
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, err.message));
      return;
    }
    box.replaceChildren(
      el("p", {}, why.model_rating == null ? "No model rating yet: rate some images and train."
        : `The model rates it ${why.model_rating.toFixed(1)} because it looks like these, which you rated:`),
      ...why.neighbours.map((n) => el("figure", {},
        el("img", { src: thumb(n.id), alt: (n.path || "").split("/").pop() }),
        el("figcaption", {}, `you: ${n.user_rating} · ${(n.similarity * 100).toFixed(0)}% alike`))));
  }

  async trash() {
    const item = this.item;
    const files = (item.paths || [item.path]).map((path) => ({ id: item.id, path }));
    if (!confirm(`Move ${files.map((f) => f.path).join(", ")} to the system trash? You can undo this.`)) return;
    try {
      await trashWithUndo(files, plural(files.length, "file") + " from the viewer");
    } catch (err) {
      return report(err);
    }
    this.page.refreshWanted = true;
    this.page.items.splice(this.index, 1);
    if (!this.page.items.length) return this.close();
    this.index = Math.min(this.index, this.page.items.length - 1);
    this.show();
  }
}

const SOURCES = { "exif": "", "xmp": " (from XMP)", "exif-modified": " (edit time in EXIF)",
  "file-modified": " (file time: no capture date)" };

/** One line of when, with what and where, from the metadata stage's fields. */
export function photoInfo(item) {
  const parts = [];
  if (item.taken_at) {
    parts.push(item.taken_at.replace("T", " ") + (item.taken_offset ? ` ${item.taken_offset}` : "") +
      (SOURCES[item.taken_source] ?? ""));
  }
  const camera = [item.camera, item.lens].filter(Boolean).join(" · ");
  if (camera) parts.push(camera);
  const shot = [];
  if (item.focal_length) shot.push(`${Math.round(item.focal_length)} mm`);
  if (item.f_number) shot.push(`f/${item.f_number}`);
  if (item.exposure) shot.push(item.exposure < 1 ? `1/${Math.round(1 / item.exposure)} s` : `${item.exposure} s`);
  if (item.iso) shot.push(`ISO ${item.iso}`);
  if (shot.length) parts.push(shot.join(" "));
  if (item.place) parts.push(item.place);
  else if (item.gps) parts.push(`${item.gps[0]}, ${item.gps[1]}`);
  const size = item.file_size != null ? `${(item.file_size / 1e6).toFixed(1)} MB` : "";
  if (size) parts.push(`${item.format || ""} ${size}`.trim());
  return parts.join("  ·  ");
}

/** Its tags (a hierarchy as Places › Europe › Lisbon) and the concepts suggesting it. */
export function tagLine(item) {
  const tags = (item.tags || []).map((t) => t.name.split("|").join(" › "));
  const suggested = (item.suggested_tags || []).map((name) => `${name}?`);
  return [tags.length ? `Tags: ${tags.join(", ")}` : "",
    suggested.length ? `Perhaps: ${suggested.join(", ")}` : ""].filter(Boolean).join("  ·  ");
}

/** Face boxes over the viewer's photo, on request (the Faces button or F): each a button
 * with the person's name; a click names the person, or makes one of an unnamed face. */
class FaceBoxes {
  constructor(image, button) {
    this.image = image;
    this.button = button;
    this.on = false;
    this.item = null;
    this.layer = el("div", { class: "face-layer", "data-testid": "face-layer" });
    image.after(this.layer);
    button.onclick = () => this.toggle();
    image.addEventListener("load", () => this.place());
    new ResizeObserver(() => this.place()).observe(image);
  }

  toggle() {
    this.on = !this.on;
    this.button.setAttribute("aria-pressed", String(this.on));
    this.show(this.item);
  }

  async show(item) {
    this.item = item;
    this.layer.replaceChildren();
    this.found = [];
    if (!this.on || !item) return;
    try {
      this.found = (await api(`/api/images/${item.id}/faces`)).faces;
    } catch (err) {
      return report(err);
    }
    if (this.item !== item) return;  // moved on meanwhile
    // a video's faces were found in its scenes: each is a chip with its second, not a box
    this.layer.replaceChildren(...this.found.map((face) => el("button", {
      type: "button", class: face.at_s == null ? "face-box" : "face-box at-time",
      "data-testid": "face-box", "data-face": face.id,
      "aria-label": face.name ? `Face of ${face.name}: who is this?` : "Unnamed face: who is this?",
      onclick: () => this.name(face) }, el("span", {}, (face.name || "?") +
        (face.at_s == null ? "" : ` · ${Math.floor(face.at_s / 60)}:` +
          String(Math.floor(face.at_s % 60)).padStart(2, "0"))))));
    this.place();
  }

  // Boxes are in pixels of the upright photo at full size; the image shows it whole.
  place() {
    const { item, image } = this;
    if (!item || !item.width || !item.height) return;
    const sx = image.clientWidth / item.width, sy = image.clientHeight / item.height;
    [...this.layer.children].forEach((node, i) => {
      if (this.found[i].at_s != null) return;
      const [x1, y1, x2, y2] = this.found[i].box;
      Object.assign(node.style, { left: `${image.offsetLeft + x1 * sx}px`,
        top: `${image.offsetTop + y1 * sy}px`, width: `${(x2 - x1) * sx}px`,
        height: `${(y2 - y1) * sy}px` });
    });
  }

  // "Who is this?": the picker, never a rename of the whole person (the People page does
  // that, explicitly). Each correction says what it did, with an Undo.
  async name(face) {
    const choice = await pickPerson({ face: face.id, current: face.person,
      title: face.name ? `Who is this? (now: ${face.name})` : "Who is this?",
      actions: face.person ? ["not", "hide"] : ["hide"] });
    try {
      if (!(await giveFace(face, choice))) return;
    } catch (err) {
      return report(err);
    }
    await this.show(this.item);
    const now = this.found.find((f) => f.id === face.id);
    correctionDone(choice.action === "not" ? `Taken away from ${face.name || "that person"}`
      : choice.action === "hide" ? "Face hidden"
        : `This is ${now && now.name ? now.name : "someone new"}`, () => this.show(this.item));
  }
}
