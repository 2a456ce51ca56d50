// The recsys gateway's web page: recommendations, feedback, similar items,
// search and questions over the gateway's HTTP/JSON API (/v1/...).
//
// Text that comes from the API is only ever put in the page with textContent
// or as an attribute value: never parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'recsys.token';
  const RECENT_USERS_KEY = 'recsys.recentUsers';
  const MAX_RECENT_USERS = 8;

  const PATHS = {
    PATH_FULL: 'retrieval and ranking',
    PATH_RETRIEVAL_ONLY: 'retrieval only (ranking was not used)',
    PATH_TRENDING_FALLBACK: 'trending items (personalised retrieval was not available)',
    PATH_COLD_START: 'cold start (no history for this user)',
  };

  const $ = (id) => document.getElementById(id);

  // ---- storage (localStorage can be unavailable or refuse writes) ----
  const storage = {
    get(key, fallback) {
      try {
        const v = window.localStorage.getItem(key);
        return v === null ? fallback : v;
      } catch (e) {
        return fallback;
      }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { /* not kept */ }
    },
    remove(key) {
      try { window.localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
    },
  };

  // ---- API ----
  class ApiError extends Error {
    constructor(httpStatus, status, message) {
      super(message);
      this.httpStatus = httpStatus;  // 0 when the gateway did not answer
      this.status = status;          // e.g. INVALID_ARGUMENT
    }
    describe() {
      const head = this.httpStatus ? `HTTP ${this.httpStatus}` : 'No answer';
      const parts = [head];
      if (this.status) parts.push(this.status);
      let text = parts.join(' ');
      if (this.message) text += `: ${this.message}`;
      if (this.httpStatus === 401) text += ' (set an access token at the top of the page)';
      if (this.httpStatus === 403) text += ' (the access token does not allow this)';
      return text;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = storage.get(TOKEN_KEY, '');
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      // Relative to the page, so the page also works behind a path prefix.
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'UNAVAILABLE', `the gateway did not answer (${e.message})`);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!response.ok) {
      const err = data && typeof data === 'object' ? data.error : null;
      if (err && typeof err === 'object') {
        throw new ApiError(response.status, String(err.status || ''), String(err.message || ''));
      }
      throw new ApiError(response.status, response.statusText || '', text.trim().slice(0, 200));
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new ApiError(response.status, 'BAD_ANSWER', 'the answer is not a JSON object');
    }
    return data;
  }

  const seg = (s) => encodeURIComponent(s);
  const list = (v) => (Array.isArray(v) ? v : []);

  // ---- small DOM helpers ----
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'className') node.className = v;
        else if (k === 'onclick') node.addEventListener('click', v);
        else node.setAttribute(k, String(v));
      }
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function formatScore(score) {
    const n = Number(score);
    return Number.isFinite(n) ? n.toFixed(3) : String(score);
  }

  function showError(prefix, err) {
    const box = $(`${prefix}-error`);
    box.textContent = err instanceof ApiError ? err.describe() : `Error: ${err && err.message}`;
    box.hidden = false;
  }

  function clearError(prefix) {
    const box = $(`${prefix}-error`);
    box.textContent = '';
    box.hidden = true;
  }

  function setState(panel, state) {
    panel.dataset.state = state;
    panel.setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
    for (const b of panel.querySelectorAll('form button[type=submit]')) {
      b.disabled = state === 'loading';
    }
  }

  function fillNotes(ul, notes) {
    ul.replaceChildren(...list(notes).map((n) => el('li', { text: n })));
  }

  // One item row: title, id, categories, score, optional action buttons.
  function itemRow(item, testid, actions) {
    const id = String(item.itemId || '');
    const title = item.title ? String(item.title) : id;
    const li = el('li', { className: 'item', 'data-testid': testid, 'data-item-id': id });
    const main = el('div', { className: 'item-main' },
      el('span', { className: 'title', 'data-testid': 'item-title', text: title }),
      el('span', { className: 'item-id', 'data-testid': 'item-id', text: id }));
    const cats = list(item.categories);
    if (cats.length) {
      main.append(el('ul', { className: 'cats', 'aria-label': 'Categories', 'data-testid': 'item-categories' },
        ...cats.map((c) => el('li', { text: c }))));
    }
    if (item.score !== undefined) {
      main.append(el('span', { className: 'score', 'data-testid': 'item-score', text: `score ${formatScore(item.score)}` }));
    }
    li.append(main);
    if (actions && actions.length) {
      const bar = el('div', { className: 'item-actions' });
      for (const a of actions) {
        bar.append(el('button', {
          type: 'button',
          className: a.primary ? 'primary' : '',
          'data-testid': a.testid,
          'aria-label': `${a.label}: ${title}`,
          text: a.label,
          onclick: () => a.run(id, title),
        }));
      }
      li.append(bar);
    }
    return li;
  }

  function emptyRow(text) {
    return el('li', { className: 'empty', 'data-testid': 'empty', text });
  }

  const moreLikeThis = { label: 'More like this', testid: 'more-like-this', run: (id, title) => showSimilar(id, title) };

  // ---- recent users (datalist) ----
  function recentUsers() {
    try {
      const v = JSON.parse(storage.get(RECENT_USERS_KEY, '[]'));
      return Array.isArray(v) ? v.filter((u) => typeof u === 'string' && u) : [];
    } catch (e) {
      return [];
    }
  }

  function renderRecentUsers() {
    $('recent-users').replaceChildren(...recentUsers().map((u) => el('option', { value: u })));
  }

  function rememberUser(user) {
    const users = [user, ...recentUsers().filter((u) => u !== user)].slice(0, MAX_RECENT_USERS);
    storage.set(RECENT_USERS_KEY, JSON.stringify(users));
    renderRecentUsers();
  }

  // ---- model information ----
  async function loadModelInfo() {
    const box = $('model-info');
    try {
      const m = await api('GET', 'v1/model');
      const parts = [`Model ${m.modelName || '?'} ${m.modelVersion || ''}`.trim()];
      if (m.numItems !== undefined) parts.push(`${m.numItems} items`);
      if (m.numUsers !== undefined) parts.push(`${m.numUsers} users`);
      box.textContent = parts.join(' · ');
      box.classList.remove('error-text');
    } catch (e) {
      box.textContent = `Model information unavailable: ${e instanceof ApiError ? e.describe() : e.message}`;
      box.classList.add('error-text');
    }
  }

  // ---- recommendations and feedback ----
  const rec = {
    ticket: 0,
    shown: null,  // { user, ids: [...] } of the list on screen
  };

  function recommendUrl(user) {
    const params = new URLSearchParams();
    params.set('k', String($('rec-k').value || '10'));
    const cats = $('rec-categories').value.split(',').map((c) => c.trim()).filter(Boolean);
    if (cats.length) params.set('categories', cats.join(','));
    if ($('rec-debug').checked) params.set('debug', 'true');
    return `v1/recommend/${seg(user)}?${params}`;
  }

  // Fetches and shows recommendations for `user`. Resolves to
  // { ids, added } (added: items not in the previous list of the same user),
  // or null when it failed or a newer request superseded it.
  async function recommend(user) {
    const panel = $('panel-user');
    const ticket = ++rec.ticket;
    setState(panel, 'loading');
    clearError('rec');
    let data;
    try {
      data = await api('GET', recommendUrl(user));
    } catch (e) {
      if (ticket !== rec.ticket) return null;
      showError('rec', e);
      $('rec-list').replaceChildren();
      $('rec-meta').hidden = true;
      fillNotes($('rec-notes'), []);
      rec.shown = null;
      setState(panel, 'error');
      return null;
    }
    if (ticket !== rec.ticket) return null;

    const items = list(data.items);
    const before = rec.shown && rec.shown.user === user ? new Set(rec.shown.ids) : null;
    const added = [];
    const rows = items.map((item) => {
      const row = itemRow(item, 'rec-item', [
        { label: 'Clicked', testid: 'feedback-click', primary: true, run: (id, title) => sendFeedback(user, id, title, 'click') },
        { label: 'Liked', testid: 'feedback-like', run: (id, title) => sendFeedback(user, id, title, 'like') },
        moreLikeThis,
      ]);
      if (before && !before.has(String(item.itemId))) {
        row.classList.add('is-new');
        row.dataset.new = 'true';
        row.querySelector('.item-main').prepend(el('span', { className: 'badge', text: 'new' }));
        added.push(String(item.itemId));
      }
      return row;
    });
    $('rec-list').replaceChildren(...(rows.length ? rows : [emptyRow('No recommendations.')]));

    const path = String(data.path || '');
    $('rec-path').textContent = PATHS[path] ? `${path} — ${PATHS[path]}` : path || 'unknown';
    $('rec-path').dataset.path = path;
    const degraded = data.degraded === true;
    $('rec-degraded').textContent = degraded ? 'yes — a fallback answered' : 'no';
    $('rec-degraded').classList.toggle('warn', degraded);
    $('rec-model').textContent = String(data.modelVersion || '—');
    const timings = list(data.timings).map((t) => `${t.stage} ${(Number(t.micros) / 1000).toFixed(1)} ms`);
    $('rec-timings').textContent = timings.join(' · ');
    $('rec-timings').hidden = !timings.length;
    $('rec-timings-label').hidden = !timings.length;
    $('rec-meta').hidden = false;
    fillNotes($('rec-notes'), data.notes);

    const ids = items.map((i) => String(i.itemId));
    rec.shown = { user, ids };
    $('rec-list').dataset.user = user;
    $('rec-list').dataset.generation = String(ticket);
    rememberUser(user);
    setState(panel, 'ready');
    return { ids, added };
  }

  async function onRecommend(event) {
    event.preventDefault();
    const user = $('user-id').value.trim();
    if (!user) return;
    const result = await recommend(user);
    if (result) {
      $('rec-status').textContent = `${result.ids.length} recommendation${result.ids.length === 1 ? '' : 's'} for ${user}.`;
    } else if (rec.shown === null) {
      $('rec-status').textContent = '';
    }
    if (!$('history').hidden) loadHistory(user);
  }

  // Records one event, then refreshes the list and says what changed.
  async function sendFeedback(user, itemId, title, eventName) {
    const status = $('rec-status');
    clearError('rec');
    status.textContent = `Sending ${eventName} on “${title}”…`;
    let answer;
    try {
      answer = await api('POST', 'v1/feedback', { userId: user, itemId, event: eventName });
    } catch (e) {
      status.textContent = '';
      showError('rec', e);
      return;
    }
    const recorded = `Feedback recorded (sequence ${answer.sequence}): ${eventName} on “${title}” (${itemId}) for ${user}.`;
    status.textContent = `${recorded} Refreshing…`;
    if (!$('history').hidden) loadHistory(user);
    if (!rec.shown || rec.shown.user !== user) {
      status.textContent = recorded;
      return;
    }
    const result = await recommend(user);
    if (!result) {
      status.textContent = recorded;
      return;
    }
    const parts = [recorded];
    parts.push(result.ids.includes(itemId) ? 'It is still recommended.' : 'It left the list.');
    if (result.added.length) {
      parts.push(`${result.added.length} new item${result.added.length === 1 ? '' : 's'} highlighted.`);
    }
    status.textContent = parts.join(' ');
  }

  async function onFeedbackForm(event) {
    event.preventDefault();
    const user = $('user-id').value.trim();
    const itemId = $('feedback-item').value.trim();
    if (!user) {
      showError('rec', new Error('enter a user id first'));
      $('user-id').focus();
      return;
    }
    if (!itemId) return;
    await sendFeedback(user, itemId, itemId, $('feedback-event').value);
  }

  // ---- history ----
  let historyTicket = 0;
  async function loadHistory(user) {
    const ticket = ++historyTicket;
    $('history').hidden = false;
    clearError('history');
    $('history-status').textContent = `Loading the history of ${user}…`;
    let data;
    try {
      data = await api('GET', `v1/history/${seg(user)}?max_events=50`);
    } catch (e) {
      if (ticket !== historyTicket) return;
      $('history-status').textContent = '';
      $('history-list').replaceChildren();
      showError('history', e);
      return;
    }
    if (ticket !== historyTicket) return;
    const events = list(data.events);
    $('history-status').textContent = `${events.length} recent event${events.length === 1 ? '' : 's'} of ${user}, newest last.`;
    $('history-list').replaceChildren(...(events.length ? events.map((ev) => {
      const id = String(ev.itemId || '');
      const when = new Date(Number(ev.timestampS) * 1000);
      const whenText = Number.isFinite(when.getTime()) ? when.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '';
      return el('li', { className: 'item', 'data-testid': 'history-event', 'data-item-id': id },
        el('div', { className: 'item-main' },
          el('span', { className: 'title', text: ev.title ? String(ev.title) : id }),
          el('span', { className: 'item-id', text: id }),
          el('span', { className: 'score', text: [ev.event || 'event', `weight ${formatScore(ev.weight)}`, whenText].filter(Boolean).join(' · ') })));
    }) : [emptyRow('No stored events.')]));
  }

  function onHistory() {
    const user = $('user-id').value.trim();
    if (!user) {
      $('user-id').focus();
      return;
    }
    loadHistory(user);
  }

  // ---- similar items ----
  let similarTicket = 0;
  async function showSimilar(itemId, title) {
    const panel = $('panel-similar');
    const ticket = ++similarTicket;
    $('similar-item').value = itemId;
    setState(panel, 'loading');
    clearError('similar');
    $('similar-status').textContent = `Looking for items like “${title}”…`;
    if (title !== undefined) {
      // Brings the panel into view when it is below (stacked on a phone).
      const top = panel.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight * 0.6) panel.scrollIntoView({ block: 'start' });
    }
    const k = $('similar-k').value || '5';
    let data;
    try {
      data = await api('GET', `v1/similar/${seg(itemId)}?k=${seg(k)}`);
    } catch (e) {
      if (ticket !== similarTicket) return;
      $('similar-status').textContent = '';
      $('similar-results').hidden = true;
      showError('similar', e);
      setState(panel, 'error');
      return;
    }
    if (ticket !== similarTicket) return;
    const content = list(data.content);
    const collab = list(data.collaborative);
    $('similar-content').replaceChildren(...(content.length
      ? content.map((i) => itemRow(i, 'similar-content-item', [moreLikeThis]))
      : [emptyRow('No items with similar content.')]));
    $('similar-collab').replaceChildren(...(collab.length
      ? collab.map((i) => itemRow(i, 'similar-collab-item', [moreLikeThis]))
      : [emptyRow('No items watched by the same people.')]));
    $('similar-results').hidden = false;
    $('similar-status').textContent = `Like “${title || itemId}” (${itemId}): ${content.length} with similar content, ${collab.length} watched by the same people.`;
    panel.dataset.itemId = itemId;
    setState(panel, 'ready');
  }

  function onSimilarForm(event) {
    event.preventDefault();
    const itemId = $('similar-item').value.trim();
    if (itemId) showSimilar(itemId, itemId);
  }

  // ---- search ----
  let searchTicket = 0;
  async function onSearch(event) {
    event.preventDefault();
    const q = $('search-q').value.trim();
    if (!q) return;
    const panel = $('panel-search');
    const ticket = ++searchTicket;
    setState(panel, 'loading');
    clearError('search');
    $('search-status').textContent = `Searching for “${q}”…`;
    const params = new URLSearchParams({ q, k: String($('search-k').value || '10') });
    let data;
    try {
      data = await api('GET', `v1/search?${params}`);
    } catch (e) {
      if (ticket !== searchTicket) return;
      $('search-status').textContent = '';
      $('search-results').replaceChildren();
      showError('search', e);
      setState(panel, 'error');
      return;
    }
    if (ticket !== searchTicket) return;
    const items = list(data.items);
    $('search-results').replaceChildren(...(items.length
      ? items.map((i) => itemRow(i, 'search-item', [moreLikeThis]))
      : [emptyRow('Nothing matched.')]));
    $('search-status').textContent = `${items.length} result${items.length === 1 ? '' : 's'} for “${q}”.`;
    setState(panel, 'ready');
  }

  // ---- ask ----
  let askTicket = 0;
  async function onAsk(event) {
    event.preventDefault();
    const question = $('ask-question').value.trim();
    if (!question) return;
    const panel = $('panel-ask');
    const ticket = ++askTicket;
    setState(panel, 'loading');
    clearError('ask');
    $('ask-result').hidden = true;
    $('ask-status').textContent = 'Thinking…';
    let data;
    try {
      data = await api('POST', 'v1/ask', { question, k: Number($('ask-k').value || '5') });
    } catch (e) {
      if (ticket !== askTicket) return;
      $('ask-status').textContent = '';
      if (e instanceof ApiError && (e.httpStatus === 404 || e.httpStatus === 501)) {
        $('ask-error').textContent = `Asking questions is not available on this gateway (${e.describe()}).`;
        $('ask-error').hidden = false;
        setState(panel, 'unavailable');
      } else {
        showError('ask', e);
        setState(panel, 'error');
      }
      return;
    }
    if (ticket !== askTicket) return;
    $('ask-answer').textContent = String(data.answer || '');
    $('ask-mode').textContent = String(data.mode || '—');
    $('ask-model').textContent = String(data.modelVersion || '—');
    fillNotes($('ask-notes'), data.notes);
    const citations = list(data.citations);
    $('ask-citations').replaceChildren(...(citations.length ? citations.map((c) => {
      const row = itemRow(c, 'ask-citation', [moreLikeThis]);
      if (c.snippet) {
        row.querySelector('.item-main').append(el('q', { className: 'snippet', 'data-testid': 'citation-snippet', text: c.snippet }));
      }
      return row;
    }) : [emptyRow('No sources cited.')]));
    $('ask-result').hidden = false;
    $('ask-status').textContent = `Answered from ${citations.length} source${citations.length === 1 ? '' : 's'}.`;
    setState(panel, 'ready');
  }

  // ---- token ----
  function onTokenSave(event) {
    event.preventDefault();
    const token = $('token').value.trim();
    if (token) {
      storage.set(TOKEN_KEY, token);
      $('token-status').textContent = 'Token saved in this browser; it is sent with every request.';
    } else {
      storage.remove(TOKEN_KEY);
      $('token-status').textContent = 'No token: requests are sent without one.';
    }
    loadModelInfo();
  }

  function onTokenClear() {
    $('token').value = '';
    storage.remove(TOKEN_KEY);
    $('token-status').textContent = 'Token removed from this browser.';
    loadModelInfo();
  }

  function init() {
    $('token').value = storage.get(TOKEN_KEY, '');
    renderRecentUsers();
    const recent = recentUsers();
    if (recent.length && !$('user-id').value) $('user-id').value = recent[0];
    $('token-form').addEventListener('submit', onTokenSave);
    $('token-clear').addEventListener('click', onTokenClear);
    $('recommend-form').addEventListener('submit', onRecommend);
    $('history-btn').addEventListener('click', onHistory);
    $('feedback-form').addEventListener('submit', onFeedbackForm);
    $('similar-form').addEventListener('submit', onSimilarForm);
    $('search-form').addEventListener('submit', onSearch);
    $('ask-form').addEventListener('submit', onAsk);
    for (const id of ['panel-user', 'panel-similar', 'panel-search', 'panel-ask']) setState($(id), 'idle');
    document.body.dataset.ready = 'true';
    loadModelInfo();
  }

  init();
})();
