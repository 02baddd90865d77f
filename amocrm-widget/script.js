/*
 * MikoPBX call panel for amoCRM (seed 002: «Панель управления вызовами»).
 *
 * amoCRM loads this file with require.js and calls the callbacks below: render → init →
 * bind_actions on every page (init_once: the socket survives page changes), settings / onSave on
 * the widget's settings page, destroy when it is switched off. Everything the panel knows comes
 * from the connector (crm-connector): GET <public_url>/amocrm/widget/live is a WebSocket that
 * sends the employees, their presence and this employee's calls; POST originate / hangup /
 * transfer / card act. The widget token goes in the Authorization header of each POST and as the
 * first message of the socket (a browser cannot set headers on a WebSocket).
 */
define(['jquery', 'lib/components/base/modal'], function ($, Modal) {
  'use strict';

  var ROOT_CLASS = 'mikopbx-panel';
  var RECONNECT_MIN = 1000;
  var RECONNECT_MAX = 30000;
  var REQUEST_TIMEOUT = 15000;
  var ENDED_LINGER = 15000; // an ended call's pop-up stays this long, then goes
  var MAX_POPUPS = 5;
  var NUMBER = /^\+?[\d\s()\-.]{2,25}$/;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function digits(text) {
    return String(text || '').replace(/[^\d+]/g, '');
  }

  function clock(seconds) {
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return (m < 10 ? '0' : '') + m + ':' + (s < 10 ? '0' : '') + s;
  }

  var CustomWidget = function () {
    var self = this;
    var st = {
      socket: null,
      stopped: true,
      retry: RECONNECT_MIN,
      retryTimer: null,
      ticker: null,
      employees: [],
      presence: {},
      extension: null,
      calls: {}, // call id → {event, caller, answeredAt, ended, node}
      root: null,
      refusedToken: false
    };

    // -- what amoCRM gives the widget ---------------------------------------------------------

    function t(key) {
      var panel = self.i18n('panel') || {};
      return panel[key] || key;
    }

    function settings() {
      var s = self.get_settings() || {};
      return { url: String(s.public_url || '').replace(/\/+$/, ''), token: String(s.token || '') };
    }

    function userId() {
      var system = self.system() || {};
      return String(system.amouser_id || '');
    }

    function notifyError(text) {
      if (window.APP && APP.notifications) {
        APP.notifications.show_message_error({ header: t('error'), text: text });
      }
    }

    function notify(text) {
      if (window.APP && APP.notifications) {
        APP.notifications.show_message({ header: t('title'), text: text, date: Math.floor(Date.now() / 1000) });
      }
    }

    function openPreference() {
      try {
        return window.localStorage.getItem('mikopbx_open_card_' + userId()) || 'never';
      } catch (e) {
        return 'never';
      }
    }

    function setOpenPreference(value) {
      try {
        window.localStorage.setItem('mikopbx_open_card_' + userId(), value);
      } catch (e) { /* private mode: the choice lasts this page only */ }
    }

    // -- the connector's HTTP endpoints -------------------------------------------------------

    function post(path, body) {
      var cfg = settings();
      var controller = new AbortController();
      var timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT);
      body.user_id = userId();
      return fetch(cfg.url + '/amocrm/widget/' + path, {
        method: 'POST',
        headers: { 'Authorization': 'Bearer ' + cfg.token, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (!response.ok) {
            var reason = answer.error || (response.status === 401 ? t('bad_token') : 'HTTP ' + response.status);
            if (response.status === 429) {  // the click-to-call rate: passes, Retry-After says when
              reason = t('too_many').replace('{seconds}', response.headers.get('Retry-After') || '60');
            }
            throw new Error(reason);
          }
          return answer;
        });
      }).finally(function () { clearTimeout(timer); });
    }

    function act(path, body) {
      return post(path, body).catch(function (err) {
        notifyError(err.message || String(err));
        throw err;
      });
    }

    function dial(number) {
      var wanted = String(number || '').trim();
      if (!wanted) return Promise.resolve(null);
      return act('originate', { number: digits(wanted) }).then(function (answer) {
        notify(t('dialing_to') + ' ' + wanted);
        return answer;
      }, function () { return null; });
    }

    function openCard(call, create) {
      var caller = call.caller || {};
      if (caller.known && caller.url) {
        navigate(caller.url);
        return Promise.resolve(caller);
      }
      if (!create) return Promise.resolve(null);
      return act('card', { number: call.event.client }).then(function (card) {
        call.caller = { known: true, name: card.name, url: card.url, id: card.id, kind: card.kind };
        drawPopup(call);
        if (card.created) notify(t('contact_created') + ': ' + card.name);
        navigate(card.url);
        return card;
      }, function () { return null; });
    }

    function navigate(url) {
      var path = url;
      try { path = new URL(url, window.location.href).pathname; } catch (e) { /* keep as is */ }
      if (window.APP && APP.router && typeof APP.router.navigate === 'function') {
        APP.router.navigate(path, { trigger: true });
      } else {
        window.location.href = path;
      }
    }

    // -- the live socket ----------------------------------------------------------------------

    function connect() {
      var cfg = settings();
      if (!cfg.url || !cfg.token || st.refusedToken) return;
      st.stopped = false;
      var socket = new WebSocket(cfg.url.replace(/^http/, 'ws') + '/amocrm/widget/live');
      st.socket = socket;
      socket.onopen = function () {
        socket.send(JSON.stringify({ token: cfg.token, user_id: userId() }));
      };
      socket.onmessage = function (msg) {
        var data;
        try { data = JSON.parse(msg.data); } catch (e) { return; }
        st.retry = RECONNECT_MIN;
        receive(data);
      };
      socket.onclose = function (evt) {
        if (st.socket === socket) st.socket = null;
        setOnline(false);
        if (evt.code === 4401) {
          st.refusedToken = true; // retrying with the same token would only be refused again
          notifyError(t('bad_token'));
          return;
        }
        if (!st.stopped) {
          st.retryTimer = setTimeout(connect, st.retry);
          st.retry = Math.min(st.retry * 2, RECONNECT_MAX);
        }
      };
    }

    function disconnect() {
      st.stopped = true;
      clearTimeout(st.retryTimer);
      if (st.socket) st.socket.close();
      st.socket = null;
    }

    function receive(data) {
      if (data.presence) st.presence = data.presence;
      if (data.type === 'hello') {
        st.employees = data.employees || [];
        st.extension = data.extension || null;
        setOnline(true);
      } else if (data.type === 'call') {
        onCall(data.event, data.caller || {});
      }
      drawList();
    }

    function onCall(event, caller) {
      var call = st.calls[event.call_id];
      if (!call) {
        if (event.kind === 'ended') return;
        call = st.calls[event.call_id] = { event: event, caller: caller, answeredAt: null, ended: false };
        trimPopups();
      }
      if (caller && caller.known !== undefined) call.caller = caller;
      call.event = event;
      var mine = event.exten === st.extension;
      if (event.kind === 'ringing') {
        if (mine) showPanel(); // seed: a hidden panel shows itself on an incoming call
        if (mine && openPreference() === 'ring') openCard(call, false);
      } else if (event.kind === 'answered' || event.kind === 'transferred') {
        if (mine && !call.answeredAt) {
          call.answeredAt = Date.now();
          if (openPreference() === 'answer') openCard(call, false);
        } else if (!mine) {
          // a colleague now talks to the client: they picked it up while it rang here, or the call
          // was ours and went to them (a blind transfer, or an attended one once we hung up)
          call.elsewhere = event.kind === 'transferred' || call.answeredAt ? 'transferred' : 'answered';
          endCall(call);
        }
      } else if (event.kind === 'ended') {
        endCall(call);
      }
      drawPopup(call);
    }

    function endCall(call) {
      if (call.ended) return;
      call.ended = true;
      call.endedAt = Date.now();
      setTimeout(function () { removePopup(call); }, ENDED_LINGER);
    }

    function trimPopups() {
      var ids = Object.keys(st.calls);
      while (ids.length > MAX_POPUPS) removePopup(st.calls[ids.shift()]);
    }

    function removePopup(call) {
      if (!call) return;
      if (call.node && call.node.parentNode) call.node.parentNode.removeChild(call.node);
      delete st.calls[call.event.call_id];
    }

    function activeCall() {
      var ids = Object.keys(st.calls);
      for (var i = ids.length - 1; i >= 0; i--) {
        var call = st.calls[ids[i]];
        if (!call.ended) return call;
      }
      return null;
    }

    // -- the panel ----------------------------------------------------------------------------

    function buildPanel() {
      if (st.root && document.body.contains(st.root)) return;
      var root = el('div', ROOT_CLASS);
      root.setAttribute('data-testid', 'mikopbx-panel');
      var head = el('div', ROOT_CLASS + '__head');
      var title = el('span', ROOT_CLASS + '__title', t('title'));
      var status = el('span', ROOT_CLASS + '__status', t('offline'));
      var toggleList = el('button', ROOT_CLASS + '__btn js-mikopbx-toggle-list', '☰');
      toggleList.title = t('hide_list');
      var options = el('button', ROOT_CLASS + '__btn js-mikopbx-options', '⚙');
      options.title = t('options');
      var hide = el('button', ROOT_CLASS + '__btn js-mikopbx-hide', '×');
      hide.title = t('hide_panel');
      head.append(title, status, toggleList, options, hide);

      var prefs = el('label', ROOT_CLASS + '__prefs');
      prefs.hidden = true;
      prefs.append(el('span', '', t('open_card_label') + ': '));
      var select = el('select', 'js-mikopbx-open-card');
      ['never', 'ring', 'answer'].forEach(function (value) {
        var option = el('option', '', t('open_' + value));
        option.value = value;
        select.append(option);
      });
      select.value = openPreference();
      prefs.append(select);

      var search = el('input', ROOT_CLASS + '__search js-mikopbx-search');
      search.type = 'text';
      search.placeholder = t('search');
      search.autocomplete = 'off';
      var list = el('ul', ROOT_CLASS + '__list js-mikopbx-list');
      var popups = el('div', ROOT_CLASS + '__popups js-mikopbx-popups');
      var edge = el('div', 'mikopbx-edge js-mikopbx-edge');
      root.append(popups, head, prefs, search, list);
      document.body.append(root, edge);
      st.root = root;
      st.edge = edge;
    }

    function bindPanel() {
      var root = st.root;
      root.querySelector('.js-mikopbx-hide').addEventListener('click', hidePanel);
      root.querySelector('.js-mikopbx-toggle-list').addEventListener('click', toggleList);
      root.querySelector('.js-mikopbx-options').addEventListener('click', function () {
        var prefs = root.querySelector('.' + ROOT_CLASS + '__prefs');
        prefs.hidden = !prefs.hidden;
      });
      root.querySelector('.js-mikopbx-open-card').addEventListener('change', function (e) {
        setOpenPreference(e.target.value);
      });
      var search = root.querySelector('.js-mikopbx-search');
      search.addEventListener('input', drawList);
      search.addEventListener('keydown', function (e) {
        if (e.key === 'Enter') {
          e.preventDefault();
          enter(search);
        }
      });
      root.querySelector('.js-mikopbx-list').addEventListener('dblclick', function (e) {
        var item = e.target.closest('[data-extension]');
        if (item) employeeChosen(item.getAttribute('data-extension'));
      });
      // seed: «Чтобы открыть спрятанную панель, необходимо отвести мышь к правой границе окна»
      st.edge.addEventListener('mouseenter', showPanel);
    }

    function hidePanel() {
      st.root.classList.add(ROOT_CLASS + '_hidden');
    }

    function showPanel() {
      if (st.root) st.root.classList.remove(ROOT_CLASS + '_hidden');
    }

    function toggleList() {
      var hidden = st.root.classList.toggle(ROOT_CLASS + '_no-list');
      st.root.querySelector('.js-mikopbx-toggle-list').title = hidden ? t('show_list') : t('hide_list');
    }

    function setOnline(online) {
      if (!st.root) return;
      var status = st.root.querySelector('.' + ROOT_CLASS + '__status');
      var text = online ? t('online') : t('offline');
      if (online && !st.extension) text = t('no_extension');
      status.textContent = text;
      st.root.classList.toggle(ROOT_CLASS + '_online', online);
    }

    function filtered() {
      var query = st.root.querySelector('.js-mikopbx-search').value.trim().toLowerCase();
      if (!query) return st.employees.slice();
      var wanted = digits(query);
      return st.employees.filter(function (e) {
        var name = String(e.name || '').toLowerCase();
        return name.indexOf(query) !== -1 || (wanted && String(e.extension).indexOf(wanted) === 0);
      });
    }

    // seed: text filters the list; Enter dials the one employee left (even on a partial number),
    // else the number typed.
    function enter(search) {
      var value = search.value.trim();
      if (!value) return;
      var left = filtered();
      var target = left.length === 1 ? left[0].extension : (NUMBER.test(value) ? value : null);
      if (!target) return;
      dial(target).then(function (answer) { if (answer) { search.value = ''; drawList(); } });
    }

    function employeeChosen(extension) {
      var call = activeCall();
      if (call && call.answeredAt) {
        transferDialog(call, extension);
      } else if (!call) {
        dial(extension);
      } else {
        notifyError(t('no_call'));
      }
    }

    function employeeName(extension) {
      var found = st.employees.filter(function (e) { return e.extension === extension; })[0];
      return found ? found.name + ' (' + extension + ')' : String(extension || '');
    }

    function drawList() {
      if (!st.root) return;
      var list = st.root.querySelector('.js-mikopbx-list');
      list.textContent = '';
      var shown = filtered();
      if (!shown.length) list.append(el('li', ROOT_CLASS + '__empty', t('empty')));
      shown.forEach(function (e) {
        var state = st.presence[e.extension] || 'idle';
        var item = el('li', ROOT_CLASS + '__item ' + ROOT_CLASS + '__item_' + state);
        item.setAttribute('data-extension', e.extension);
        item.setAttribute('data-state', state);
        item.title = t(state);
        item.append(
          el('span', ROOT_CLASS + '__dot'),
          el('span', ROOT_CLASS + '__name', e.name),
          el('span', ROOT_CLASS + '__ext', e.extension)
        );
        if (e.extension === st.extension) item.classList.add(ROOT_CLASS + '__item_me');
        list.append(item);
      });
    }

    // -- the pop-up of one call ---------------------------------------------------------------

    function drawPopup(call) {
      if (!st.root) return;
      var ev = call.event;
      if (!call.node) {
        call.node = el('div', 'mikopbx-call');
        call.node.setAttribute('data-call', ev.call_id);
        st.root.querySelector('.js-mikopbx-popups').append(call.node);
      }
      var node = call.node;
      node.textContent = '';
      var state = callState(call);
      node.setAttribute('data-state', state);
      var head = el('div', 'mikopbx-call__head', t(ev.direction === 'inbound' ? 'incoming' : ev.direction === 'outbound' ? 'outgoing' : 'internal'));
      var close = el('button', 'mikopbx-call__close js-mikopbx-close', '×');
      close.title = t('close');
      close.addEventListener('click', function () { removePopup(call); });
      head.append(close);
      var caller = call.caller || {};
      var name = el('div', 'mikopbx-call__name', caller.known ? caller.name : t('new_number'));
      var number = el('div', 'mikopbx-call__number', ev.client);
      var status = el('div', 'mikopbx-call__status js-mikopbx-status', t('state_' + state));
      var timer = el('span', 'mikopbx-call__timer js-mikopbx-timer', call.answeredAt ? clock(elapsed(call)) : '');
      status.append(' ', timer);
      node.append(head, name, number, status);
      if (!call.ended) node.append(callButtons(call));
      if (call.elsewhere) {
        var note = call.elsewhere === 'transferred' ? 'transferred_to' : 'answered_by';
        node.append(el('div', 'mikopbx-call__note', t(note) + ' ' + employeeName(ev.exten)));
      }
    }

    function callButtons(call) {
      var box = el('div', 'mikopbx-call__actions');
      if (call.event.direction !== 'internal') {
        var card = el('button', 'mikopbx-call__btn js-mikopbx-card', t('open_card'));
        card.addEventListener('click', function () { openCard(call, true); });
        box.append(card);
      }
      var hang = el('button', 'mikopbx-call__btn mikopbx-call__btn_danger js-mikopbx-hangup', t('hangup'));
      hang.addEventListener('click', function () { act('hangup', {}).catch(function () {}); });
      box.append(hang);
      if (call.answeredAt) {
        var transfer = el('button', 'mikopbx-call__btn js-mikopbx-transfer', t('blind') + '…');
        transfer.addEventListener('click', function () { transferDialog(call, null); });
        box.append(transfer);
      }
      return box;
    }

    function callState(call) {
      if (call.elsewhere === 'transferred') return 'transferred';
      if (call.ended) return 'ended';
      if (call.answeredAt) return 'talking';
      return call.event.direction === 'outbound' ? 'dialing' : 'ringing';
    }

    function elapsed(call) {
      var end = call.ended ? call.endedAt : Date.now();
      return Math.max(0, Math.floor((end - call.answeredAt) / 1000));
    }

    function tick() {
      Object.keys(st.calls).forEach(function (id) {
        var call = st.calls[id];
        if (call.answeredAt && !call.ended && call.node) {
          var timer = call.node.querySelector('.js-mikopbx-timer');
          if (timer) timer.textContent = clock(elapsed(call));
        }
      });
    }

    // -- transfer (amoCRM's modal) ------------------------------------------------------------

    function transferDialog(call, extension) {
      var others = st.employees.filter(function (e) { return e.extension !== st.extension; });
      var modal = new Modal({
        class_name: 'mikopbx-transfer-modal',
        init: function ($body) {
          var body = $body.get ? $body.get(0) : $body;
          var form = el('div', 'mikopbx-transfer');
          form.append(el('h2', 'mikopbx-transfer__title', t('transfer_title') + ' ' + (call.event.client || '')));
          var label = el('label', 'mikopbx-transfer__label', t('transfer_to') + ' ');
          var select = el('select', 'js-mikopbx-transfer-target');
          others.forEach(function (e) {
            var state = st.presence[e.extension] || 'idle';
            var option = el('option', '', e.name + ' (' + e.extension + ') — ' + t(state));
            option.value = e.extension;
            select.append(option);
          });
          if (extension) select.value = extension;
          label.append(select);
          form.append(label, el('p', 'mikopbx-transfer__hint', t('transfer_hint')));
          var buttons = el('div', 'mikopbx-transfer__actions');
          [['blind', 'js-mikopbx-blind'], ['attended', 'js-mikopbx-attended']].forEach(function (pair) {
            var button = el('button', 'mikopbx-call__btn ' + pair[1], t(pair[0]));
            button.addEventListener('click', function () {
              act('transfer', { target: select.value, kind: pair[0] }).then(function () {
                var text = pair[0] === 'blind' ? 'transferred_to' : 'consulting';
                notify(t(text) + ' ' + employeeName(select.value));
                modal.destroy();
              }, function () {});
            });
            buttons.append(button);
          });
          var cancel = el('button', 'mikopbx-call__btn js-mikopbx-cancel', t('cancel'));
          cancel.addEventListener('click', function () { modal.destroy(); });
          buttons.append(cancel);
          form.append(buttons);
          body.append(form);
          if ($body.trigger) $body.trigger('modal:loaded').trigger('modal:centrify');
        },
        destroy: function () {}
      });
      return modal;
    }

    // -- amoCRM's callbacks -------------------------------------------------------------------

    this.callbacks = {
      render: function () {
        var area = (self.system() || {}).area;
        if (area !== 'settings' && area !== 'advanced_settings') buildPanel();
        return true;
      },
      init: function () {
        if (st.root && !st.socket) connect();
        if (!st.ticker) st.ticker = setInterval(tick, 1000);
        return true;
      },
      bind_actions: function () {
        if (st.root && !st.bound) {
          bindPanel();
          st.bound = true;
        }
        // amoCRM calls the 'phone' action when a phone number is clicked in a list or card
        self.add_action('phone', function (params) { dial(params && params.value); });
        return true;
      },
      settings: function ($modal_body) {
        var body = $modal_body && $modal_body.get ? $modal_body.get(0) : $modal_body;
        if (body && !body.querySelector('.mikopbx-settings-hint')) {
          body.append(el('p', 'mikopbx-settings-hint', (self.i18n('settings') || {}).hint || ''));
        }
        return true;
      },
      onSave: function (fields) {
        var lang = self.i18n('settings') || {};
        var values = (fields && fields.fields) || fields || {};
        var url = String(values.public_url || '').trim();
        var local = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/|$)/.test(url);
        if (!/^https:\/\/[^\s/]+/.test(url) && !local) {
          notifyError(lang.bad_url);
          return false;
        }
        if (!String(values.token || '').trim()) {
          notifyError(lang.no_token);
          return false;
        }
        st.refusedToken = false; // a new token deserves a new try
        return true;
      },
      destroy: function () {
        disconnect();
        clearInterval(st.ticker);
        st.ticker = null;
        Object.keys(st.calls).forEach(function (id) { removePopup(st.calls[id]); });
        if (st.root && st.root.parentNode) st.root.parentNode.removeChild(st.root);
        if (st.edge && st.edge.parentNode) st.edge.parentNode.removeChild(st.edge);
        st.root = null;
        st.bound = false;
      },
      contacts: {
        selected: function () { return true; }
      },
      leads: {
        selected: function () { return true; }
      }
    };
    return this;
  };

  return CustomWidget;
});
