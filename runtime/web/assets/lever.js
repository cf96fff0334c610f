// The little the pages need beyond htmx: moving between a form's pages, showing the
// conditional fields the server says apply, and focusing the first error.
(function () {
  "use strict";

  function showPage(form, index) {
    var pages = form.querySelectorAll("[data-page]");
    var steps = document.querySelectorAll(".page-steps li");
    pages.forEach(function (page, i) { page.hidden = i !== index; });
    steps.forEach(function (step, i) {
      if (i === index) { step.setAttribute("aria-current", "step"); } else { step.removeAttribute("aria-current"); }
    });
    form.dataset.current = String(index);
    var first = pages[index] && pages[index].querySelector("input:not([type=hidden]), select, textarea, button");
    if (first && form.dataset.started) { first.focus(); }
    form.dataset.started = "1";
  }

  function applyConditions() {
    var marker = document.getElementById("active-conditions");
    if (!marker) { return; }
    var active = JSON.parse(marker.dataset.active || "[]");
    document.querySelectorAll("[data-condition]").forEach(function (el) {
      var on = active.indexOf(Number(el.dataset.condition)) !== -1;
      el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !on; });
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-go]");
    if (!button) { return; }
    var form = button.closest("form");
    var current = Number(form.dataset.current || "0");
    showPage(form, current + Number(button.dataset.go));
    event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-pages]");
    if (form) { showPage(form, 0); }
    applyConditions();
  });
  document.addEventListener("htmx:afterSettle", applyConditions);
})();
