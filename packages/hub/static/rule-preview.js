// The rules page's "Preview" result: what the draft rule would have matched in the stored reports, and
// how many of those requests it would change. The panel itself (draft, job, progress) is preview-panel.js.
(function () {
  'use strict';

  var ui = window.moatPreview;
  if (!ui) return;
  var el = ui.el;
  var number = ui.number;

  ui.panel('data-rule-preview', 'rule-preview', function (job) {
    var r = job.result;
    var m = r.matched;
    var allow = job.rule.action === 'allow';
    var summary = el('p', null, 'preview-summary');
    summary.setAttribute('data-preview-summary', '');
    summary.textContent = 'Of ' + number(r.requests) + ' requests, it would have matched ' + number(m.requests)
      + ' from ' + (m.distinctIpsAtLeast ? 'at least ' : '') + number(m.distinctIps) + ' IPs; '
      + number(r.wouldChange) + (allow ? ' of them were blocked and would now be allowed.' : ' of them were passed or allowed and would now be blocked.');
    var changed = el('strong', number(r.wouldChange));
    changed.setAttribute('data-preview-would-change', '');
    var headline = el('p');
    headline.appendChild(el('span', allow ? 'Newly allowed: ' : 'Newly blocked: '));
    headline.appendChild(changed);
    var top = function (list) { return list.entries.map(function (e) { return [e.value, number(e.count)]; }); };
    return [
      el('h3', 'Preview: ' + job.rule.kind + ' ' + job.rule.value + ' over the last ' + job.range),
      headline,
      summary,
      el('p', 'Recorded treatments of the matched requests: Passed ' + number(m.recorded.Passed) + ', Allowed ' + number(m.recorded.Allowed)
        + ', Blocked ' + number(m.recorded.Blocked) + '. Scanned ' + number(job.scanned) + ' reports in ' + (job.elapsedMs / 1000).toFixed(1) + ' s.', 'hint'),
      ui.table('Top IPs', ['IP', 'Requests'], top(m.topIps)),
      ui.table('Top paths', ['Path', 'Requests'], top(m.topPaths)),
      ui.table('Top user agents', ['User agent', 'Requests'], top(m.topUserAgents)),
      ui.table('Example requests', ['Time (UTC)', 'IP', 'Method', 'Host', 'Path', 'User agent', 'Recorded'], m.examples.map(function (e) {
        return [e.ts === null ? '' : ui.time(e.ts), e.ip, e.method, e.host, e.path, e.userAgent, e.recorded || ''];
      })),
    ];
  });
})();
