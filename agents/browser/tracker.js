// Tributary's page-view tracker. Add to a page:
//   <script defer src="https://collector.example/tracker.js" data-site="example.com"></script>
// It sends one page view on load and one per SPA navigation (history.pushState / popstate) with
// navigator.sendBeacon (fetch keepalive as the fallback). No cookies, no storage, nothing when the
// visitor asks not to be tracked (Do Not Track or Global Privacy Control). The collector adds the user
// agent and a cookieless visitor id (a daily-salted hash) on its side.
(function () {
  var w = window, d = document, n = navigator, l = location, h = history, s = d.currentScript;
  if (!s || n.doNotTrack === '1' || w.doNotTrack === '1' || n.globalPrivacyControl) return;
  var api = s.getAttribute('data-api') || new URL('/api/event', s.src).href;
  var site = s.getAttribute('data-site') || l.hostname;
  var last;
  function send(navigation) {
    if (l.href === last) return;
    last = l.href;
    var q = new URLSearchParams(l.search), utm = {};
    ['source', 'medium', 'campaign', 'term', 'content'].forEach(function (k) {
      var v = q.get('utm_' + k);
      if (v) utm[k] = v;
    });
    var body = JSON.stringify({
      site: site,
      url: l.href,
      path: l.pathname,
      referrer: d.referrer || undefined,
      title: d.title,
      screen: { width: screen.width, height: screen.height },
      language: n.language,
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      utm: utm,
      navigation: navigation,
    });
    if (!(n.sendBeacon && n.sendBeacon(api, body))) fetch(api, { method: 'POST', body: body, keepalive: true, headers: { 'content-type': 'text/plain' } });
  }
  var push = h.pushState;
  h.pushState = function () {
    push.apply(this, arguments);
    send('spa');
  };
  w.addEventListener('popstate', function () {
    send('spa');
  });
  send('load');
})();
