/* Draw every figure on the page: each <script type="application/json" class="tw-figure"
   data-target="ID"> holds a plotly figure for the element with that id. Figures inside a closed
   <details> are drawn when it opens (plotly needs a visible box to size itself). */
(function () {
  "use strict";
  var CONFIG = {displaylogo: false, responsive: true,
                modeBarButtonsToRemove: ["lasso2d", "select2d", "sendDataToCloud"]};

  function draw(script) {
    if (script.getAttribute("data-drawn")) { return; }
    var target = document.getElementById(script.getAttribute("data-target"));
    if (!target) { return; }
    var fig = JSON.parse(script.textContent);
    script.setAttribute("data-drawn", "1");
    window.Plotly.newPlot(target, fig.data, fig.layout, CONFIG);
  }

  function visible(el) {
    for (var p = el.parentElement; p; p = p.parentElement) {
      if (p.tagName === "DETAILS" && !p.open) { return false; }
    }
    return true;
  }

  function drawVisible() {
    var scripts = document.querySelectorAll('script.tw-figure[type="application/json"]');
    for (var i = 0; i < scripts.length; i++) {
      if (visible(scripts[i])) { draw(scripts[i]); }
    }
  }

  function start() {
    if (!window.Plotly) {
      var boxes = document.querySelectorAll(".plot");
      for (var i = 0; i < boxes.length; i++) {
        boxes[i].textContent = "The plotting library did not load, so this figure is not shown.";
      }
      return;
    }
    drawVisible();
    document.addEventListener("toggle", function (ev) {
      if (ev.target && ev.target.tagName === "DETAILS" && ev.target.open) { drawVisible(); }
    }, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
