/* Runs before the page paints: apply the reader's stored audience choice so the
   page never flashes blocks for the other audience. Without JavaScript every
   block stays visible, each with its label. */
(function () {
  try {
    var choice = window.localStorage.getItem("clinsite-audience");
    if (choice === "clinician" || choice === "patient") {
      document.documentElement.setAttribute("data-audience", choice);
    }
  } catch (e) { /* storage blocked: show everything */ }
  document.documentElement.classList.add("js");
})();
