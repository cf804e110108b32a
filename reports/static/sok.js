// Filters the list of municipalities by name as the reader types. Without JavaScript the search box stays
// hidden and the whole list (grouped by county) is there; nothing is fetched, so it works from disk.
(function () {
  var box = document.getElementById("sok");
  var input = document.getElementById("sok-kommun");
  var count = document.getElementById("sok-antal");
  if (!box || !input) return;
  box.hidden = false;
  var fold = function (s) { return s.toLocaleLowerCase("sv").normalize("NFC"); };
  input.addEventListener("input", function () {
    var q = fold(input.value.trim()), shown = 0;
    document.querySelectorAll(".county-list").forEach(function (group) {
      var any = false;
      group.querySelectorAll("li").forEach(function (li) {
        var hit = !q || fold(li.textContent).indexOf(q) !== -1;
        li.hidden = !hit;
        if (hit) { any = true; shown += 1; }
      });
      group.hidden = !any;
    });
    count.textContent = q ? shown + (shown === 1 ? " kommun" : " kommuner") : "";
  });
})();
