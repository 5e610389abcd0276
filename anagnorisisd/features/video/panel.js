// The video feature's part of the panel: a clip's tile says it is one (▶ and its length,
// or LIVE), and the viewer plays it, from the moment a search found (at_s) when it has
// one. A codec the browser cannot play (HEVC in most browsers on Linux) is said in words,
// with the file offered, instead of a black box.

let panel = null;

const STYLE = `
.video-badge { position: absolute; top: 6px; right: 6px; background: #000b; color: #fff;
  font: 600 12px/1 system-ui, sans-serif; padding: 4px 6px; border-radius: 6px;
  pointer-events: none; }
.tile { position: relative; }
.video-player { max-width: 100%; max-height: 78vh; display: block; margin: 0 auto;
  background: #000; }
.video-note { margin: .5rem 0; }
`;

// What a browser is asked before it is handed the file: the codecs as RFC 6381 names them.
const CODECS = {
  h264: 'video/mp4; codecs="avc1.42E01E"', hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  vp9: 'video/webm; codecs="vp9"', vp8: 'video/webm; codecs="vp8"',
  av1: 'video/mp4; codecs="av01.0.05M.08"', mpeg4: 'video/mp4; codecs="mp4v.20.9"',
  mjpeg: "video/x-motion-jpeg",
};

export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function badges(result) {
  for (const item of result.items || []) {
    if (item.kind !== "video" && item.kind !== "live") continue;
    const tile = document.querySelector(`.tile[data-id="${item.id}"] .open`);
    if (!tile || tile.querySelector(".video-badge")) continue;
    const text = item.kind === "live" ? "LIVE" : `▶ ${clock(item.duration_s)}`;
    const at = item.at_s != null ? ` · at ${clock(item.at_s)}` : "";
    tile.append(panel.el("span", { class: "video-badge", "data-testid": "video-badge",
      title: item.kind === "live" ? "a Live Photo: its motion plays in the viewer"
        : `a video of ${clock(item.duration_s)}${at}` }, text + at));
  }
}

class Player {
  constructor() {
    this.image = document.getElementById("viewer-image");
    this.video = panel.el("video", { class: "video-player", "data-testid": "video-player",
      controls: "", playsinline: "", preload: "metadata", hidden: "" });
    this.note = panel.el("p", { class: "video-note error", "data-testid": "video-note",
      role: "status", hidden: "" });
    this.live = panel.el("button", { type: "button", "data-testid": "play-live", hidden: "",
      onclick: () => this.playMotion() }, "▶ Play the Live Photo");
    this.image.after(this.video);
    panel.addToViewer(panel.el("p", {}, this.live, this.note));
    this.video.addEventListener("error", () => this.cannot());
    this.video.addEventListener("ended", () => {
      if (this.item && this.item.kind === "live") this.showStill();
    });
  }

  show(item) {
    this.item = item;
    this.note.hidden = true;
    this.live.hidden = item.kind !== "live";
    if (item.kind === "video") this.play(item, item.at_s || 0, false);
    else this.showStill();
  }

  showStill() {
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.video.hidden = true;
    this.image.hidden = false;
  }

  playable(item) {
    const type = CODECS[item.codec];
    return !type || this.video.canPlayType(type) !== "";
  }

  play(item, at, autoplay) {
    if (!this.playable(item)) {
      this.showStill();
      this.cannot();
      return;
    }
    this.image.hidden = true;
    this.video.hidden = false;
    this.video.muted = autoplay;
    this.video.autoplay = autoplay;
    const url = panel.withToken(`/api/images/${item.id}/video`);
    this.video.src = at > 0 ? `${url}#t=${at.toFixed(2)}` : url;
  }

  playMotion() {
    this.play(this.item, 0, true);
  }

  cannot() {
    const item = this.item;
    if (!item) return;
    this.showStill();
    const name = (item.path || "").split("/").pop();
    this.note.replaceChildren(
      `This browser cannot play ${(item.codec || "this").toUpperCase()} video: the poster is `
      + "shown instead. ",
      panel.el("a", { href: panel.withToken(`/api/images/${item.id}/video`),
        download: name, "data-testid": "video-download" }, "Download the clip"),
      " to play it in a video player.");
    this.note.hidden = false;
  }
}

export async function register(api) {
  panel = api;
  document.head.append(panel.el("style", {}, STYLE));
  const player = new Player();
  panel.onViewerShown((item) => player.show(item));
  panel.onResultsShown((_q, result) => badges(result));
}
