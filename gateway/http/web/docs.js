// Renders /openapi.json as a page with a "try it" form per route.
'use strict';

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function schemaName(schema) {
  if (!schema) return '';
  if (schema.$ref) return schema.$ref.split('/').pop();
  if (schema.type === 'array') return schemaName(schema.items) + '[]';
  return schema.type || '';
}

async function tryRoute(method, path, inputs, bodyArea, out) {
  let url = path;
  const query = new URLSearchParams();
  for (const [p, input] of inputs) {
    if (input.value === '') continue;
    if (p.in === 'path') url = url.replace('{' + p.name + '}', encodeURIComponent(input.value));
    else query.append(p.name, input.value);
  }
  if ([...query].length) url += '?' + query;
  const headers = {};
  const token = document.getElementById('token').value.trim();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const init = { method, headers };
  if (bodyArea) { headers['Content-Type'] = 'application/json'; init.body = bodyArea.value; }
  out.textContent = method + ' ' + url + ' …';
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
    out.textContent = method + ' ' + url + ' → ' + response.status + '\n' + shown;
  } catch (e) {
    out.textContent = method + ' ' + url + ' failed: ' + e;
  }
}

function renderRoute(path, method, op) {
  const box = el('div', { class: 'route', 'data-testid': 'route' });
  box.append(el('div', {}, el('span', { class: 'method ' + method.toUpperCase() }, method.toUpperCase()),
                el('span', { class: 'path' }, path)));
  box.append(el('p', {}, op.summary || '', op.description ? ' — ' + op.description : ''));
  const inputs = [];
  if (op.parameters && op.parameters.length) {
    const table = el('table', {}, el('tr', {}, el('th', {}, 'parameter'), el('th', {}, 'in'),
                                     el('th', {}, 'value'), el('th', {}, 'description')));
    for (const p of op.parameters) {
      const input = el('input', { 'aria-label': p.name, placeholder: p.required ? 'required' : '' });
      inputs.push([p, input]);
      table.append(el('tr', {}, el('td', {}, p.name), el('td', {}, p.in), el('td', {}, input),
                      el('td', {}, p.description || '')));
    }
    box.append(table);
  }
  let bodyArea = null;
  if (op.requestBody) {
    const schema = op.requestBody.content['application/json'].schema;
    box.append(el('p', {}, 'JSON body: ', schemaName(schema)));
    bodyArea = el('textarea', { 'aria-label': 'request body' });
    bodyArea.value = '{}';
    box.append(bodyArea);
  }
  const codes = Object.entries(op.responses || {}).map(([code, r]) => {
    const c = r.content && Object.values(r.content)[0];
    return code + (c ? ' ' + schemaName(c.schema) : '') + ' (' + r.description + ')';
  });
  box.append(el('p', {}, 'Responses: ', codes.join('; ')));
  const out = el('pre', {});
  const button = el('button', { type: 'button' }, 'Try it');
  button.addEventListener('click', () => tryRoute(method.toUpperCase(), path, inputs, bodyArea, out));
  box.append(button, out);
  return box;
}

function renderSchema(name, schema) {
  const table = el('table', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'type'), el('th', {}, 'notes')));
  for (const [field, s] of Object.entries(schema.properties || {})) {
    const notes = [s.description || '', s.enum ? 'one of ' + s.enum.join(', ') : ''].filter(Boolean).join('; ');
    table.append(el('tr', {}, el('td', {}, field), el('td', {}, schemaName(s) + (s.format ? ' (' + s.format + ')' : '')),
                    el('td', {}, notes)));
  }
  return el('div', { id: 'schema-' + name }, el('h3', {}, name), table);
}

async function main() {
  const response = await fetch('/openapi.json');
  const spec = await response.json();
  document.getElementById('intro').textContent = spec.info.description;
  const routes = document.getElementById('routes');
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) routes.append(renderRoute(path, method, op));
  }
  const schemas = document.getElementById('schemas');
  for (const [name, schema] of Object.entries(spec.components.schemas)) schemas.append(renderSchema(name, schema));
}

main().catch((e) => { document.getElementById('intro').textContent = 'Cannot load /openapi.json: ' + e; });
