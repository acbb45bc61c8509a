// Draw every figure of the page from its JSON (plotly.js is served from the installed package).
document.querySelectorAll("[data-figure]").forEach(function (el) {
  var fig = JSON.parse(el.getAttribute("data-figure"));
  Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
});
// The measure picker carries its time point and scale.
var pick = document.getElementById("measure-select");
if (pick) {
  pick.addEventListener("change", function () {
    var o = pick.options[pick.selectedIndex];
    pick.form.elements["time_point"].value = o.dataset.timePoint;
    pick.form.elements["scale"].value = o.dataset.scale;
  });
}
