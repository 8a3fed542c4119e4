// The triage desk: picking a found original fills the step form's original and marks the item a
// duplicate (a file of the site's own: the CSP allows no inline script).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-original]");
  if (!button) return;
  const original = document.getElementById("f-duplicate_of");
  const kind = document.getElementById("f-kind");
  if (!original) return;
  original.value = button.dataset.original;
  if (kind) kind.value = "duplicate";
  document.getElementById("original-picked").textContent =
    "已选原建议 " + button.dataset.original + "，类型已设为重复建议；确认后提交。";
  original.focus();
});

// A session that expired answers the search with the login page: go there (and back to this step)
// instead of showing it among the results.
document.addEventListener("htmx:beforeSwap", (event) => {
  const url = event.detail.xhr && event.detail.xhr.responseURL;
  if (url && new URL(url).pathname === "/login") {
    event.detail.shouldSwap = false;
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }
});
