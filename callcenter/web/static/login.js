"use strict";
// The login form: show the server's error code in the chosen language.
document.addEventListener("hotline:lang", () => {
  const box = document.getElementById("login-error");
  const code = box.dataset.error;
  box.textContent = code ? Hotline.t(`login.error.${code}`) : "";
});
