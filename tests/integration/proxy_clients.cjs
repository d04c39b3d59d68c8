// SPDX-License-Identifier: Apache-2.0
// The official OpenAI and Anthropic Node clients inside a governed tree, configured by nothing
// but what the shim exports (OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY,
// ANTHROPIC_BASE_URL): every call goes to cordond's model proxy with the session token, and
// cordond forwards it to the stub upstream. Run by tests/integration/proxy_clients.sh inside
// `cordon run`, with NODE_PATH at the installed clients and the agent's own provider key (sk-agent-fake-...) set
// before the run.
'use strict';
const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');

const oa = new OpenAI({ maxRetries: 0 });
const an = new Anthropic({ maxRetries: 0 });
const M = 'gpt-4o-mini', C = 'claude-haiku-4-5';

let pass = 0, fail = 0;
function ok(name, cond, ...info) {
    if (cond) { pass++; console.log('ok   ' + name); }
    else { fail++; console.log('FAIL ' + name); for (const i of info) console.log('     ' + JSON.stringify(i)); }
}
function eq(name, got, want) { ok(name, JSON.stringify(got) === JSON.stringify(want), { got, want }); }
const user = (t) => [{ role: 'user', content: t }];
const weather = { type: 'function', function: { name: 'get_weather', description: 'weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

function envTests() {
    const k = process.env.OPENAI_API_KEY || '';
    ok('env: OPENAI_API_KEY is the session token', /^cs_[A-Za-z0-9_-]{43}$/.test(k), k.slice(0, 3));
    eq('env: ANTHROPIC_API_KEY is the same token', process.env.ANTHROPIC_API_KEY, k);
    ok('env: the agent\'s own key is gone', !Object.values(process.env).some((v) => v.includes('sk-agent-fake')));
    ok('env: OPENAI_BASE_URL is cordond\'s /v1', /^http:\/\/127\.0\.0\.1:\d+\/v1$/.test(process.env.OPENAI_BASE_URL || ''),
       process.env.OPENAI_BASE_URL);
    ok('env: ANTHROPIC_BASE_URL is cordond', /^http:\/\/127\.0\.0\.1:\d+$/.test(process.env.ANTHROPIC_BASE_URL || ''),
       process.env.ANTHROPIC_BASE_URL);
}

async function chatTests() {
    let r = await oa.chat.completions.create({ model: M, messages: user('hi [[stub:text text="Hello, proxy!"]]') });
    eq('openai chat: text', r.choices[0].message.content, 'Hello, proxy!');
    const s = await oa.chat.completions.create({ model: M, stream: true,
        messages: user('[[stub:text text="streamed through cordond" chunks=4]]') });
    let t = '';
    for await (const c of s) t += c.choices[0]?.delta?.content ?? '';
    eq('openai chat stream: text assembled', t, 'streamed through cordond');
    r = await oa.chat.completions.create({ model: M, tools: [weather],
        messages: user('weather? [[stub:tool name=get_weather args={"city":"Oslo"}]]') });
    const call = r.choices[0].message.tool_calls?.[0];
    ok('openai chat tools: the call arrives', call && call.function.name === 'get_weather' &&
       JSON.parse(call.function.arguments).city === 'Oslo', r.choices[0].message);
    eq('openai chat tools: finish_reason', r.choices[0].finish_reason, 'tool_calls');
    const ts = await oa.chat.completions.create({ model: M, tools: [weather], stream: true,
        messages: user('[[stub:tool name=get_weather args={"city":"Rome"} chunks=3]]') });
    let name = '', args = '';
    for await (const c of ts) {
        const d = c.choices[0]?.delta?.tool_calls?.[0];
        if (d?.function?.name) name = d.function.name;
        if (d?.function?.arguments) args += d.function.arguments;
    }
    ok('openai chat stream tools: the call assembled', name === 'get_weather' && JSON.parse(args).city === 'Rome',
       { name, args });
}

async function responsesTests() {
    let r = await oa.responses.create({ model: M, input: 'hi [[stub:text text="Responses here"]]' });
    eq('openai responses: output_text', r.output_text, 'Responses here');
    const s = await oa.responses.create({ model: M, stream: true, input: '[[stub:text text="streamed response" chunks=3]]' });
    let t = '', done = false;
    for await (const e of s) {
        if (e.type === 'response.output_text.delta') t += e.delta;
        if (e.type === 'response.completed') done = true;
    }
    ok('openai responses stream: text and completion', t === 'streamed response' && done, { t, done });
    r = await oa.responses.create({ model: M, input: '[[stub:tool name=get_weather args={"city":"Lima"}]]',
        tools: [{ type: 'function', name: 'get_weather', parameters: weather.function.parameters }] });
    const fc = r.output.find((o) => o.type === 'function_call');
    ok('openai responses tools: the function call', fc && fc.name === 'get_weather' &&
       JSON.parse(fc.arguments).city === 'Lima', r.output);
}

async function anthropicTests() {
    let r = await an.messages.create({ model: C, max_tokens: 64, messages: user('hi [[stub:text text="Hi from claude"]]') });
    eq('anthropic messages: text', r.content[0].text, 'Hi from claude');
    const s = await an.messages.create({ model: C, max_tokens: 64, stream: true,
        messages: user('[[stub:text text="claude streamed" chunks=3]]') });
    let t = '';
    for await (const e of s)
        if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') t += e.delta.text;
    eq('anthropic messages stream: text assembled', t, 'claude streamed');
    const tools = [{ name: 'get_weather', description: 'weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    r = await an.messages.create({ model: C, max_tokens: 64, tools,
        messages: user('[[stub:tool name=get_weather args={"city":"Kyiv"}]]') });
    const tu = r.content.find((b) => b.type === 'tool_use');
    ok('anthropic tools: the tool_use block', tu && tu.name === 'get_weather' && tu.input.city === 'Kyiv', r.content);
    eq('anthropic tools: stop_reason', r.stop_reason, 'tool_use');
    const ts = await an.messages.create({ model: C, max_tokens: 64, tools, stream: true,
        messages: user('[[stub:tool name=get_weather args={"city":"Baku"} chunks=3]]') });
    let name = '', js = '';
    for await (const e of ts) {
        if (e.type === 'content_block_start' && e.content_block.type === 'tool_use') name = e.content_block.name;
        if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') js += e.delta.partial_json;
    }
    ok('anthropic stream tools: the call assembled', name === 'get_weather' && JSON.parse(js).city === 'Baku',
       { name, js });
}

// A call the policy denies (only get_weather is allowed) is taken out of the stream before
// the client sees it; the SDKs' own accumulators, which check indices and block order, still
// end cleanly, with no call and a finish that says so.
async function deniedInStreamTests() {
    const cs = oa.chat.completions.stream({ model: M, tools: [weather],
        messages: user('[[stub:text_then_tool text="Let me check." name=delete_all args={"all":true} chunks=3]]') });
    const fc = await cs.finalChatCompletion();
    const m = fc.choices[0].message;
    ok('openai chat stream helper: the denied call is gone, the stream ends cleanly',
       !(m.tool_calls && m.tool_calls.length) && fc.choices[0].finish_reason === 'stop' &&
       (m.content || '').startsWith('Let me check.'), fc.choices[0]);
    const rs = oa.responses.stream({ model: M, input: '[[stub:tool name=delete_all args={"all":true}]]',
        tools: [{ type: 'function', name: 'get_weather', parameters: weather.function.parameters }] });
    const rr = await rs.finalResponse();
    ok('openai responses stream helper: the denied call is gone, the response completes',
       !rr.output.some((o) => o.type === 'function_call') && rr.status === 'completed', rr.output);
    const ra = oa.responses.stream({ model: M, input: '[[stub:tool name=get_weather args={"city":"Quito"} chunks=3]]',
        tools: [{ type: 'function', name: 'get_weather', parameters: weather.function.parameters }] });
    const rra = await ra.finalResponse();
    const f = rra.output.find((o) => o.type === 'function_call');
    ok('openai responses stream helper: an allowed call assembled', f && f.name === 'get_weather' &&
       JSON.parse(f.arguments).city === 'Quito', rra.output);
    const tools = [{ name: 'get_weather', description: 'weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    const as = an.messages.stream({ model: C, max_tokens: 64, tools,
        messages: user('[[stub:text_then_tool text="One moment." name=delete_all args={"all":true} chunks=3]]') });
    const am = await as.finalMessage();
    ok('anthropic stream helper: the denied tool_use is gone, the message ends cleanly',
       !am.content.some((b) => b.type === 'tool_use') && am.stop_reason !== 'tool_use' &&
       am.content.some((b) => b.type === 'text' && b.text.startsWith('One moment.')), am);
}

(async () => {
    envTests();
    for (const f of [chatTests, responsesTests, anthropicTests, deniedInStreamTests]) {
        try { await f(); }
        catch (e) { ok(f.name + ' ran without an error', false, String(e && e.stack || e).slice(0, 600)); }
    }
    console.log(`${pass} passed, ${fail} failed`);
    process.exit(fail ? 1 : 0);
})();
