// Review app behaviour that plain HTML cannot give: select a page of entries at once, and
// cues that seek the player and follow its playback. Everything works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[name="entry"]')) box.checked = all.checked;
    });
  }
  const player = document.getElementById("video") || document.getElementById("audio");
  const cues = document.querySelectorAll("#cues li");
  if (!player || !cues.length) return;
  for (const cue of cues) {
    cue.querySelector("button.time").addEventListener("click", () => {
      player.currentTime = parseFloat(cue.dataset.start);
      player.play();
    });
  }
  player.addEventListener("timeupdate", () => {
    const t = player.currentTime;
    for (const cue of cues) cue.classList.toggle("now", t >= parseFloat(cue.dataset.start) && t < parseFloat(cue.dataset.end));
  });
});
