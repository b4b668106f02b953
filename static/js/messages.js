// The message template editor: a variable tapped in the list goes into the text at the cursor;
// the text then announces its change, so the live preview (htmx, on input) follows.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-insert-var]");
  if (!button) return;
  const body = document.querySelector("[data-template-body]");
  if (!body) return;
  const token = "{" + button.dataset.insertVar + "}";
  const start = body.selectionStart ?? body.value.length;
  const end = body.selectionEnd ?? body.value.length;
  body.value = body.value.slice(0, start) + token + body.value.slice(end);
  body.focus();
  body.selectionStart = body.selectionEnd = start + token.length;
  body.dispatchEvent(new Event("input", { bubbles: true }));
});
// The subject only where a channel has one (email, and the portal inbox's title); the field stays
// in the form, so the page works the same without this script.
function showSubjectFor(channel) {
  const subject = document.querySelector("[data-subject-field]");
  if (subject) subject.hidden = !["email", "portal"].includes(channel);
}
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-channel-field] select[name=channel]")) showSubjectFor(event.target.value);
});
document.addEventListener("DOMContentLoaded", () => {
  const channel = document.querySelector("[data-channel-field] select[name=channel]");
  if (channel) showSubjectFor(channel.value);
});
