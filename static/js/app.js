// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle-sidebar]");
  const sidebar = document.getElementById("sidebar");
  if (toggle && sidebar) {
    sidebar.classList.toggle("open");
  } else if (sidebar && sidebar.classList.contains("open") && !event.target.closest("#sidebar")) {
    sidebar.classList.remove("open");
  }
  const confirmClick = event.target.closest("[data-confirm-click]");
  if (confirmClick && !window.confirm(confirmClick.dataset.confirmClick)) {
    event.preventDefault();
    return;
  }
  const copy = event.target.closest("[data-copy]");
  if (copy && navigator.clipboard) {
    const source = document.getElementById(copy.dataset.copy);
    navigator.clipboard.writeText(source.textContent.trim());
    copy.textContent = copy.dataset.copied || copy.textContent;
  }
});
document.addEventListener("change", (event) => {
  // A select that applies its form when it changes (the form's own button is for pages without JS).
  const field = event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.submit();
  // A field that announces its change under a name of its own, for an htmx trigger about that field
  // only (htmx's trigger filters, change[...], need eval, which the Content-Security-Policy refuses).
  const announcing = event.target.closest("[data-change-event]");
  if (announcing) {
    announcing.dispatchEvent(new CustomEvent(announcing.dataset.changeEvent, { bubbles: true }));
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
