// The dashboard's small script: no framework, no inline code (the pages are served with a strict CSP).
(function () {
  'use strict';

  document.querySelectorAll('[data-autosubmit]').forEach(function (el) {
    el.addEventListener('change', function () { el.form.submit(); });
  });

  document.querySelectorAll('[data-confirm]').forEach(function (el) {
    el.addEventListener('click', function (event) {
      if (!window.confirm(el.getAttribute('data-confirm'))) event.preventDefault();
    });
  });

  document.querySelectorAll('[data-copy]').forEach(function (button) {
    button.addEventListener('click', function () {
      var source = document.querySelector(button.getAttribute('data-copy'));
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = 'Copied';
        setTimeout(function () { button.textContent = 'Copy'; }, 1500);
      });
    });
  });

  // Show the value field or the rate-limit fields, as the chosen kind needs.
  var kind = document.querySelector('[data-rule-kind]');
  if (kind) {
    var toggle = function () {
      var rate = kind.value === 'rateLimit';
      document.querySelectorAll('[data-for-kind="rateLimit"]').forEach(function (el) { el.hidden = !rate; });
      document.querySelectorAll('[data-for-kind="value"]').forEach(function (el) { el.hidden = rate; });
    };
    kind.addEventListener('change', toggle);
    toggle();
  }

  // Traffic chart: drawn from the embedded data, then refreshed every 10 s while "Live" is ticked.
  // The bucket still filling ("now") is drawn as a dashed "so far" segment, never as a drop of the line.
  var chartEl = document.getElementById('traffic-chart');
  var dataEl = document.getElementById('traffic-data');
  if (chartEl && dataEl && window.uPlot) {
    var data = JSON.parse(dataEl.textContent);
    var complete = function (values, current) {
      return current < 0 ? values : values.map(function (v, i) { return i === current ? null : v; });
    };
    var soFar = function (values, current) {
      return values.map(function (v, i) { return current >= 0 && (i === current || i === current - 1) ? v : null; });
    };
    var toColumns = function (s) {
      var c = typeof s.current === 'number' ? s.current : -1;
      return [s.t, complete(s.total, c), complete(s.blocked, c), complete(s.monitored || [], c), complete(s.allowed, c), soFar(s.total, c)];
    };
    var width = function () { return Math.max(240, chartEl.clientWidth - 4); };
    var plot = new window.uPlot({
      width: width(), height: 300,
      scales: { x: { time: true } },
      series: [
        {},
        { label: 'Requests', stroke: '#2857c5', fill: 'rgba(40,87,197,0.08)', width: 2 },
        { label: 'Blocked', stroke: '#c62f2f', width: 2 },
        { label: 'Would have blocked', stroke: '#b7791f', width: 2, dash: [6, 3] },
        { label: 'Allowed', stroke: '#1f8a4c', width: 2 },
        { label: 'Requests so far (this bucket)', stroke: '#2857c5', width: 2, dash: [3, 4] },
      ],
      axes: [{}, { size: 60, label: chartEl.getAttribute('data-unit') || 'Requests', labelSize: 18 }],
    }, toColumns(data.series), chartEl);
    chartEl.setAttribute('data-points', String(data.series.t.length));
    chartEl.setAttribute('data-total', String(data.totals.total));
    chartEl.setAttribute('data-series', plot.series.slice(1).map(function (s) { return s.label; }).join('|'));
    window.addEventListener('resize', function () { plot.setSize({ width: width(), height: 300 }); });

    var setStat = function (name, value) {
      var el = document.querySelector('[data-stat="' + name + '"]');
      if (el) el.textContent = Number(value).toLocaleString('en-US');
    };
    var live = document.getElementById('live');
    var refresh = function () {
      if (!live || !live.checked || document.hidden) return;
      fetch(chartEl.getAttribute('data-url'), { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (next) {
          if (!next) return;
          plot.setData(toColumns(next.series));
          ['total', 'blocked', 'allowed', 'passed', 'monitored'].forEach(function (k) { setStat(k, next.totals[k]); });
          setStat('uniqueIps', next.uniqueIps);
          chartEl.setAttribute('data-total', String(next.totals.total));
        })
        .catch(function () { /* the next tick tries again */ });
    };
    setInterval(refresh, 10000);
  }
})();
