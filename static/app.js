// Progressive enhancement only: every page works without this file.

// Copy buttons need this script: app.css hides them until it marks the page.
document.documentElement.classList.add("js");
document.addEventListener("click", async (event) => {
  const copy = event.target.closest("button.copy");
  if (copy) {
    const target = document.getElementById(copy.dataset.copyTarget);
    if (!target) return;
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
      copy.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copy.textContent = "Press Ctrl+C";
    }
    setTimeout(() => (copy.textContent = "Copy"), 2000);
    return;
  }

  const revoke = event.target.closest("a.revoke[data-revoke-action]");
  const dialog = document.getElementById("revoke-dialog");
  if (revoke && dialog && typeof dialog.showModal === "function") {
    event.preventDefault();
    document.getElementById("revoke-dialog-form").action = revoke.dataset.revokeAction;
    document.getElementById("revoke-dialog-last4").textContent = revoke.dataset.last4;
    document.getElementById("revoke-dialog-label").textContent = revoke.dataset.label;
    dialog.showModal();
    return;
  }

  if (event.target.id === "revoke-dialog-cancel") dialog.close();
});
