// Kernel-free runtime for exported pages (eagle_kit.widgets.save_html): models that
// implement the anywidget model interface (get/set/on/off/save_changes/send) over the saved
// widget state, a `host` to compose child widgets, and `mount` to render the root widget.
// Changes stay in the page: there is no kernel to sync with.

const WIDGET_REF = "anywidget:";

/** Decode a base64 string into an ArrayBuffer. */
export function decodeBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes.buffer;
}

/** Put binary buffers back into a state object at their paths, as DataViews. */
export function restoreBuffers(state, buffers) {
  for (const { path, data } of buffers) {
    let obj = state;
    for (const key of path.slice(0, -1)) obj = obj[key];
    obj[path[path.length - 1]] = new DataView(decodeBase64(data));
  }
  return state;
}

/** A widget model held in the page: the anywidget model interface without a kernel. */
export class PageModel {
  constructor(id, state) {
    this.id = id;
    this.state = state;
    this.listeners = new Map();
  }

  get(name) {
    return this.state[name];
  }

  set(name, value) {
    const old = this.state[name];
    this.state[name] = value;
    if (old !== value) {
      this.emit(`change:${name}`, value);
      this.emit("change", name);
    }
  }

  on(event, callback) {
    for (const name of String(event).split(/\s+/)) {
      if (!this.listeners.has(name)) this.listeners.set(name, new Set());
      this.listeners.get(name).add(callback);
    }
  }

  off(event, callback) {
    if (event == null) {
      if (callback == null) this.listeners.clear();
      else for (const set of this.listeners.values()) set.delete(callback);
      return;
    }
    for (const name of String(event).split(/\s+/)) {
      if (callback == null) this.listeners.delete(name);
      else this.listeners.get(name)?.delete(callback);
    }
  }

  emit(event, value) {
    for (const callback of [...(this.listeners.get(event) ?? [])]) callback(this, value);
  }

  /** Nothing to sync with in a page; kept so widget code runs unchanged. */
  save_changes() {}

  /** Custom messages need a kernel; they are dropped with a note in the console. */
  send(message) {
    console.info("[eagle_kit] no kernel in an exported page; message not sent:", message);
  }
}

/** Models from a saved page state: {models: {id: {state, buffers}}}. */
export function createModels(spec) {
  const models = new Map();
  for (const [id, saved] of Object.entries(spec.models)) {
    models.set(id, new PageModel(id, restoreBuffers(saved.state, saved.buffers ?? [])));
  }
  return models;
}

function parseRef(ref) {
  if (typeof ref !== "string" || !ref.startsWith(WIDGET_REF)) {
    throw new Error(`Invalid widget reference ${JSON.stringify(ref)}; expected "${WIDGET_REF}<model id>".`);
  }
  return ref.slice(WIDGET_REF.length);
}

const modules = new Map();

/** Import a widget's ES module from its source text (cached per source). */
export function importWidget(esm) {
  if (!modules.has(esm)) {
    const url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
    modules.set(
      esm,
      import(url).finally(() => URL.revokeObjectURL(url)),
    );
  }
  return modules.get(esm);
}

async function widgetOf(esm) {
  const mod = await importWidget(esm);
  const def = typeof mod.default === "function" ? await mod.default() : mod.default;
  if (!def || typeof def.render !== "function") throw new Error("The widget module has no default { render }.");
  return def;
}

/** The composition host handed to render(): child models and widgets by reference. */
export function createHost(models) {
  const lookup = (ref) => {
    const model = models.get(parseRef(ref));
    if (!model) throw new Error(`No widget ${ref} in this page.`);
    return model;
  };
  const host = {
    async getModel(ref) {
      return lookup(ref);
    },
    async getWidget(ref) {
      const model = lookup(ref);
      const def = await widgetOf(model.get("_esm"));
      return {
        render: async ({ el, signal }) => renderModel(def, model, el, host, signal),
      };
    },
  };
  return host;
}

async function renderModel(def, model, el, host, signal) {
  if (typeof def.initialize === "function" && !model.initialized) {
    model.initialized = true;
    await def.initialize({ model });
  }
  const cleanup = await def.render({ model, el, host, signal });
  if (typeof cleanup === "function" && signal) signal.addEventListener("abort", () => cleanup());
}

/** Render the root widget of a saved page state into `el`. Returns the models. */
export async function mount(spec, el) {
  const models = createModels(spec);
  const host = createHost(models);
  const controller = new AbortController();
  const widget = await host.getWidget(`${WIDGET_REF}${spec.root}`);
  await widget.render({ el, signal: controller.signal });
  return { models, host, dispose: () => controller.abort() };
}
