/* clinsite reader enhancements: the audience choice and citation previews.
   Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  var KEY = "clinsite-audience";
  var LABELS = { clinician: "clinicians", patient: "patients", all: "all readers" };

  function currentAudience() {
    return document.documentElement.getAttribute("data-audience") || "all";
  }

  function applyAudience(value, announce) {
    if (value === "clinician" || value === "patient") {
      document.documentElement.setAttribute("data-audience", value);
    } else {
      document.documentElement.removeAttribute("data-audience");
      value = "all";
    }
    try { window.localStorage.setItem(KEY, value); } catch (e) { /* private mode */ }
    document.querySelectorAll("[data-audience-choice]").forEach(function (form) {
      var input = form.querySelector('input[value="' + value + '"]');
      if (input) { input.checked = true; }
      var status = form.querySelector("[data-audience-status]");
      if (status && announce) { status.textContent = "Showing text for " + LABELS[value] + "."; }
    });
  }

  function setUpAudience() {
    var forms = document.querySelectorAll("[data-audience-choice]");
    forms.forEach(function (form) {
      form.hidden = false;
      form.addEventListener("change", function (event) {
        if (event.target && event.target.name === "audience") {
          applyAudience(event.target.value, true);
        }
      });
      form.addEventListener("submit", function (event) { event.preventDefault(); });
    });
    if (forms.length) { applyAudience(currentAudience(), false); }
    window.addEventListener("storage", function (event) {
      if (event.key === KEY) { applyAudience(event.newValue, false); }
    });
  }

  /* Citation previews (WCAG 1.4.13): shown on hover and on keyboard focus,
     hoverable (the pointer can move onto the preview), persistent until the
     pointer or focus leaves, and dismissable with Escape. */
  var popover = null;
  var owner = null;
  var hideTimer = null;

  function ensurePopover() {
    if (popover) { return popover; }
    popover = document.createElement("div");
    popover.className = "cite-popover";
    popover.id = "cite-popover";
    popover.setAttribute("role", "tooltip");
    popover.hidden = true;
    popover.addEventListener("mouseenter", function () { clearTimeout(hideTimer); });
    popover.addEventListener("mouseleave", scheduleHide);
    document.body.appendChild(popover);
    return popover;
  }

  function show(link) {
    var target = document.getElementById((link.getAttribute("aria-describedby") || "").split(" ")[0]);
    if (!target) { return; }
    clearTimeout(hideTimer);
    var box = ensurePopover();
    box.innerHTML = "";
    var number = document.createElement("p");
    number.className = "cite-popover-number";
    number.textContent = "Reference " + link.textContent;
    box.appendChild(number);
    box.appendChild(target.cloneNode(true)).removeAttribute("id");
    box.hidden = false;
    owner = link;
    var rect = link.getBoundingClientRect();
    var width = Math.min(28 * 16, document.documentElement.clientWidth - 16);
    box.style.maxWidth = width + "px";
    var left = Math.max(8, Math.min(rect.left + window.scrollX - 16,
      window.scrollX + document.documentElement.clientWidth - width - 8));
    box.style.left = left + "px";
    box.style.top = (rect.bottom + window.scrollY + 6) + "px";
  }

  function hide() {
    if (popover) { popover.hidden = true; }
    owner = null;
  }

  function scheduleHide() {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hide, 300);
  }

  function setUpPreviews() {
    document.querySelectorAll("a.cite-ref").forEach(function (link) {
      if (link.title) {  /* the preview replaces the browser's own tooltip */
        link.setAttribute("data-title", link.title);
        link.removeAttribute("title");
      }
      link.addEventListener("mouseenter", function () { show(link); });
      link.addEventListener("mouseleave", scheduleHide);
      link.addEventListener("focus", function () { show(link); });
      link.addEventListener("blur", scheduleHide);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && popover && !popover.hidden) {
        hide();
      }
    });
  }

  /* "Cite this page": copy the formatted citation, with today's date as the
     date cited (the page shows the date it was built). */
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function setUpCopy() {
    document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
      if (!navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy-target"));
        var now = new Date();
        var today = now.getFullYear() + " " + MONTHS[now.getMonth()] + " " + now.getDate();
        var text = source.textContent.replace(/cited \d{4} [A-Z][a-z]{2} \d{1,2}\]/, "cited " + today + "]");
        var status = button.parentNode.querySelector("[data-copy-status]");
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = "Copied";
          if (status) { status.textContent = "Citation copied to the clipboard."; }
          setTimeout(function () { button.textContent = "Copy citation"; }, 2000);
        }, function () {
          if (status) { status.textContent = "Could not copy; select the citation text instead."; }
        });
      });
    });
  }

  /* Search page: Pagefind's UI, started with the query from the header box. A large
     site's index comes in shards, which the UI merges (data-search-shards). */
  function setUpSearch() {
    var box = document.querySelector("[data-search-ui]");
    if (!box || typeof window.PagefindUI !== "function") { return; }
    var options = { element: "#" + box.id, showSubResults: true, resetStyles: false };
    var shards = (box.getAttribute("data-search-shards") || "").split(" ").filter(Boolean);
    if (shards.length) {
      options.mergeIndex = shards.map(function (shard) {
        return { bundlePath: new URL(shard, window.location.href).pathname };
      });
    }
    var ui = new window.PagefindUI(options);
    var query = new URLSearchParams(window.location.search).get("q");
    if (query) { ui.triggerSearch(query); }
  }

  function start() {
    setUpAudience();
    setUpPreviews();
    setUpCopy();
    setUpSearch();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
