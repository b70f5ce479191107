/*
 * lstmviz dashboard: draws the character view in the browser from compact arrays.
 *
 * The server sends two small stores (app/callbacks/view.py): the window's symbols and top-5
 * guesses, and one neuron's values as palette indices. Building thousands of cells here, in one
 * innerHTML assignment, keeps a page of 2,000 characters with strips responsive; building them as
 * Dash components on the server would not. Hover and click details are UI-only and never reach
 * the server; the keyboard shortcuts and the unit and page step buttons set the unit and
 * position boxes.
 */
(function () {
  "use strict";

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);

  // The drawing on screen, for the details box; replaced on every render.
  let shown = null;
  let pinned = false;

  function colour(table, k) {
    return k < 0 ? ["#ffffff", "#000000"] : [table.bg[k], table.fg[k]];
  }

  // Inline style of a cell, as lstmviz/render/html.py writes it: text colour only where it is not ink.
  function style(table, k) {
    const [bg, fg] = colour(table, k);
    return "background-color:" + bg + (fg === "#000000" ? "" : ";color:" + fg);
  }

  // Display lines, exactly as lstmviz.render.snippet.wrap splits them: after each newline, and at
  // `width` columns after the last space (hard at `width` when there is none).
  function wrap(chars, width) {
    const n = chars.length;
    const lines = [];
    let a = 0;
    while (a < n) {
      const limit = width === 0 ? n : Math.min(n, a + width);
      let b = a;
      while (b < limit && chars[b] !== "\n") b++;
      let end;
      if (b < limit) end = b + 1;
      else if (limit === n) end = n;
      else if (chars[limit] === "\n" || chars[limit] === " ") end = limit + 1;
      else {
        let space = -1;
        for (let j = limit - 1; j > a; j--) {
          if (chars[j] === " ") {
            space = j;
            break;
          }
        }
        end = space < 0 ? limit : space + 1;
      }
      lines.push([a, end]);
      a = end;
    }
    return lines;
  }

  // The figure, in the markup of lstmviz/render/html.py (styled by lstmviz.render.style.stylesheet), plus the
  // dashboard's own marks: the true next character among the guesses, a row for misses, and
  // the highlighted find match.
  function drawText(win, vals, view, cfg, width) {
    const lut = cfg.luts[vals.palette] || cfg.luts.blog;
    const strip = cfg.luts.strip;
    const grid = win.fixed;
    const markA = view.mark;
    const markB = view.mark + view.mark_len;
    const out = ['<div class="lv-text', grid ? " lv-grid lv-gap" : "", '">'];
    for (const [a, b] of wrap(win.chars, width)) {
      out.push('<div class="lv-group"><div class="lv-band" data-neuron="', esc(vals.neuron), '">');
      for (let i = a; i < b; i++) {
        const pos = win.start + i;
        const cls = "lv-ch" + (win.faint[i] === "1" ? " lv-ws" : "") + (pos >= markA && pos < markB ? " lv-mark" : "");
        out.push('<span class="', cls, '" data-i="', pos, '" style="', style(lut, vals.idx[i]), '">',
          esc(win.labels[i]), "</span>");
      }
      out.push("</div>");
      if (grid) {
        for (let r = 0; r < win.guesses; r++) {
          out.push('<div class="lv-strip" data-rank="', r + 1, '">');
          for (let i = a; i < b; i++) {
            const k = i * win.guesses + r;
            const id = win.top[k];
            out.push('<span class="lv-p', id === win.next[i] ? " lv-hit" : "", '" style="', style(strip, win.shade[k]),
              '">', esc(win.vocab[id]), "</span>");
          }
          out.push("</div>");
        }
        out.push('<div class="lv-strip lv-misses">');
        for (let i = a; i < b; i++) {
          const next = win.next[i];
          let hit = next < 0;
          for (let r = 0; r < win.guesses && !hit; r++) hit = win.top[i * win.guesses + r] === next;
          out.push(hit ? '<span class="lv-p"></span>' : '<span class="lv-p lv-miss">' + esc(win.vocab[next]) + "</span>");
        }
        out.push("</div>");
      }
      out.push("</div>");
    }
    out.push("</div>");
    return out.join("");
  }

  // The colour scales, as lstmviz/render/html.py draws its legend: swatches sampled across the range.
  // The ends are labelled with lstmviz.render.style.tick's text, sent by the server (vals.ticks), since
  // JavaScript writes numbers differently (6000 where Python's "%.3g" gives 6e+03).
  function drawLegend(vals, view, cfg) {
    const legend = document.getElementById(cfg.legend);
    if (!legend) return;
    const n = cfg.swatches;
    const scale = (name, lo, hi, table) => {
      const keys = [];
      for (let k = 0; k < n; k++) {
        const idx = Math.min(255, Math.floor(((k + 0.5) / n) * 256));
        keys.push('<span class="lv-key" style="background-color:' + table.bg[idx] + '"></span>');
      }
      return '<div class="lv-scale"><span class="lv-scale-name">' + esc(name) + "</span> <span>" + esc(lo) +
        "</span> " + keys.join("") + " <span>" + esc(hi) + "</span></div>";
    };
    const rows = [scale(vals.label, vals.ticks[0], vals.ticks[1], cfg.luts[vals.palette] || cfg.luts.blog)];
    if (view.mode === "grid") {
      // "0" and "1" are look.tick(0.0) and look.tick(1.0), the ends of every export's strip scale.
      rows.push(scale("top-5 predictions: probability", "0", "1", cfg.luts.strip) +
        '<div class="lv-scale lv-scale-note"><span class="lv-p lv-hit">a</span> the true next character · ' +
        '<span class="lv-p lv-miss">a</span> missed: the true next character was not among the top 5</div>');
    }
    legend.innerHTML = '<div class="lv-legend">' + rows.join("") + "</div>";
  }

  function columns(host, view, cfg) {
    const inner = host.clientWidth - 2 * cfg.pad_px - 2;
    const px = view.mode === "grid" ? cfg.col_px : cfg.char_px;
    return Math.max(10, Math.floor(inner / px));
  }

  // Draws the figure; returns what it shows, with the columns it wrapped at, for the Export and
  // copy buttons (app/callbacks/exporting.py), which write the same lines.
  function draw() {
    const { win, vals, view, cfg } = shown;
    const host = document.getElementById(cfg.grid);
    if (!host) return null;
    const width = columns(host, view, cfg);
    host.innerHTML = '<div class="lv-snippet lv-view lv-' + esc(view.mode) + '" data-start="' + win.start +
      '" data-stop="' + win.stop + '" data-neuron="' + esc(vals.neuron) + '" data-palette="' + esc(vals.palette) +
      '" data-width="' + width + '">' + drawText(win, vals, view, cfg, width) + "</div>";
    drawLegend(vals, view, cfg);
    return { start: win.start, stop: win.stop, neuron: vals.neuron, mode: view.mode, width: width };
  }

  function render(win, vals, view, cfg) {
    const noUpdate = window.dash_clientside.no_update;
    if (!win || !vals || !view || !cfg) return noUpdate;
    if (vals.start !== win.start || vals.stop !== win.stop) return noUpdate; // mid-update
    if (win.fixed !== (view.mode === "grid")) return noUpdate;
    shown = { win: win, vals: vals, view: view, cfg: cfg };
    pinned = false;
    hideTip();
    return draw() || noUpdate;
  }

  let resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      const drawn = shown && draw();
      if (drawn && shown.cfg.rendered) window.dash_clientside.set_props(shown.cfg.rendered, { data: drawn });
    }, 150);
  });

  // ---- details box -------------------------------------------------------------------------

  function tipElement() {
    let tip = document.getElementById("lv-tip");
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "lv-tip";
      tip.className = "lv-tip";
      tip.setAttribute("role", "tooltip");
      tip.hidden = true;
      document.body.appendChild(tip);
    }
    return tip;
  }

  function hideTip() {
    const tip = document.getElementById("lv-tip");
    if (tip) tip.hidden = true;
  }

  const num = (v, d) => (v === null || v === undefined ? "–" : v.toFixed(d));
  const DISPLAY = { tanh: Math.tanh }; // the display functions of lstmviz/kinds.py, by name

  function details(pos) {
    const { win, vals } = shown;
    const i = pos - win.start;
    const v = vals.values[i];
    const next = win.next[i];
    const rows = [];
    for (let j = 0; j < win.guesses; j++) {
      const id = win.top[i * win.guesses + j];
      rows.push("<tr" + (id === next ? ' class="lv-hit"' : "") + "><td>" + esc(win.vocab[id]) + "</td><td>" +
        (100 * win.p[i * win.guesses + j]).toFixed(2) + "%</td><td>" + (id === next ? "✓ true next" : "") + "</td></tr>");
    }
    const name = esc(vals.kind_label);
    const value = vals.display
      ? name + " = " + num(v, 4) + ", " + esc(vals.display) + "(" + name + ") = " +
        num(v === null ? null : DISPLAY[vals.display](v), 4)
      : "value " + num(v, 4);
    const nextLine = next < 0
      ? "end of text: no next character"
      : "next " + esc(win.vocab[next]) + ": p = " + num(win.p_next[i], 4) + ", loss " + num(win.bits[i], 3) +
        " bits (" + num(win.nats[i], 3) + " nats)";
    return '<div class="lv-tip-head">position ' + pos.toLocaleString("en") + " · " +
      esc(win.labels[i]) + "</div><div>" + esc(vals.neuron) + ": " + value + "</div><div>" + nextLine +
      '</div><table class="lv-tip-top"><tbody>' + rows.join("") + "</tbody></table>" +
      (pinned ? '<div class="lv-tip-foot">pinned · click again or Esc to close</div>' : "");
  }

  function showTip(cell, event) {
    if (!shown) return;
    const pos = Number(cell.dataset.i);
    const tip = tipElement();
    tip.innerHTML = details(pos);
    tip.dataset.pos = String(pos);
    tip.hidden = false;
    const pad = 14;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    let x = event.clientX + pad;
    let y = event.clientY + pad;
    if (x + w > window.innerWidth) x = Math.max(0, event.clientX - w - pad);
    if (y + h > window.innerHeight) y = Math.max(0, event.clientY - h - pad);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }

  function cellOf(target) {
    return target && target.closest ? target.closest(".lv-view .lv-ch[data-i]") : null;
  }

  document.addEventListener("mouseover", function (e) {
    const cell = cellOf(e.target);
    if (cell && !pinned) showTip(cell, e);
  });
  document.addEventListener("mouseout", function (e) {
    if (!pinned && cellOf(e.target) && !cellOf(e.relatedTarget)) hideTip();
  });
  document.addEventListener("click", function (e) {
    const cell = cellOf(e.target);
    if (!cell) {
      if (pinned && !e.target.closest(".lv-tip")) {
        pinned = false;
        hideTip();
      }
      return;
    }
    const tip = tipElement();
    const same = !tip.hidden && tip.dataset.pos === cell.dataset.i;
    pinned = !(pinned && same);
    if (pinned) showTip(cell, e);
    else hideTip();
  });

  // ---- keys ------------------------------------------------------------------------------------

  // The focused element keeps the keys only where they type (text and number boxes) or move
  // through an open dropdown's options. On radios, checkboxes, buttons and the slider the
  // dashboard's keys win over the element's own arrow keys.
  const TEXT_INPUTS = /^(text|search|number|email|url|tel|password)$/;

  function typing(el) {
    if (!el || !el.closest) return false;
    if (el.closest('[role="dialog"]')) return true; // an open dropdown
    if (el.tagName === "INPUT") return !el.readOnly && TEXT_INPUTS.test(el.type);
    return el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT";
  }

  // [ ] and ← → (and the step buttons, below) set the unit or position box, as typing a number
  // there would, counting from the box's value at once rather than from the view the server last
  // sent, so that steps taken while the server is still answering add up. (Steps sent to the
  // server would not: each would be a step from the view before it, and Dash drops a call that a
  // newer call of the same callback overtakes.) A box value the file lacks (typed, not yet refused
  // by the server) counts as the view's.
  function setBox(id, from, last, next) {
    const value = window.dash_component_api.getLayout(id).props.value;
    const ok = Number.isInteger(value) && value >= 0 && value <= last;
    window.dash_clientside.set_props(id, { value: next(ok ? value : from) });
  }

  function stepUnit(by) {
    const n = shown.vals.n_hidden;
    setBox(shown.cfg.unit, shown.vals.unit, n - 1, (unit) => (unit + by + n) % n);
  }

  function stepPage(by) {
    const { pos, length } = shown.view;
    const n = shown.win.n_tokens;
    const last = Math.max(0, n - length); // the last page ends at the end of the text
    setBox(shown.cfg.position, pos, n - 1, (start) => Math.min(Math.max(0, start + by * length), last));
  }

  function focusFind() {
    const find = document.getElementById(shown.cfg.find);
    if (find) {
      find.focus();
      find.select();
    }
  }

  const KEYS = {
    "[": () => stepUnit(-1),
    "]": () => stepUnit(1),
    ArrowLeft: () => stepPage(-1),
    ArrowRight: () => stepPage(1),
    "/": focusFind,
  };

  // Capture phase: the dashboard sees the key before the focused control (the slider moves on
  // arrow keys in its own handler) and keeps it from it.
  window.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") {
      pinned = false;
      hideTip();
    }
    const action = KEYS[e.key];
    if (!action || !shown || typing(e.target)) return;
    e.preventDefault();
    e.stopPropagation();
    action();
  }, true);

  // The unit and page step buttons do what their keys do, so quick clicks add up as quick presses
  // do. Capture phase, and stopped here: the click never reaches the button's own handler, whose
  // n_clicks would send the server a step from the view it last sent. Before the first drawing
  // (nothing shown yet) clicks go to the server as they are.
  window.addEventListener("click", function (e) {
    if (!shown || !e.target.closest) return;
    const button = e.target.closest("button[id]");
    const key = button && shown.cfg.steps[button.id];
    if (!key) return;
    e.preventDefault();
    e.stopPropagation();
    pinned = false; // as any click outside the details box does
    hideTip();
    KEYS[key]();
  }, true);

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    lstmviz: Object.assign({}, (window.dash_clientside || {}).lstmviz, { render: render }),
  });
})();
