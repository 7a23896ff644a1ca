// The miniapp JavaScript framework: WeChat's shape (App, Page, setData, WXML
// templates, wx.*) over ABI 1.1. Evaluated once per session before the program's
// files; the runtime (lib.rs) calls __miniapp_boot, __miniapp_dispatch,
// __miniapp_flush and __miniapp_describe. Every host call goes through host()
// below, and the host checks each against the program's manifest.
(function (global) {
  const nativeCall = global.__miniapp_call;
  const nativePrint = global.__miniapp_print;
  const nativeDepth = global.__miniapp_json_depth;
  const nativeCompile = global.__miniapp_compile;
  // Seeded by the host at each launch (the runtime may start from a snapshot).
  Math.random = global.__miniapp_random;
  for (const name of ['__miniapp_call', '__miniapp_print', '__miniapp_json_depth', '__miniapp_compile', '__miniapp_random']) {
    delete global[name];
  }

  // ---------------------------------------------------------------- errors

  /** An error a host call or the framework reports, with its stable ABI code. */
  class MiniappError extends Error {
    constructor(code, message, call) {
      super(message);
      this.name = 'MiniappError';
      this.code = code;
      // The host function that answered (`payment.refund`), when one did: the
      // message is then the host's own, as a Rust program's error carries it.
      if (call !== undefined) this.call = call;
    }
  }

  // What an error says where the program did not catch it: its call, if any.
  function messageOf(error) {
    return error.call ? `${error.call}: ${error.message}` : error.message;
  }

  const CODES = ['invalid_argument', 'capability_denied', 'user_cancelled', 'quota_exceeded', 'limit_exceeded',
    'unavailable', 'internal', 'not_found', 'idempotency_conflict', 'unsupported'];

  function oneLine(text) {
    return String(text).replace(/\s+/g, ' ').trim();
  }

  let files = {};

  // The first stack frame in one of the program's files: `pages/cart.js:12:5`.
  function locate(stack) {
    if (typeof stack !== 'string') return null;
    const frame = /([\w./-]+\.(?:js|wxml|json)):(\d+)(?::(\d+))?/g;
    let match;
    while ((match = frame.exec(stack)) !== null) {
      if (Object.prototype.hasOwnProperty.call(files, match[1])) {
        return match[3] ? `${match[1]}:${match[2]}:${match[3]}` : `${match[1]}:${match[2]}`;
      }
    }
    return null;
  }

  function safeString(value) {
    try {
      if (typeof value === 'string') return value;
      const json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch (e) {
      return Object.prototype.toString.call(value);
    }
  }

  global.__miniapp_describe = function (error) {
    if (error instanceof Error) {
      const where = error.where || locate(error.stack);
      const code = CODES.includes(error.code) ? error.code : 'internal';
      const text = `${error.name}: ${messageOf(error)}` + (where ? ` (${where})` : '');
      return { code, message: oneLine(text) };
    }
    if (error && typeof error === 'object' && typeof error.errMsg === 'string') {
      const code = CODES.includes(error.code) ? error.code : 'internal';
      return { code, message: oneLine(`uncaught ${error.errMsg}`) };
    }
    return { code: 'internal', message: oneLine(`uncaught ${safeString(error)}`) };
  };

  // ---------------------------------------------------------------- JSON

  /** How deeply JSON.parse lets a text nest: QuickJS parses recursively. */
  const MAX_JSON_DEPTH = 512;
  const rawParse = JSON.parse;
  JSON.parse = function parse(text, reviver) {
    const source = String(text);
    if (nativeDepth(source) > MAX_JSON_DEPTH) {
      throw new SyntaxError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    return rawParse(source, reviver);
  };

  // ---------------------------------------------------------------- the host

  function host(capability, fn, request) {
    const reply = nativeCall(capability, fn, JSON.stringify(request === undefined ? {} : request));
    if (reply.ok) return reply.reply === '' ? null : JSON.parse(reply.reply);
    throw new MiniappError(reply.code, reply.message, `${capability}.${fn}`);
  }

  // ---------------------------------------------------------------- console

  function format(args) {
    return args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${messageOf(a)}` : safeString(a)))
      .join(' ');
  }
  global.console = {
    log: (...args) => nativePrint('stdout', format(args)),
    info: (...args) => nativePrint('stdout', format(args)),
    debug: (...args) => nativePrint('stdout', format(args)),
    warn: (...args) => nativePrint('stderr', format(args)),
    error: (...args) => nativePrint('stderr', format(args)),
  };

  // Timers need a host clock callback the ABI does not have: say so.
  for (const name of ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'requestAnimationFrame']) {
    global[name] = function () {
      throw new MiniappError('unsupported', `${name} is not supported: a mini-program runs only while the host delivers a callback (docs/javascript.md)`);
    };
  }

  // ---------------------------------------------------------------- modules

  function normalize(segments) {
    const out = [];
    for (const s of segments) {
      if (s === '' || s === '.') continue;
      if (s === '..') {
        if (out.length === 0) return null;
        out.pop();
      } else out.push(s);
    }
    return out.join('/');
  }

  function resolve(from, request) {
    const dir = from.split('/').slice(0, -1);
    const base = request.startsWith('.') ? normalize(dir.concat(request.split('/')))
      : normalize(request.replace(/^\//, '').split('/'));
    if (base !== null) {
      for (const candidate of [base, `${base}.js`, `${base}.json`, `${base}/index.js`]) {
        if (Object.prototype.hasOwnProperty.call(files, candidate)) return candidate;
      }
    }
    throw new MiniappError('not_found', `cannot find module '${request}' from ${from} (the manifest's main, pages and sources are the files a program has)`);
  }

  const modules = {};
  function load(path) {
    if (modules[path]) return modules[path].exports;
    const module = { exports: {} };
    modules[path] = module;
    if (path.endsWith('.json')) {
      module.exports = JSON.parse(files[path]);
      return module.exports;
    }
    const wrapped = `(function (module, exports, require, __filename, __dirname) {${files[path]}\n})`;
    const fn = nativeCompile(path, wrapped);
    const dirname = path.split('/').slice(0, -1).join('/');
    fn.call(module.exports, module, module.exports, (request) => load(resolve(path, String(request))), path, dirname);
    return module.exports;
  }

  // ---------------------------------------------------------------- App, Page

  let app = null;
  let appConfig = {};
  let launchOptions = {};
  let pagePaths = [];
  const pageDefs = {};
  const pageConfigs = {};
  const templates = {};
  let defining = null;

  global.App = function App(definition) {
    if (app) throw new MiniappError('invalid_argument', 'App() was called twice: a program has one App, in its main file');
    app = Object.assign({}, definition || {});
    return app;
  };
  global.getApp = function getApp() {
    return app;
  };
  global.Page = function Page(definition) {
    if (defining === null) throw new MiniappError('invalid_argument', 'Page() may be called only by a page file the manifest lists in `pages`');
    if (pageDefs[defining]) throw new MiniappError('invalid_argument', `Page() was called twice for ${defining}`);
    pageDefs[defining] = definition || {};
  };
  global.Component = function Component() {
    throw new MiniappError('unsupported', 'Component() is not supported: write pages with Page() (docs/javascript.md)');
  };

  const stack = [];
  global.getCurrentPages = function getCurrentPages() {
    return stack.slice();
  };

  function setPath(target, path, value) {
    const keys = [];
    String(path).replace(/[^.[\]]+|\[(\d+)\]/g, (m, index) => {
      keys.push(index !== undefined ? Number(index) : m);
      return m;
    });
    if (keys.length === 0) throw new MiniappError('invalid_argument', `setData: an empty key`);
    let at = target;
    for (let i = 0; i < keys.length - 1; i += 1) {
      if (at[keys[i]] === null || typeof at[keys[i]] !== 'object') at[keys[i]] = typeof keys[i + 1] === 'number' ? [] : {};
      at = at[keys[i]];
    }
    at[keys[keys.length - 1]] = value;
  }

  const afterRender = [];
  const pageMethods = {
    setData(changes, callback) {
      if (changes === null || typeof changes !== 'object') throw new MiniappError('invalid_argument', 'setData takes an object');
      for (const key of Object.keys(changes)) setPath(this.data, key, changes[key]);
      this.__dirty = true;
      if (typeof callback === 'function') afterRender.push(callback.bind(this));
    },
  };

  function clone(value) {
    return value === undefined ? {} : JSON.parse(JSON.stringify(value));
  }

  function createPage(path, query) {
    const def = pageDefs[path];
    const page = Object.create(pageMethods);
    for (const key of Object.keys(def)) {
      if (key !== 'data') page[key] = def[key];
    }
    page.data = clone(def.data);
    page.route = path;
    page.options = Object.assign({}, query);
    page.__title = null;
    page.__dirty = true;
    page.__handlers = { tap: {}, input: {}, share: {}, inputData: {} };
    return page;
  }

  function hook(target, name, ...args) {
    if (target && typeof target[name] === 'function') track(target[name].apply(target, args));
  }

  // An async handler's rejection is the callback's failure, reported like a throw.
  let pendingError = null;
  function track(result) {
    if (result && typeof result.then === 'function') {
      result.then(null, (error) => {
        if (pendingError === null) pendingError = error;
      });
    }
  }

  let navigated = false;

  function top() {
    return stack.length ? stack[stack.length - 1] : null;
  }

  function open(path, query) {
    const page = createPage(path, query);
    stack.push(page);
    hook(page, 'onLoad', page.options);
    hook(page, 'onShow');
    hook(page, 'onReady');
  }

  function unload(page) {
    hook(page, 'onUnload');
  }

  function sameQuery(a, b) {
    const ka = Object.keys(a || {});
    const kb = Object.keys(b || {});
    return ka.length === kb.length && ka.every((k) => String(a[k]) === String(b[k]));
  }

  function onPage(event) {
    const path = event.path || pagePaths[0];
    const query = event.query || {};
    if (!pageDefs[path]) {
      if (typeof app.onPageNotFound === 'function') track(app.onPageNotFound({ path, query, isEntryPage: stack.length === 0 }));
      if (!navigated) {
        host('view', 'redirect', { path: pagePaths[0], query: {} });
        navigated = true;
      }
      return;
    }
    switch (event.reason) {
      case 'navigate':
        hook(top(), 'onHide');
        open(path, query);
        break;
      case 'redirect':
        if (stack.length) unload(stack.pop());
        open(path, query);
        break;
      case 'back': {
        if (stack.length) unload(stack.pop());
        while (stack.length && (top().route !== path || !sameQuery(top().options, query))) unload(stack.pop());
        if (!stack.length) open(path, query);
        else {
          hook(top(), 'onShow');
          top().__dirty = true;
        }
        break;
      }
      case 'refresh':
      default:
        if (!top()) open(path, query);
        else {
          hook(top(), 'onPullDownRefresh');
          top().__dirty = true;
        }
    }
  }

  function handler(page, kind, id) {
    const name = page.__handlers[kind][id];
    if (name === undefined) return null;
    const fn = page[name];
    if (typeof fn !== 'function') {
      throw new MiniappError('not_found', `${page.route} has no method ${name} for ${kind === 'tap' ? 'bindtap' : 'bindinput'} of \`${id}\``);
    }
    return fn;
  }

  function onTap(event) {
    const page = top();
    if (!page) return;
    const dataset = event.payload && typeof event.payload === 'object' ? event.payload : {};
    const share = page.__handlers.share[event.action];
    if (share) {
      const shared = Object.assign({}, dataset, { surface: share });
      const card = typeof page.onShareAppMessage === 'function' ? page.onShareAppMessage({ from: 'button', target: { id: event.action, dataset: shared } }) : {};
      const reply = shareCard(card || {}, share);
      const then = handler(page, 'tap', event.action);
      if (then) track(then.call(page, { type: 'tap', currentTarget: { id: event.action, dataset: shared }, target: { id: event.action, dataset: shared }, detail: reply }));
      return;
    }
    const fn = handler(page, 'tap', event.action);
    if (!fn) {
      console.warn(`${page.route}: no bindtap for \`${event.action}\` on this page`);
      return;
    }
    track(fn.call(page, { type: 'tap', currentTarget: { id: event.action, dataset }, target: { id: event.action, dataset }, detail: {} }));
  }

  function onInput(event) {
    const page = top();
    if (!page) return;
    const fn = handler(page, 'input', event.field);
    if (!fn) {
      console.warn(`${page.route}: no bindinput for \`${event.field}\` on this page`);
      return;
    }
    const target = { id: event.field, dataset: page.__handlers.inputData[event.field] || {} };
    track(fn.call(page, { type: 'input', currentTarget: target, target, detail: { value: event.value } }));
  }

  global.__miniapp_boot = function (main, pagesJson, filesJson) {
    files = JSON.parse(filesJson);
    pagePaths = JSON.parse(pagesJson);
    if (Object.prototype.hasOwnProperty.call(files, 'app.json')) appConfig = JSON.parse(files['app.json']);
    load(main);
    if (!app) app = {};
    for (const path of pagePaths) {
      defining = path;
      try {
        load(`${path}.js`);
      } finally {
        defining = null;
      }
      if (!pageDefs[path]) throw new MiniappError('invalid_argument', `${path}.js did not call Page()`);
      if (Object.prototype.hasOwnProperty.call(files, `${path}.json`)) pageConfigs[path] = JSON.parse(files[`${path}.json`]);
      if (Object.prototype.hasOwnProperty.call(files, `${path}.wxml`)) {
        templates[path] = compileTemplate(files[`${path}.wxml`], `${path}.wxml`);
      } else if (typeof pageDefs[path].render !== 'function') {
        throw new MiniappError('invalid_argument', `${path} has neither ${path}.wxml nor a render() method`);
      }
    }
  };

  global.__miniapp_dispatch = function (kind, message) {
    navigated = false;
    if (kind === 'launch') {
      const context = JSON.parse(message);
      launchOptions = {
        path: context.path || pagePaths[0],
        query: context.query || {},
        scene: context.surface,
        surface: context.surface,
        referrerInfo: context.referrer ? { appId: context.referrer } : {},
      };
      hook(app, 'onLaunch', launchOptions);
      hook(app, 'onShow', launchOptions);
      while (stack.length) unload(stack.pop());
      onPage({ reason: 'refresh', path: context.path, query: context.query });
    } else if (kind === 'show') {
      hook(app, 'onShow', launchOptions);
      hook(top(), 'onShow');
      if (top()) top().__dirty = true;
    } else if (kind === 'hide') {
      hook(top(), 'onHide');
      hook(app, 'onHide');
    } else {
      const event = JSON.parse(message);
      if (event.type === 'page') onPage(event);
      else if (event.type === 'tap') onTap(event);
      else if (event.type === 'input') onInput(event);
      else if (event.type === 'custom') hook(top() || app, 'onCustomEvent', { name: event.name, data: event.data });
    }
  };

  // Promises rejected with no handler by the end of a callback (a `wx.*`
  // promise nobody awaited, say): the first is the callback's failure, as an
  // uncaught exception is, rather than nothing at all. The runtime reports each
  // rejection, and each handler attached later, through `__miniapp_rejection`.
  const unhandled = new Map();
  global.__miniapp_rejection = function (promise, reason, handled) {
    if (handled) unhandled.delete(promise);
    else unhandled.set(promise, reason);
  };

  global.__miniapp_flush = function () {
    if (pendingError === null && unhandled.size > 0) pendingError = unhandled.values().next().value;
    unhandled.clear();
    if (pendingError !== null) {
      const error = pendingError;
      pendingError = null;
      throw error;
    }
    const page = top();
    if (navigated || !page || !page.__dirty) return;
    page.__dirty = false;
    render(page);
    const callbacks = afterRender.splice(0);
    for (const callback of callbacks) callback();
  };

  function title(page) {
    if (page.__title !== null) return page.__title;
    const config = pageConfigs[page.route] || {};
    const window = appConfig.window || {};
    return config.navigationBarTitleText || window.navigationBarTitleText || page.route;
  }

  function render(page) {
    page.__handlers = { tap: {}, input: {}, share: {}, inputData: {} };
    let body;
    if (templates[page.route]) {
      body = templates[page.route](page.data, page.__handlers);
    } else {
      body = page.render();
      if (!Array.isArray(body)) throw new MiniappError('invalid_argument', `${page.route}: render() must return an array of components`);
      collectHandlers(body, page.__handlers);
    }
    host('view', 'render', { title: title(page), body });
  }

  // A render() function's buttons name their handlers as WXML's do.
  function collectHandlers(nodes, handlers) {
    for (const node of nodes) {
      if (!node || typeof node !== 'object') continue;
      if (node.type === 'button' && typeof node.bindtap === 'string') {
        handlers.tap[node.action] = node.bindtap;
        delete node.bindtap;
      }
      if (node.type === 'input' && typeof node.bindinput === 'string') {
        handlers.input[node.field] = node.bindinput;
        delete node.bindinput;
      }
      collectHandlers(node.children || node.items || [], handlers);
    }
  }

  // ---------------------------------------------------------------- WXML

  const COMPONENTS = {
    view: { kind: 'container', type: 'column', attrs: [] },
    column: { kind: 'container', type: 'column', attrs: [] },
    row: { kind: 'container', type: 'row', attrs: [] },
    list: { kind: 'container', type: 'list', attrs: [] },
    text: { kind: 'text', type: 'text', attrs: ['tone'] },
    heading: { kind: 'text', type: 'heading', attrs: ['level'] },
    badge: { kind: 'text', type: 'badge', attrs: ['tone'] },
    button: { kind: 'text', type: 'button', attrs: ['id', 'bindtap', 'key', 'type', 'disabled', 'open-type'] },
    image: { kind: 'empty', type: 'image', attrs: ['src', 'alt'] },
    price: { kind: 'empty', type: 'price', attrs: ['amount', 'original', 'currency'] },
    input: { kind: 'empty', type: 'input', attrs: ['id', 'name', 'bindinput', 'label', 'placeholder', 'value'] },
    divider: { kind: 'empty', type: 'divider', attrs: [] },
    block: { kind: 'block', attrs: [] },
  };
  const DIRECTIVES = ['wx:if', 'wx:elif', 'wx:else', 'wx:for', 'wx:for-item', 'wx:for-index', 'wx:key'];
  const BUTTON_TYPES = { primary: 'primary', default: 'secondary', secondary: 'secondary', warn: 'danger', danger: 'danger' };
  const SHARE_SURFACES = ['chat', 'group', 'moments'];

  function templateError(file, line, message) {
    const error = new MiniappError('invalid_argument', `${file}:${line}: ${message}`);
    error.where = `${file}:${line}`;
    return error;
  }

  const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };
  function decode(text) {
    return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, name) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
      }
      return ENTITIES[name] !== undefined ? ENTITIES[name] : m;
    });
  }

  // Markup to a tree of { tag, attrs, children, line } and text nodes.
  function parse(source, file) {
    const root = { tag: '#root', attrs: {}, children: [], line: 1 };
    const open = [root];
    let at = 0;
    let line = 1;
    const advance = (to) => {
      for (let i = at; i < to; i += 1) if (source.charCodeAt(i) === 10) line += 1;
      at = to;
    };
    while (at < source.length) {
      const lt = source.indexOf('<', at);
      const textEnd = lt === -1 ? source.length : lt;
      if (textEnd > at) {
        const text = source.slice(at, textEnd);
        open[open.length - 1].children.push({ text: decode(text), line });
        advance(textEnd);
        continue;
      }
      if (source.startsWith('<!--', at)) {
        const end = source.indexOf('-->', at + 4);
        if (end === -1) throw templateError(file, line, 'a comment is not closed');
        advance(end + 3);
        continue;
      }
      if (source.startsWith('</', at)) {
        const end = source.indexOf('>', at);
        if (end === -1) throw templateError(file, line, 'a closing tag is not finished');
        const name = source.slice(at + 2, end).trim();
        const current = open[open.length - 1];
        if (current.tag !== name) {
          throw templateError(file, line, current.tag === '#root' ? `</${name}> closes nothing` : `</${name}> closes <${current.tag}> (opened on line ${current.line})`);
        }
        open.pop();
        advance(end + 1);
        continue;
      }
      const tag = /^<([a-zA-Z][\w-]*)/.exec(source.slice(at, at + 64));
      if (!tag) throw templateError(file, line, `unexpected \`<\` (write &lt; for the character)`);
      const element = { tag: tag[1], attrs: {}, children: [], line };
      let i = at + tag[0].length;
      const attribute = /\s*([a-zA-Z_:][\w:.-]*)(?:\s*=\s*("[^"]*"|'[^']*'))?/y;
      for (;;) {
        attribute.lastIndex = i;
        const match = attribute.exec(source);
        if (!match || match[0].trim() === '') break;
        if (Object.prototype.hasOwnProperty.call(element.attrs, match[1])) {
          throw templateError(file, line, `<${element.tag}> has \`${match[1]}\` twice`);
        }
        element.attrs[match[1]] = match[2] === undefined ? true : decode(match[2].slice(1, -1));
        i = attribute.lastIndex;
      }
      while (i < source.length && /\s/.test(source[i])) i += 1;
      let selfClosing = false;
      if (source.startsWith('/>', i)) {
        selfClosing = true;
        i += 2;
      } else if (source[i] === '>') {
        i += 1;
      } else {
        throw templateError(file, line, `<${element.tag}> is not finished (an attribute's value must be quoted)`);
      }
      open[open.length - 1].children.push(element);
      advance(i);
      if (!selfClosing) open.push(element);
    }
    if (open.length > 1) {
      const unclosed = open[open.length - 1];
      throw templateError(file, unclosed.line, `<${unclosed.tag}> is never closed`);
    }
    return root;
  }

  // `{{ expr }}`: a JavaScript expression over the page's data (and the loop's
  // item and index); a name the data lacks is undefined, shown as nothing.
  const SCOPE = {
    has: (target, key) => typeof key === 'string' && !(key in global && !(key in target)),
    get: (target, key) => (key === Symbol.unscopables ? undefined : target[key]),
  };
  function compileExpression(expression, file, line) {
    let fn;
    try {
      fn = new Function('__scope', `with (__scope) { return (${expression}); }`);
    } catch (e) {
      throw templateError(file, line, `{{${expression}}}: ${e.message}`);
    }
    return (scope) => {
      try {
        return fn(new Proxy(scope, SCOPE));
      } catch (e) {
        throw templateError(file, line, `{{${expression}}}: ${e.name}: ${e.message}`);
      }
    };
  }

  // A text or attribute with bindings: a function of the scope. A value that is
  // one binding keeps its type (amount="{{item.price}}" is a number).
  function compileValue(text, file, line) {
    if (typeof text !== 'string') return () => text;
    const parts = [];
    let at = 0;
    while (at < text.length) {
      const open = text.indexOf('{{', at);
      if (open === -1) {
        parts.push(text.slice(at));
        break;
      }
      if (open > at) parts.push(text.slice(at, open));
      const close = text.indexOf('}}', open + 2);
      if (close === -1) throw templateError(file, line, `\`{{\` without \`}}\` in "${text}"`);
      parts.push(compileExpression(text.slice(open + 2, close), file, line));
      at = close + 2;
    }
    if (parts.length === 1 && typeof parts[0] === 'function') return parts[0];
    return (scope) => parts.map((p) => {
      if (typeof p === 'string') return p;
      const value = p(scope);
      return value === undefined || value === null ? '' : typeof value === 'object' ? safeString(value) : String(value);
    }).join('');
  }

  function camel(name) {
    return name.replace(/-([a-z])/g, (m, c) => c.toUpperCase());
  }

  function compileTemplate(source, file) {
    const root = parse(source, file);
    const body = compileChildren(root, file);
    return (data, handlers) => {
      const out = [];
      body(data, handlers, out);
      return out;
    };
  }

  // Children, with wx:if / wx:elif / wx:else chains, as one function that
  // appends the nodes they render to `out`.
  function compileChildren(parent, file) {
    const steps = [];
    let chain = null;
    for (const child of parent.children) {
      if (child.text !== undefined) {
        if (child.text.trim() === '') continue;
        chain = null;
        const value = compileValue(child.text.replace(/\s+/g, ' ').trim(), file, child.line);
        steps.push((scope, handlers, out) => out.push({ type: 'text', text: String(value(scope) ?? '') }));
        continue;
      }
      const element = compileElement(child, file);
      if ('wx:if' in child.attrs) {
        chain = { branches: [[compileValue(child.attrs['wx:if'], file, child.line), element]] };
        const current = chain;
        steps.push((scope, handlers, out) => {
          for (const [test, render] of current.branches) {
            if (test === null || test(scope)) {
              render(scope, handlers, out);
              return;
            }
          }
        });
      } else if ('wx:elif' in child.attrs || 'wx:else' in child.attrs) {
        if (!chain) throw templateError(file, child.line, `<${child.tag} ${'wx:elif' in child.attrs ? 'wx:elif' : 'wx:else'}> does not follow a wx:if`);
        chain.branches.push(['wx:elif' in child.attrs ? compileValue(child.attrs['wx:elif'], file, child.line) : null, element]);
        if ('wx:else' in child.attrs) chain = null;
      } else {
        chain = null;
        steps.push(element);
      }
    }
    return (scope, handlers, out) => {
      for (const step of steps) step(scope, handlers, out);
    };
  }

  function compileElement(element, file) {
    const component = COMPONENTS[element.tag];
    if (!component) {
      throw templateError(file, element.line, `<${element.tag}> is not a miniapp component (${Object.keys(COMPONENTS).join(', ')})`);
    }
    for (const name of Object.keys(element.attrs)) {
      if (!DIRECTIVES.includes(name) && !component.attrs.includes(name) && !name.startsWith('data-')) {
        throw templateError(file, element.line, `<${element.tag}> has no attribute \`${name}\` (it takes ${component.attrs.concat(['data-*', 'wx:if', 'wx:for']).join(', ')})`);
      }
    }
    const single = compileSingle(element, component, file);
    if (!('wx:for' in element.attrs)) return single;
    const list = compileValue(element.attrs['wx:for'], file, element.line);
    const itemName = element.attrs['wx:for-item'] || 'item';
    const indexName = element.attrs['wx:for-index'] || 'index';
    return (scope, handlers, out) => {
      const items = list(scope);
      const entries = Array.isArray(items) ? items.map((v, i) => [i, v])
        : typeof items === 'number' ? Array.from({ length: Math.max(0, Math.floor(items)) }, (v, i) => [i, i])
          : items && typeof items === 'object' ? Object.keys(items).map((k) => [k, items[k]]) : [];
      for (const [index, item] of entries) {
        const inner = Object.create(scope);
        inner[itemName] = item;
        inner[indexName] = index;
        single(inner, handlers, out);
      }
    };
  }

  function compileSingle(element, component, file) {
    const line = element.line;
    const attrs = {};
    const dataset = [];
    for (const [name, value] of Object.entries(element.attrs)) {
      if (DIRECTIVES.includes(name)) continue;
      if (name.startsWith('data-')) dataset.push([camel(name.slice(5)), compileValue(value, file, line)]);
      else attrs[name] = compileValue(value, file, line);
    }
    const datasetOf = (scope) => {
      if (dataset.length === 0) return null;
      const out = {};
      for (const [key, value] of dataset) out[key] = value(scope);
      return out;
    };
    if (component.kind === 'block') {
      const children = compileChildren(element, file);
      return (scope, handlers, out) => children(scope, handlers, out);
    }
    if (component.kind === 'container') {
      const children = compileChildren(element, file);
      const key = component.type === 'list' ? 'items' : 'children';
      return (scope, handlers, out) => {
        const nodes = [];
        children(scope, handlers, nodes);
        out.push({ type: component.type, [key]: nodes });
      };
    }
    let content = null;
    if (component.kind === 'text') {
      for (const child of element.children) {
        if (child.text === undefined) throw templateError(file, child.line, `<${element.tag}> holds text only, not <${child.tag}>`);
      }
      const text = element.children.map((c) => c.text).join('').replace(/\s+/g, ' ').trim();
      content = compileValue(text, file, line);
    } else if (element.children.some((c) => c.text === undefined || c.text.trim() !== '')) {
      throw templateError(file, line, `<${element.tag}> has no content: write <${element.tag} … />`);
    }
    const get = (scope, name) => (attrs[name] ? attrs[name](scope) : undefined);
    const textOf = (scope) => {
      const value = content(scope);
      return value === undefined || value === null ? '' : String(value);
    };
    switch (component.type) {
      case 'text':
      case 'badge':
        return (scope, handlers, out) => {
          const node = { type: component.type, text: textOf(scope) };
          const tone = get(scope, 'tone');
          if (tone) node.tone = String(tone);
          out.push(node);
        };
      case 'heading':
        return (scope, handlers, out) => {
          const level = get(scope, 'level');
          out.push({ type: 'heading', text: textOf(scope), level: level === undefined ? 1 : Number(level) });
        };
      case 'image':
        return (scope, handlers, out) => out.push({ type: 'image', src: String(get(scope, 'src') ?? ''), alt: String(get(scope, 'alt') ?? '') });
      case 'price':
        return (scope, handlers, out) => {
          const node = { type: 'price', amount: Number(get(scope, 'amount')) };
          const original = get(scope, 'original');
          if (original !== undefined && original !== null && original !== '') node.original = Number(original);
          const currency = get(scope, 'currency');
          if (currency) node.currency = String(currency);
          out.push(node);
        };
      case 'divider':
        return (scope, handlers, out) => out.push({ type: 'divider' });
      case 'input':
        return (scope, handlers, out) => {
          const field = String(get(scope, 'id') ?? get(scope, 'name') ?? '');
          if (!field) throw templateError(file, line, '<input> needs an id (the field name its input events carry)');
          const node = { type: 'input', field };
          for (const name of ['label', 'placeholder', 'value']) {
            const value = get(scope, name);
            if (value !== undefined && value !== null && value !== '') node[name] = String(value);
          }
          const bind = get(scope, 'bindinput');
          if (bind) handlers.input[field] = String(bind);
          const data = datasetOf(scope);
          if (data) handlers.inputData[field] = data;
          out.push(node);
        };
      case 'button':
      default:
        return (scope, handlers, out) => {
          const bind = get(scope, 'bindtap');
          const openType = get(scope, 'open-type');
          const action = String(get(scope, 'id') ?? bind ?? '');
          if (!action) throw templateError(file, line, '<button> needs an id or a bindtap (the action its taps carry)');
          const node = { type: 'button', label: textOf(scope), action };
          const data = datasetOf(scope);
          if (data) node.payload = data;
          const key = get(scope, 'key');
          if (key) node.key = String(key);
          const type = get(scope, 'type');
          if (type) {
            if (!BUTTON_TYPES[type]) throw templateError(file, line, `<button type="${type}">: one of ${Object.keys(BUTTON_TYPES).join(', ')}`);
            node.style = BUTTON_TYPES[type];
          }
          const disabled = get(scope, 'disabled');
          if (disabled === true || disabled === 'true' || disabled === 'disabled') node.disabled = true;
          if (openType === 'share') {
            const surface = (data && data.surface) || 'chat';
            if (!SHARE_SURFACES.includes(surface)) throw templateError(file, line, `<button open-type="share" data-surface="${surface}">: one of ${SHARE_SURFACES.join(', ')}`);
            handlers.share[action] = surface;
            // The surface is the button's setting, not the tap's payload; the
            // tap's dataset gets it back (onTap).
            if (data) {
              delete data.surface;
              if (Object.keys(data).length === 0) delete node.payload;
            }
          } else if (openType !== undefined) {
            throw templateError(file, line, `<button open-type="${openType}"> is not supported (share is)`);
          }
          if (bind) handlers.tap[action] = String(bind);
          out.push(node);
        };
    }
  }

  // ---------------------------------------------------------------- wx

  function parseUrl(url, api) {
    if (typeof url !== 'string' || url === '') throw new MiniappError('invalid_argument', `${api}: url is required`);
    const [path, search = ''] = url.replace(/^\//, '').split('?');
    if (!pagePaths.includes(path)) {
      throw new MiniappError('not_found', `${api}: page "${path}" is not one of the manifest's pages (${pagePaths.join(', ')})`);
    }
    const query = {};
    for (const pair of search.split('&')) {
      if (!pair) continue;
      const [k, v = ''] = pair.split('=');
      query[decodeURIComponent(k)] = decodeURIComponent(v);
    }
    return { path, query };
  }

  function errorResult(api, error) {
    const reason = error instanceof Error ? messageOf(error) : safeString(error);
    return { errMsg: `${api}:fail ${reason}`, code: error && error.code, error };
  }

  // WeChat's calling convention: success/fail/complete callbacks, or a promise
  // when none is given.
  function api(name, work) {
    return function (options) {
      const opts = options || {};
      const callbacks = ['success', 'fail', 'complete'].some((k) => typeof opts[k] === 'function');
      let result;
      let failure = null;
      try {
        result = Object.assign({ errMsg: `${name}:ok` }, work(opts));
      } catch (error) {
        failure = error && error.errMsg ? error : errorResult(name, error);
      }
      if (!callbacks) return failure ? Promise.reject(failure) : Promise.resolve(result);
      if (failure) {
        if (typeof opts.fail === 'function') opts.fail(failure);
        else console.error(failure.errMsg);
      } else if (typeof opts.success === 'function') opts.success(result);
      if (typeof opts.complete === 'function') opts.complete(failure || result);
      return undefined;
    };
  }

  function navigation(fn, request) {
    const reply = host('view', fn, request);
    navigated = true;
    return reply;
  }

  function shareCard(card, surface) {
    const path = card.path || (top() ? top().route : pagePaths[0]);
    const target = card.url ? { kind: 'web', url: card.url } : { kind: 'mini_program', id: '', path };
    const request = { card: { title: String(card.title || title(top() || { route: pagePaths[0], __title: null })), target }, surface };
    if (card.imageUrl) request.card.image = String(card.imageUrl);
    return host('link', 'share', request);
  }

  function storageValue(key) {
    const reply = host('storage', 'get', { key: String(key) });
    return reply && reply.value !== undefined ? reply.value : '';
  }

  function storageInfo() {
    const info = host('storage', 'info', {});
    const keys = host('storage', 'keys', {}).keys;
    return { keys, currentSize: Math.ceil(info.used_bytes / 1024), limitSize: Math.floor(info.quota_bytes / 1024) };
  }

  function payment(opts) {
    const request = {
      merchant_id: String(opts.merchantId || ''),
      out_trade_no: String(opts.outTradeNo || ''),
      amount: opts.amount,
      currency: opts.currency || 'CNY',
      description: String(opts.description || ''),
    };
    if (opts.methods) request.methods = opts.methods;
    const result = host('payment', 'request', request);
    if (result.status !== 'paid') {
      const reason = result.status === 'cancelled' ? 'cancel' : result.reason || result.status;
      throw Object.assign({ errMsg: `requestPayment:fail ${reason}` }, { result });
    }
    return { result };
  }

  function profile() {
    const reply = host('identity', 'profile', {});
    return { userInfo: { nickName: reply.display_name, avatarUrl: reply.avatar_url } };
  }

  const wxApi = {
    navigateTo: api('navigateTo', (o) => navigation('navigate', parseUrl(o.url, 'navigateTo'))),
    redirectTo: api('redirectTo', (o) => navigation('redirect', parseUrl(o.url, 'redirectTo'))),
    navigateBack: api('navigateBack', (o) => navigation('back', { pages: o.delta === undefined ? 1 : Number(o.delta) })),
    reLaunch: api('reLaunch', (o) => {
      const target = parseUrl(o.url, 'reLaunch');
      // Down to the first page, which the redirect then replaces.
      if (stack.length > 1) host('view', 'back', { pages: stack.length - 1 });
      return navigation('redirect', target);
    }),
    setNavigationBarTitle: api('setNavigationBarTitle', (o) => {
      if (top()) {
        top().__title = String(o.title ?? '');
        top().__dirty = true;
      }
      return {};
    }),
    setStorageSync: (key, data) => {
      host('storage', 'set', { key: String(key), value: data === undefined ? null : data });
    },
    getStorageSync: (key) => storageValue(key),
    removeStorageSync: (key) => {
      host('storage', 'remove', { key: String(key) });
    },
    clearStorageSync: () => {
      host('storage', 'clear', {});
    },
    getStorageInfoSync: () => storageInfo(),
    setStorage: api('setStorage', (o) => host('storage', 'set', { key: String(o.key), value: o.data === undefined ? null : o.data }) && {}),
    getStorage: api('getStorage', (o) => {
      const reply = host('storage', 'get', { key: String(o.key) });
      if (!reply || reply.value === undefined) throw new MiniappError('not_found', 'data not found');
      return { data: reply.value };
    }),
    removeStorage: api('removeStorage', (o) => host('storage', 'remove', { key: String(o.key) }) && {}),
    clearStorage: api('clearStorage', () => host('storage', 'clear', {}) && {}),
    getStorageInfo: api('getStorageInfo', () => storageInfo()),
    requestPayment: api('requestPayment', payment),
    getUserProfile: api('getUserProfile', profile),
    getUserInfo: api('getUserInfo', profile),
    authorize: api('authorize', (o) => {
      const scope = String(o.scope || '').replace(/^scope\./, '');
      const map = { userInfo: 'profile', profile: 'profile', phoneNumber: 'phone', phone: 'phone', address: 'address' };
      if (!map[scope]) throw new MiniappError('invalid_argument', `unknown scope ${o.scope}`);
      const reply = host('identity', 'authorize', { scope: map[scope] });
      if (!reply.granted) throw new MiniappError('user_cancelled', 'auth deny');
      return {};
    }),
    chooseAddress: api('chooseAddress', () => {
      const a = host('identity', 'address', {});
      return { userName: a.recipient, telNumber: a.phone, provinceName: a.province, cityName: a.city, countyName: a.district, detailInfo: a.detail, postalCode: a.postal_code };
    }),
    getPhoneNumber: api('getPhoneNumber', () => ({ phoneNumber: host('identity', 'phone', {}).phone })),
    shareAppMessage: api('shareAppMessage', (o) => {
      const surface = o.surface || 'chat';
      if (!SHARE_SURFACES.includes(surface)) throw new MiniappError('invalid_argument', `surface must be one of ${SHARE_SURFACES.join(', ')}`);
      return shareCard(o, surface);
    }),
    navigateToMiniProgram: api('navigateToMiniProgram', (o) => {
      const target = { kind: 'mini_program', id: String(o.appId || ''), path: String(o.path || '') };
      if (o.extraData !== undefined) target.extra_data = o.extraData;
      return host('link', 'open', { target });
    }),
    getLaunchOptionsSync: () => Object.assign({}, launchOptions),
    getEnterOptionsSync: () => Object.assign({}, launchOptions),
    canIUse: (name) => Object.prototype.hasOwnProperty.call(wxApi, String(name).split('.')[0]),
  };

  global.wx = new Proxy(wxApi, {
    get(target, name) {
      if (Object.prototype.hasOwnProperty.call(target, name)) return target[name];
      if (typeof name !== 'string') return undefined;
      return function unsupported() {
        throw new MiniappError('unsupported', `wx.${name} is not supported by miniapp (docs/javascript.md lists what is)`);
      };
    },
    set() {
      throw new MiniappError('invalid_argument', 'wx is the host\'s: it cannot be changed');
    },
  });

  // What WeChat has no API for: opening links, and the host's payment
  // calls beyond the sheet (query, close, refund).
  global.miniapp = Object.freeze({
    call: (capability, fn, request) => host(String(capability), String(fn), request),
    openLink: api('openLink', (o) => {
      if (typeof o.url !== 'string') throw new MiniappError('invalid_argument', 'openLink: url is required');
      const target = /^https:/i.test(o.url) ? { kind: 'web', url: o.url } : { kind: 'deep_link', url: o.url };
      return host('link', 'open', { target });
    }),
    MiniappError,
  });
})(globalThis);
