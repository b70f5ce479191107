/*
 * lstmviz dashboard, "where from": while the toggle (app/layout.py wherefrom_toggle) is on, a click
 * on a character sends its position to the controller, whose reply shades the text before it by
 * what each character wrote into the cell's value there (app/wherefrom.py); assets/lstmviz.js
 * draws that reply as any other colouring and outlines the origin. Escape, or the toggle turned
 * off, ends it. The click is taken in the capture phase, before the details box would pin.
 */
(function () {
  "use strict";

  let on = false;
  let clicks = 0;

  const toggle = () => document.querySelector("button.lv-wherefrom[data-store]");
  const shownOrigin = () => {
    const figure = document.querySelector(".lv-view[data-origin]");
    return figure ? Number(figure.dataset.origin) : -1;
  };

  function send(pos) {
    const button = toggle();
    if (!button || !window.dash_clientside || !window.dash_clientside.set_props) return;
    window.dash_clientside.set_props(button.dataset.store, { data: { to: "origin", pos: pos, n: ++clicks } });
  }

  function setOn(value) {
    on = value;
    const button = toggle();
    if (button) {
      button.setAttribute("aria-pressed", value ? "true" : "false");
      button.classList.toggle("lv-on", value);
    }
    document.body.classList.toggle("lv-picking-origin", value);
    if (!value && shownOrigin() >= 0) send(-1);
  }

  window.addEventListener("click", function (e) {
    if (!e.target.closest) return;
    if (e.target.closest("button.lv-wherefrom[data-store]")) {
      setOn(!on);
      return;
    }
    if (!on) return;
    const cell = e.target.closest(".lv-view .lv-ch[data-i]");
    if (!cell) return;
    e.preventDefault();
    e.stopPropagation(); // no details box pinned: the click chose an origin
    send(Number(cell.dataset.i));
  }, true);

  window.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && (on || shownOrigin() >= 0)) setOn(false);
  }, true);
})();
