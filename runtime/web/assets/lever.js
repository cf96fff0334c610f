// The little the pages need beyond htmx: moving between a form's pages (Next and Enter check
// the page first, the review's errors link to their fields), showing the conditional fields
// the server says apply, marking invalid fields, announcing a run's status as it changes,
// showing times in the reader's time zone, and Copy and Hide on revealed values.
(function () {
  "use strict";

  function pageCount(form) { return form.querySelectorAll("[data-page]").length; }
  function current(form) { return Number(form.dataset.current || "0"); }

  function showPage(form, index) {
    var pages = form.querySelectorAll("[data-page]");
    index = Math.max(0, Math.min(index, pages.length - 1));
    var pills = document.querySelectorAll(".page-steps [data-goto]");
    pages.forEach(function (page, i) { page.hidden = i !== index; });
    pills.forEach(function (pill, i) {
      if (i === index) { pill.setAttribute("aria-current", "step"); } else { pill.removeAttribute("aria-current"); }
    });
    form.dataset.current = String(index);
    var first = pages[index] && pages[index].querySelector("input:not([type=hidden]):not([disabled]), select, textarea, button");
    if (first && form.dataset.started) { first.focus(); }
    form.dataset.started = "1";
  }

  // The server's last check lists every error with its page and field (#form-errors).
  function problems() {
    var marker = document.getElementById("form-errors");
    try { return marker ? JSON.parse(marker.dataset.errors || "[]") : []; } catch (e) { return []; }
  }

  function markInvalid() {
    document.querySelectorAll("#run-form .field").forEach(function (field) {
      var error = field.querySelector("p.error[id^='err-']");
      var bad = !!(error && error.textContent.trim());
      field.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (input) {
        if (bad) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
      });
    });
  }

  // Shows the errors of the first page before `target` that has any and stays there; moves to
  // `target` when none has.
  function goForward(form, target) {
    var all = problems();
    for (var page = current(form); page < target; page++) {
      var here = all.filter(function (p) { return p.page === page && p.id; });
      if (here.length) {
        here.forEach(function (p) {
          var out = document.getElementById("err-" + p.id);
          if (out) { out.textContent = p.message; }
        });
        markInvalid();
        if (page !== current(form)) { showPage(form, page); }
        var field = document.getElementById(here[0].id);
        if (field) { field.focus(); }
        return;
      }
    }
    showPage(form, target);
  }

  // A move asked for while the last change is still being checked waits for that check
  // (or at most three seconds), so it is judged on the answers as they are now.
  function whenChecked(form, move) {
    if (!form.dataset.dirty) { move(); return; }
    form._then = move;
    // Check now rather than after the typing pause.
    if (window.htmx) { window.htmx.trigger(form, "change"); }
    setTimeout(function () { if (form._then === move) { form._then = null; move(); } }, 3000);
  }

  function go(form, target) {
    if (target <= current(form)) { showPage(form, target); return; }
    whenChecked(form, function () { goForward(form, target); });
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
    var button = event.target.closest("[data-go], [data-goto], #review-errors a[data-page]");
    if (!button) { return; }
    var form = document.querySelector("form[data-pages]");
    if (!form) { return; }
    event.preventDefault();
    if (button.dataset.go) {
      go(form, current(form) + Number(button.dataset.go));
    } else if (button.dataset.goto) {
      go(form, Number(button.dataset.goto));
    } else {
      // An error in the review: its page, then its field.
      showPage(form, Number(button.dataset.page));
      var field = document.getElementById(button.dataset.field);
      if (field) { field.focus(); }
    }
  });

  // Enter in a field moves on (checking the page) instead of submitting the whole request.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing) { return; }
    var input = event.target;
    var form = input.closest && input.closest("form[data-pages]");
    if (!form || input.tagName === "TEXTAREA" || input.tagName === "BUTTON") { return; }
    event.preventDefault();
    if (current(form) < pageCount(form) - 1) { go(form, current(form) + 1); }
  });

  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-pages]");
    if (form) { form.dataset.dirty = "1"; }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-pages]");
    if (form) { form.dataset.dirty = "1"; }
  });

  function checked() {
    var form = document.querySelector("form[data-pages]");
    if (!form) { return; }
    delete form.dataset.dirty;
    var then = form._then;
    form._then = null;
    if (then) { then(); }
  }

  // A run's status, said once each time it changes (the page body is re-rendered live).
  function announceStatus() {
    var status = document.getElementById("run-status");
    var region = document.getElementById("run-announce");
    if (!status || !region) { return; }
    if (region.dataset.said !== status.dataset.status) {
      if (region.dataset.said) { region.textContent = "The run is " + status.textContent.trim(); }
      region.dataset.said = status.dataset.status;
    }
  }

  // Copy: the code next to the button, through the clipboard API, or by selecting it and the
  // browser's copy command where that API is refused; the result is said in a live region.
  function copied(button, ok) {
    var box = button.closest(".revealed");
    var status = box && box.querySelector("[data-copy-status]");
    button.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
    if (status) { status.textContent = ok ? "Copied to the clipboard" : "Selected: press Ctrl+C to copy"; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var code = button.closest(".copyable").querySelector("code");
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(code);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copied(button, ok);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(code.textContent).then(function () { copied(button, true); }, fallback);
    } else {
      fallback();
    }
  });

  // Hide and Show: a revealed value leaves the screen (someone looking over a shoulder).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-hide]");
    if (!button) { return; }
    var body = button.closest(".revealed").querySelector(".secret-body");
    body.hidden = !body.hidden;
    button.textContent = body.hidden ? "Show" : "Hide";
    button.setAttribute("aria-expanded", body.hidden ? "false" : "true");
  });

  // Times are sent in UTC; each reader sees their own local time (the UTC one stays as the
  // element's title).
  function localTimes() {
    document.querySelectorAll("time[data-local]").forEach(function (el) {
      if (el.dataset.shown) { return; }
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) { return; }
      el.title = el.textContent;
      el.textContent = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
      el.dataset.shown = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    var form = document.querySelector("form[data-pages]");
    if (form) { showPage(form, 0); }
    applyConditions();
    announceStatus();
  });
  document.addEventListener("htmx:afterSettle", function () {
    localTimes();
    applyConditions();
    markInvalid();
    announceStatus();
    checked();
  });
  // A check that failed still ends the wait for it.
  document.addEventListener("htmx:responseError", checked);
  document.addEventListener("htmx:sendError", checked);
})();
