// Signs in at once with the one-time link's code: the link was opened by
// `byokd ui` or the tray, so there is nothing to ask.
document.addEventListener("DOMContentLoaded", function () {
  var f = document.getElementById("login");
  if (f) { f.submit(); }
});
