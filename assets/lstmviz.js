/*
 * lstmviz dashboard: draws the character view in the browser from compact arrays.
 *
 * The controller's reply (app/control.py) carries the window's symbols and top-5 guesses when
 * the window moved, and one neuron's values as palette indices when they changed. Building
 * thousands of cells here, in one innerHTML assignment, keeps a page of 2,000 characters with
 * strips responsive; a step through units only recolours the cells already drawn. Every jump
 * (a context, a ranked unit, a place, a find match, a typed position) scrolls its mark into view
 * and flashes it. The panels' lists and tables (data-list, data-table: contexts, ranked units,
 * places found by example) and the profile's histogram (data-hist) are drawn here from compact
 * data, each snippet coloured with the palette on screen; a click on an item copies its data-jump
 * into the JUMP store. A drag over the text selects a span for the search by example. Hover and click details are UI-only and never reach the server; the keyboard shortcuts
 * and the unit and page step buttons set the unit and position boxes.
 */
(function () {
  "use strict";

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);
  const SVG = "http://www.w3.org/2000/svg";

  // The drawing on screen, for recolouring, the details box and jumps; replaced on every render.
  let shown = null;
  let pinned = false;
  let stepping = false; // the next new window comes from a page step (keys, buttons): no flash
  let jumps = 0;

  function colour(table, k) {
    return k < 0 ? ["#ffffff", "#000000"] : [table.bg[k], table.fg[k]];
  }

  // Inline style of a cell, as lstmviz/render/html.py writes it: text colour only where it is not ink.
  function style(table, k) {
    const [bg, fg] = colour(table, k);
    return "background-color:" + bg + (fg === "#000000" ? "" : ";color:" + fg);
  }

  const lutOf = (cfg, palette) => cfg.luts[palette] || cfg.luts.blog;

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

  const marked = (view, pos) => pos >= view.mark && pos < view.mark + view.mark_len;
  const originOf = (vals) => (Number.isInteger(vals.origin) ? vals.origin : -1); // "where from" (app/wherefrom.py)

  // One display line of the figure, in the markup of lstmviz/render/html.py (styled by
  // lstmviz.render.style.stylesheet), plus the dashboard's own marks: the true next character among
  // the guesses, a row for misses, and the highlighted span.
  function drawLine(out, win, vals, view, cfg, a, b) {
    const lut = lutOf(cfg, vals.palette);
    const strip = cfg.luts.strip;
    out.push('<div class="lv-group"><div class="lv-band" data-neuron="', esc(vals.neuron), '">');
    for (let i = a; i < b; i++) {
      const pos = win.start + i;
      const cls = "lv-ch" + (win.faint[i] === "1" ? " lv-ws" : "") + (marked(view, pos) ? " lv-mark" : "") +
        (pos === vals.origin ? " lv-origin" : "");
      out.push('<span class="', cls, '" data-i="', pos, '" style="', style(lut, vals.idx[i]), '">',
        esc(win.labels[i]), "</span>");
    }
    out.push("</div>");
    if (win.fixed) {
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

  function drawLines(lines, from, to) {
    const { win, vals, view, cfg } = shown;
    const out = [];
    for (let k = from; k < to; k++) drawLine(out, win, vals, view, cfg, lines[k][0], lines[k][1]);
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
    const rows = [scale(vals.label, vals.ticks[0], vals.ticks[1], lutOf(cfg, vals.palette))];
    if (vals.note) rows.push('<div class="lv-scale lv-scale-note">' + esc(vals.note) + "</div>");
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

  // The whole figure, drawn anew: a new window, mode or width. Only the lines that fit the pane
  // (down to the mark, if there is one) are drawn at once; the rest follow once that frame is
  // painted and the browser is idle, marked meanwhile by data-more, so a new page of 2,000
  // characters shows without waiting for the lines out of sight.
  function draw(host) {
    const { win, vals, view, width } = shown;
    const lines = wrap(win.chars, width);
    const lineHeight = win.fixed ? 100 : 20; // at least this many pixels per display line
    let first = Math.ceil(host.clientHeight / lineHeight) + 1;
    if (view.mark >= 0) {
      const at = lines.findIndex(([, b]) => win.start + b > view.mark);
      first = Math.max(first, at + first);
    }
    first = Math.min(first, lines.length);
    const more = first < lines.length;
    host.innerHTML = '<div class="lv-snippet lv-view lv-' + esc(view.mode) + '" data-start="' + win.start +
      '" data-stop="' + win.stop + '" data-neuron="' + esc(vals.neuron) + '" data-palette="' + esc(vals.palette) +
      '" data-width="' + width + '" data-origin="' + originOf(vals) + '"' + (more ? ' data-more="1"' : "") +
      '><div class="lv-text' +
      (win.fixed ? " lv-grid lv-gap" : "") + '">' + drawLines(lines, 0, first) + "</div></div>";
    shown.cells = host.querySelectorAll(".lv-view .lv-ch");
    shown.rest = more ? { lines: lines, from: first } : null;
    if (more) {  // once the first frame is painted and the browser is idle (or 300 ms on, at the latest)
      const drawing = shown;
      requestAnimationFrame(() => requestIdleCallback(() => finish(host, drawing), { timeout: 300 }));
    }
  }

  // The lines left out of the first frame, appended (at once when a recolour needs every cell).
  function finish(host, drawing) {
    if (shown !== drawing || !drawing.rest) return;
    const { lines, from } = drawing.rest;
    drawing.rest = null;
    const figure = host.querySelector(".lv-view");
    figure.querySelector(".lv-text").insertAdjacentHTML("beforeend", drawLines(lines, from, lines.length));
    drawing.cells = host.querySelectorAll(".lv-view .lv-ch");
    figure.removeAttribute("data-more");
  }

  // The same text in another neuron's colours (or another palette, or another mark): the cells
  // stay, only their colours and marks change, so a step through units costs no layout.
  function recolour(host, before) {
    const { vals, view, cfg } = shown;
    const lut = lutOf(cfg, vals.palette);
    if (before.rest) {  // lines still to come: draw them, in the colours they had, then recolour all
      const now = shown;
      shown = before;
      finish(host, before);
      shown = now;
    }
    const cells = before.cells;
    for (let i = 0; i < cells.length; i++) cells[i].style.cssText = style(lut, vals.idx[i]);
    if (before.view.mark !== view.mark || before.view.mark_len !== view.mark_len) {
      for (let i = 0; i < cells.length; i++) {
        cells[i].classList.toggle("lv-mark", marked(view, shown.win.start + i));
      }
    }
    if (originOf(before.vals) !== originOf(vals)) {  // "where from": the origin outlined (assets/wherefrom.js)
      for (let i = 0; i < cells.length; i++) cells[i].classList.toggle("lv-origin", shown.win.start + i === vals.origin);
    }
    const figure = host.querySelector(".lv-view");
    figure.dataset.origin = originOf(vals);
    for (const band of figure.querySelectorAll(".lv-band")) band.dataset.neuron = vals.neuron;
    figure.dataset.palette = vals.palette;
    figure.dataset.neuron = vals.neuron; // last: tests and benchmarks wait for this attribute
    shown.cells = cells;
    shown.rest = null;
  }

  function render(win, vals, view, cfg) {
    const noUpdate = window.dash_clientside.no_update;
    if (!win || !vals || !view || !cfg) return noUpdate;
    if (vals.start !== win.start || vals.stop !== win.stop) return noUpdate; // mid-update
    if (win.fixed !== (view.mode === "grid")) return noUpdate;
    const host = document.getElementById(cfg.grid);
    if (!host) return noUpdate;
    const before = shown;
    const width = columns(host, view, cfg);
    shown = { win: win, vals: vals, view: view, cfg: cfg, width: width, cells: null, rest: null };
    pinned = false;
    hideTip();
    hideGo();
    const same = before && before.win === win && before.width === width && before.cells &&
      host.contains(before.cells[0] || null);
    if (same) recolour(host, before);
    else draw(host);
    drawLegend(vals, view, cfg);
    reportDrawn();
    if (!before || before.vals.palette !== vals.palette) drawPanels(document);
    jumpTo(host, before);
    // The profile's subject (app/control.py reply), passed on when it changed and only once the
    // frame showing the new text is painted and the browser is idle: the profile is asked for
    // after the text, not in its way, and not at all for units flicked past in quick succession.
    const subject = JSON.stringify(vals.subject);
    if (subject !== lastSubject) {
      lastSubject = subject;
      requestAnimationFrame(() => requestIdleCallback(() => {
        if (subject === lastSubject) setProps(cfg.subject, { data: vals.subject });
      }, { timeout: 300 }));
    }
    return noUpdate;
  }
  let lastSubject = null;

  let resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      const host = shown && document.getElementById(shown.cfg.grid);
      if (!host) return;
      const width = columns(host, shown.view, shown.cfg);
      if (width !== shown.width) {
        shown.width = width;
        draw(host);
        reportDrawn();
      }
    }, 150);
  });

  // ---- jumps: the mark into view, flashed -----------------------------------------------------

  function flash(cells) {
    for (const cell of cells) {
      cell.classList.remove("lv-flash");
      void cell.offsetWidth; // restart the animation on a cell flashed a moment ago
      cell.classList.add("lv-flash");
    }
    setTimeout(() => cells.forEach((cell) => cell.classList.remove("lv-flash")), 1600);
  }

  // Lines out of sight are laid out only when shown (content-visibility), so the first scroll can
  // land on estimated heights: check once the lines around the target are drawn, and scroll again.
  function reveal(cell) {
    cell.scrollIntoView({ block: "center", inline: "nearest" });
    requestAnimationFrame(() => {
      const r = cell.getBoundingClientRect();
      const pane = cell.closest(".lv-host");
      const p = pane ? pane.getBoundingClientRect() : { top: 0, bottom: window.innerHeight };
      const top = Math.max(0, p.top);
      const bottom = Math.min(window.innerHeight, p.bottom);
      if (r.top < top || r.bottom > bottom) cell.scrollIntoView({ block: "center", inline: "nearest" });
    });
  }

  // After a draw: a new mark is scrolled into view and flashed (and becomes the span for the
  // search by example); a new window without one starts at the top of the text, its first
  // character flashed unless a page step moved there.
  function jumpTo(host, before) {
    const { view, win, cfg } = shown;
    const moved = !before || before.win.start !== win.start || before.win.n_tokens !== win.n_tokens;
    const newMark = view.mark >= 0 && (!before || moved || before.view.mark !== view.mark ||
      before.view.mark_len !== view.mark_len);
    if (newMark) {
      const cells = Array.from(host.querySelectorAll(".lv-ch.lv-mark"));
      if (cells.length) {
        reveal(cells[0]);
        flash(cells);
      }
      setProps(cfg.example_span, { value: view.mark + ":" + (view.mark + view.mark_len) });
    } else if (moved && before) {
      const pane = host.closest(".lv-text-pane") || host;
      host.scrollTop = 0;
      if (pane.getBoundingClientRect().top < 0) pane.scrollIntoView({ block: "start" });
      if (!stepping && shown.cells.length) flash([shown.cells[0]]);
    }
    stepping = false;
  }

  // What the text shows, with the columns it wrapped at, for the Export and Copy buttons
  // (app/callbacks/exporting.py), which write the same lines. Only a State there: no request.
  function reportDrawn() {
    const { win, vals, view, width, cfg } = shown;
    if (cfg.rendered) {
      setProps(cfg.rendered, { data: { start: win.start, stop: win.stop, neuron: vals.neuron, mode: view.mode,
                                      width: width } });
    }
  }

  function setProps(id, props) {
    if (id && window.dash_clientside.set_props) window.dash_clientside.set_props(id, props);
  }

  // A click on a panel item that carries data-jump (a context, a ranked unit, a place) tells the
  // controller where to go, through the JUMP store.
  document.addEventListener("click", function (e) {
    const item = e.target.closest ? e.target.closest("[data-jump]") : null;
    if (!item || !shown) return;
    let where;
    try {
      where = JSON.parse(item.dataset.jump);
    } catch (err) {
      return;
    }
    where.n = ++jumps; // a second click on the same item is a new jump
    setProps(shown.cfg.jump, { data: where });
  });

  // ---- snippets and the histogram, drawn from compact data ---------------------------------------

  // A stretch of text for a panel: every character coloured by the neuron, a sparkline of it under
  // the characters, the marked span outlined. d: {w, t, f, s, m} (see app/data.py snippet).
  function snipHtml(d, lut) {
    const n = d.t.length;
    const idx = (s) => (s === null ? -1 : Math.min(255, Math.floor(s * 256)));
    const text = [];
    for (let i = 0; i < n; i++) {
      const cls = "lv-sc" + (d.f[i] === "1" ? " lv-ws" : "") + (i >= d.m[0] && i < d.m[1] ? " lv-snip-mark" : "");
      text.push('<span class="' + cls + '" style="' + style(lut, idx(d.s[i])) + '">' + esc(d.t[i]) + "</span>");
    }
    const points = [];
    for (let i = 0; i < n; i++) if (d.s[i] !== null) points.push((i + 0.5).toFixed(1) + "," + (1 - d.s[i]).toFixed(3));
    return '<div class="lv-snip"><span class="lv-snip-text">' + text.join("") + "</span>" +
      '<svg class="lv-spark" style="width:' + n + 'ch" viewBox="0 0 ' + n + ' 1" preserveAspectRatio="none"' +
      ' aria-hidden="true"><rect class="lv-spark-mark" x="' + d.m[0] + '" y="0" width="' + Math.max(1, d.m[1] - d.m[0]) +
      '" height="1"/><line class="lv-spark-mid" x1="0" y1="0.5" x2="' + n + '" y2="0.5"/>' +
      '<polyline points="' + points.join(" ") + '"/></svg></div>';
  }

  const jumpAttr = (where, title) => " data-jump=\"" + esc(JSON.stringify(where)) + "\" title=\"" + esc(title || "") + "\"";

  // A list of clickable snippets (data-list, from app/figures.py item_list): contexts, places.
  function drawList(el, lut) {
    const items = JSON.parse(el.dataset.list);
    const out = ['<ol class="lv-ctx-list">'];
    for (const it of items) {
      out.push('<li><button class="lv-ctx"' + jumpAttr(it.jump, it.title) + ">");
      for (const v of it.vals) out.push('<span class="lv-ctx-val">' + esc(v) + "</span>");
      out.push(snipHtml(it.snip, lut), "</button></li>");
    }
    out.push("</ol>");
    el.innerHTML = out.join("");
  }

  // A table (data-table, from app/figures.py cell_table): the ranking, the units found by example.
  function drawTable(el, lut) {
    const d = JSON.parse(el.dataset.table);
    const out = ['<table class="lv-results"><thead><tr>'];
    for (const h of d.head) out.push("<th>" + esc(h) + "</th>");
    out.push("</tr></thead><tbody>");
    for (const row of d.rows) {
      const weak = row.weak ? " lv-weak" : "";
      out.push(row.weak ? '<tr class="lv-weak">' : "<tr>");
      for (const c of row.cells) {
        if (typeof c === "string") out.push("<td>" + esc(c) + "</td>");
        else if (c.jump) out.push('<td><button class="lv-link"' + jumpAttr(c.jump, c.title) + ">" + esc(c.text) + "</button></td>");
        else if (c.bar !== undefined) {
          out.push('<td><div class="lv-bar-cell"><span class="lv-bar-track"><span class="lv-bar" style="width:' +
            Math.round(100 * c.bar) + '%"></span></span><span class="lv-bar-val">' + esc(c.text) + "</span></div></td>");
        } else out.push('<td title="' + esc(c.title || "") + '">' + esc(c.text) + "</td>");
      }
      out.push("</tr>");
      if (row.snip) {
        out.push('<tr class="lv-snip-row' + weak + '"><td colspan="' + d.head.length + '"><button class="lv-ctx lv-row-snip"' +
          jumpAttr(row.jump, row.title) + ">" + snipHtml(row.snip, lut) + "</button></td></tr>");
      }
    }
    out.push("</tbody></table>");
    el.innerHTML = out.join("");
  }

  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

  // The profile's histogram (data-hist, from app/figures.py histogram): bars in the colours the text
  // is drawn in, the mean marked, the axis named by what is shown.
  function drawHist(el, lut) {
    let d;
    try {
      d = JSON.parse(el.dataset.hist);
    } catch (err) {
      return;
    }
    const W = 420, H = 190, L = 46, R = 14, T = 24, B = 38;
    const n = d.counts.length;
    const most = Math.max(1, ...d.counts);
    const x = (v) => L + ((v - d.edges[0]) / (d.edges[n] - d.edges[0] || 1)) * (W - L - R);
    const y = (c) => T + (1 - c / most) * (H - T - B);
    const span = d.hi - d.lo || 1;
    const out = ['<svg viewBox="0 0 ' + W + " " + H + '" class="lv-hist-svg" role="img" aria-label="' + esc(d.title) + '">',
      '<text x="' + L + '" y="14" class="lv-hist-title">' + esc(d.title) + "</text>"];
    for (let k = 0; k < n; k++) {
      const a = d.edges[k], b = d.edges[k + 1];
      const at = Math.min(255, Math.max(0, Math.floor((((a + b) / 2 - d.lo) / span) * 256)));
      const top = y(d.counts[k]);
      out.push('<rect x="' + x(a).toFixed(1) + '" y="' + top.toFixed(1) + '" width="' + Math.max(0.5, x(b) - x(a) - 0.3).toFixed(1) +
        '" height="' + (H - B - top).toFixed(1) + '" fill="' + lut.bg[at] + '" stroke="#9aa4b2" stroke-width="0.3"><title>' +
        fmt(a) + " … " + fmt(b) + ": " + d.counts[k].toLocaleString("en") + " positions</title></rect>");
    }
    out.push('<line x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - R) + '" y2="' + (H - B) + '" class="lv-axis"/>');
    const ticks = [d.edges[0], d.edges[n]];
    if (d.edges[0] < 0 && d.edges[n] > 0) ticks.splice(1, 0, 0);
    for (const t of ticks) {
      out.push('<text x="' + x(t).toFixed(1) + '" y="' + (H - B + 13) + '" class="lv-tick" text-anchor="middle">' + fmt(t) + "</text>");
    }
    out.push('<text x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" class="lv-axis-label" text-anchor="middle">' +
      esc(d.label) + "</text>");
    out.push('<text x="12" y="' + ((T + H - B) / 2) + '" class="lv-axis-label" text-anchor="middle" transform="rotate(-90 12 ' +
      ((T + H - B) / 2) + ')">positions</text>');
    out.push('<text x="' + (L - 4) + '" y="' + (T + 4) + '" class="lv-tick" text-anchor="end">' + most.toLocaleString("en") + "</text>");
    if (d.mean !== null) {
      const m = x(d.mean).toFixed(1);
      const right = x(d.mean) < (L + W - R) / 2;
      out.push('<line x1="' + m + '" y1="' + T + '" x2="' + m + '" y2="' + (H - B) + '" class="lv-mean"/>' +
        '<text x="' + (x(d.mean) + (right ? 4 : -4)).toFixed(1) + '" y="' + (T + 10) + '" class="lv-tick" text-anchor="' +
        (right ? "start" : "end") + '">mean ' + fmt(d.mean) + "</text>");
    }
    out.push("</svg>");
    el.innerHTML = out.join("");
  }

  const DRAWERS = { "data-list": drawList, "data-table": drawTable, "data-hist": drawHist };
  const DRAWN = Object.keys(DRAWERS).map((a) => "[" + a + "]").join(",");

  // Draw every list, table and histogram at or under root, in the palette on screen.
  function drawPanels(root) {
    if (!shown || !root.querySelectorAll) return;
    const lut = lutOf(shown.cfg, shown.vals.palette);
    const found = Array.from(root.querySelectorAll(DRAWN));
    if (root.matches && root.matches(DRAWN)) found.push(root);
    for (const el of found) {
      for (const [attr, drawer] of Object.entries(DRAWERS)) if (el.hasAttribute(attr)) drawer(el, lut);
    }
  }

  // Panels arrive as Dash renders them: draw what they carry as soon as it is in the page. The
  // text's own redraws (thousands of cells, none with data to draw) are not searched, nor is what
  // the drawers themselves add.
  new MutationObserver(function (records) {
    for (const r of records) {
      if (r.type === "attributes") drawPanels(r.target);
      else {
        for (const node of r.addedNodes) {
          if (node.nodeType === 1 && !(node.closest && node.closest(".lv-host"))) drawPanels(node);
        }
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true, attributes: true,
    attributeFilter: Object.keys(DRAWERS) });

  // ---- a drag over the text: the span for the search by example --------------------------------

  let dragFrom = null;
  let dragged = false;

  function cellOf(target) {
    return target && target.closest ? target.closest(".lv-view .lv-ch[data-i]") : null;
  }

  function selectSpan(a, b) {
    if (!shown || !shown.cells) return;
    const lo = Math.min(a, b), hi = Math.max(a, b);
    for (const cell of shown.cells) {
      const i = Number(cell.dataset.i);
      cell.classList.toggle("lv-sel", i >= lo && i <= hi);
    }
  }

  function goElement() {
    let go = document.getElementById("lv-example-go");
    if (!go) {
      go = document.createElement("button");
      go.id = "lv-example-go";
      go.className = "lv-btn lv-go";
      go.hidden = true;
      go.addEventListener("click", function () {
        const { cfg } = shown;
        const run = window.dash_component_api.getLayout(cfg.example_run);
        setProps(cfg.example_span, { value: go.dataset.span });
        setProps(cfg.tabs, { value: cfg.example_tab });
        setProps(cfg.example_run, { n_clicks: ((run && run.props.n_clicks) || 0) + 1 });
        hideGo();
      });
      document.body.appendChild(go);
    }
    return go;
  }

  function hideGo() {
    const go = document.getElementById("lv-example-go");
    if (go) go.hidden = true;
    if (shown && shown.cells) for (const cell of document.querySelectorAll(".lv-ch.lv-sel")) cell.classList.remove("lv-sel");
  }

  document.addEventListener("mousedown", function (e) {
    if (e.target.id === "lv-example-go") return;
    hideGo();
    const cell = e.button === 0 ? cellOf(e.target) : null;
    dragFrom = cell ? Number(cell.dataset.i) : null;
    dragged = false;
    if (cell) e.preventDefault(); // the drag selects a span of positions, not the page's text
  });

  document.addEventListener("mousemove", function (e) {
    if (dragFrom === null || !(e.buttons & 1)) return;
    const cell = cellOf(e.target);
    if (!cell) return;
    const at = Number(cell.dataset.i);
    if (at !== dragFrom || dragged) {
      dragged = true;
      hideTip();
      selectSpan(dragFrom, at);
    }
  });

  document.addEventListener("mouseup", function (e) {
    if (dragFrom === null) return;
    const cell = cellOf(e.target);
    const from = dragFrom;
    dragFrom = null;
    if (!dragged || !cell || !shown) return;
    const to = Number(cell.dataset.i);
    const a = Math.min(from, to), b = Math.max(from, to) + 1;
    const span = a + ":" + b;
    setProps(shown.cfg.example_span, { value: span });
    const go = goElement();
    go.dataset.span = span;
    go.textContent = "Units on over " + a.toLocaleString("en") + "–" + b.toLocaleString("en") + " ▸";
    go.hidden = false;
    go.style.left = Math.min(e.clientX + 8, window.innerWidth - go.offsetWidth - 8) + "px";
    go.style.top = Math.min(e.clientY + 12, window.innerHeight - go.offsetHeight - 8) + "px";
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

  document.addEventListener("mouseover", function (e) {
    const cell = cellOf(e.target);
    if (cell && !pinned && dragFrom === null) showTip(cell, e);
  });
  document.addEventListener("mouseout", function (e) {
    if (!pinned && cellOf(e.target) && !cellOf(e.relatedTarget)) hideTip();
  });
  document.addEventListener("click", function (e) {
    if (dragged) {
      dragged = false;
      return;
    }
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
    setProps(id, { value: next(ok ? value : from) });
  }

  function stepUnit(by) {
    const n = shown.vals.n_hidden;
    setBox(shown.cfg.unit, shown.vals.unit, n - 1, (unit) => (unit + by + n) % n);
  }

  function stepPage(by) {
    const { pos, length } = shown.view;
    const n = shown.win.n_tokens;
    const last = Math.max(0, n - length); // the last page ends at the end of the text
    stepping = true;
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
      hideGo();
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
