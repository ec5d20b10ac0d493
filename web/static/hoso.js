// hoso's only script of its own: the strict Content-Security-Policy allows no inline handlers.
document.addEventListener("click", function (event) {
  var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) {
    window.print();
  }
});
// The language switch on a page that does not name its own address (public/not_found.html):
// come back to it rather than to the home page.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.classList.contains("language")
      && form.elements.next && !form.elements.next.value) {
    form.elements.next.value = location.pathname + location.search;
  }
});
