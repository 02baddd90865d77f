/*
 * A stand-in for amoCRM's widget environment, written from amoCRM's widget documentation
 * (developers: «script.js», «JS SDK», «Переменные окружения», «Уведомления»):
 *
 * - script.js is an AMD module: define(['jquery', 'lib/components/base/modal'], factory); the
 *   factory returns a constructor whose instance carries `callbacks`.
 * - The widget object inherits the system Widget's methods: get_settings(), set_settings(),
 *   system() ({area, amouser_id, amouser, subdomain, domain}), i18n(key) / langs (the i18n file),
 *   add_action(type, fn) (type 'phone' is called with {value} when a phone number is clicked in a
 *   list or card), get_version(), params.
 * - Loaded in an interface: render(), then init(), then bind_actions() (each returns true);
 *   the settings page calls settings($modal_body) and onSave({fields}) on save (false cancels);
 *   switching the widget off calls destroy().
 * - APP.notifications.show_message({header, text, date}), show_message_error({header, text,
 *   link}), add_call({...}); APP.constant('user' | 'account' | 'managers'); APP.router.navigate;
 *   APP.getWidgetsArea(); APP.lang_id.
 * - Modal (lib/components/base/modal): new Modal({class_name, init($modal_body), destroy()});
 *   modal.destroy() closes it.
 *
 * Everything the widget does to this environment is recorded on window.amoLog for the test.
 */
(function () {
  'use strict';
  var jq = window.jQuery;
  var log = window.amoLog = { messages: [], errors: [], calls: [], navigations: [], actions: {}, saved: null };
  var pending = null;

  function toast(kind, params) {
    var box = document.createElement('div');
    box.className = 'toast' + (kind === 'error' ? ' toast_error' : '');
    box.setAttribute('data-kind', kind);
    box.textContent = (params.header || '') + ': ' + (params.text || '');
    document.getElementById('toasts').append(box);
    setTimeout(function () { box.remove(); }, 8000);
  }

  function Modal(options) {
    var overlay = document.createElement('div');
    overlay.className = 'modal ' + (options.class_name || '');
    var body = document.createElement('div');
    body.className = 'modal-body';
    overlay.append(body);
    document.body.append(overlay);
    this.$el = jq(overlay);
    this.destroy = function () {
      if (options.destroy && options.destroy() === false) return;
      overlay.remove();
    };
    options.init.call(this, jq(body));
  }

  var state = { area: 'clist', settings: {}, user: null, langs: {}, manifest: null, widget: null };

  window.APP = {
    lang_id: 'ru',
    notifications: {
      show_message: function (p) { log.messages.push(p); toast('message', p); },
      show_message_error: function (p) { log.errors.push(p); toast('error', p); },
      add_call: function (p) { log.calls.push(p); toast('call', p); },
      show_notification: function (p) { log.messages.push(p.text || p); toast('message', p.text || p); }
    },
    constant: function (key) {
      if (key === 'user') return { id: state.user.id, name: state.user.name };
      if (key === 'account') return { id: 1001, subdomain: 'example' };
      if (key === 'managers') return state.managers || {};
      return false;
    },
    router: {
      navigate: function (path) {
        log.navigations.push(path);
        document.getElementById('location').textContent = path;
      }
    },
    getWidgetsArea: function () { return state.area; },
    isCard: function () { return /card/.test(state.area); }
  };

  // require.js' define, as amoCRM loads a widget's script.js
  window.define = function (deps, factory) { pending = { deps: deps, factory: factory }; };

  function resolve(dep) {
    if (dep === 'jquery') return jq;
    if (dep === 'lib/components/base/modal') return Modal;
    throw new Error('the stand-in has no module ' + dep);
  }

  function baseWidget(code) {
    return {
      params: {},
      get_settings: function () { return Object.assign({ widget_code: code }, state.settings); },
      set_settings: function (values) { Object.assign(state.settings, values); },
      system: function () {
        return { area: state.area, amouser_id: state.user.id, amouser: state.user.email,
                 subdomain: 'example', domain: 'example.amocrm.ru' };
      },
      i18n: function (key) { return state.langs[key]; },
      get_version: function () { return state.manifest.widget.version; },
      add_action: function (type, fn) { log.actions[type] = fn; }
    };
  }

  function loadScript(src) {
    return new Promise(function (ok, fail) {
      var tag = document.createElement('script');
      tag.src = src;
      tag.onload = ok;
      tag.onerror = function () { fail(new Error('cannot load ' + src)); };
      document.head.append(tag);
    });
  }

  function call(name, arg) {
    var result = state.widget.callbacks[name](arg);
    if (result !== true && name !== 'destroy') throw new Error(name + '() did not return true');
    return result;
  }

  window.AmoEnv = {
    // install the widget archive's files from `base` and run it as amoCRM does in `area`
    load: async function (opts) {
      state.area = opts.area || 'clist';
      state.settings = Object.assign({}, opts.settings);
      state.user = opts.user;
      state.managers = opts.managers;
      var base = opts.base;
      state.manifest = await (await fetch(base + 'manifest.json')).json();
      state.langs = await (await fetch(base + 'i18n/' + APP.lang_id + '.json')).json();
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = base + 'style.css';
      document.head.append(css);
      await loadScript(base + 'script.js');
      var Widget = pending.factory.apply(null, pending.deps.map(resolve));
      Widget.prototype = baseWidget('mikopbx');
      state.widget = new Widget();
      call('render');
      call('init');
      call('bind_actions');
      return true;
    },
    // the settings page: amoCRM draws the manifest's fields, then calls settings() and onSave()
    openSettings: function () {
      var modal = new Modal({ class_name: 'widget-settings', init: function ($body) {
        var body = $body.get(0);
        Object.keys(state.manifest.settings).forEach(function (key) {
          var field = state.manifest.settings[key];
          var label = document.createElement('label');
          label.className = 'settings-field';
          label.textContent = state.langs.settings[key] + ' ';
          var input = document.createElement('input');
          input.name = key;
          input.type = field.type === 'pass' ? 'password' : 'text';
          input.value = state.settings[key] || '';
          label.append(input);
          body.append(label);
        });
        var save = document.createElement('button');
        save.className = 'js-widget-save';
        save.textContent = 'Сохранить';
        save.addEventListener('click', function () {
          var fields = {};
          body.querySelectorAll('input').forEach(function (i) { fields[i.name] = i.value; });
          var ok = state.widget.callbacks.onSave({ active: 'Y', fields: fields });
          log.saved = ok ? fields : false;
          if (ok) { Object.assign(state.settings, fields); modal.destroy(); }
        });
        body.append(save);
      } });
      var previous = state.area;
      state.area = 'settings';
      call('settings', modal.$el.find('.modal-body'));
      state.area = previous;
      return true;
    },
    // a click on a phone number in a list or card: amoCRM calls the widget's 'phone' action
    clickPhone: function (value) {
      var action = log.actions.phone;
      if (!action) throw new Error('the widget registered no phone action');
      action({ value: value });
    },
    destroy: function () { call('destroy'); }
  };

  document.addEventListener('click', function (e) {
    var link = e.target.closest('.phone-link');
    if (link) window.AmoEnv.clickPhone(link.getAttribute('data-phone'));
  });
})();
