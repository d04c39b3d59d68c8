// SPDX-License-Identifier: Apache-2.0
// The official OpenAI and Anthropic Node clients against tests/support/stub_upstream: for
// every endpoint and scenario, what the client yields (text, tool calls, reasons, usage,
// errors and their types, models, embeddings). Run by tests/integration/stub_upstream.sh
// with NODE_PATH at the installed clients, STUB_URL, STUB_OPENAI_KEY, STUB_ANTHROPIC_KEY.
'use strict';
const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');

const URL_ = process.env.STUB_URL;
const oa = new OpenAI({ apiKey: process.env.STUB_OPENAI_KEY, baseURL: URL_ + '/v1', maxRetries: 0 });
const an = new Anthropic({ apiKey: process.env.STUB_ANTHROPIC_KEY, baseURL: URL_, maxRetries: 0 });
const M = 'gpt-4o-mini', C = 'claude-haiku-4-5';

let pass = 0, fail = 0;
function ok(name, cond, ...info) {
    if (cond) { pass++; console.log('ok   ' + name); }
    else { fail++; console.log('FAIL ' + name); for (const i of info) console.log('     ' + JSON.stringify(i)); }
}
function eq(name, got, want) { ok(name, JSON.stringify(got) === JSON.stringify(want), { got, want }); }
async function raises(name, fn, cls, status) {
    try { await fn(); ok(name, false, 'no error raised'); }
    catch (e) { ok(name, e instanceof cls && (status === undefined || e.status === status),
                   { got: e.constructor.name, status: e.status, message: String(e.message).slice(0, 200) }); }
}
const user = (t) => [{ role: 'user', content: t }];
const chat = (t, extra = {}) => oa.chat.completions.create({ model: M, messages: user(t), ...extra });
async function chatStream(t, extra = {}) {
    const s = await chat(t, { stream: true, ...extra });
    const chunks = [];
    for await (const c of s) chunks.push(c);
    return chunks;
}
const text = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
const msg = (t, extra = {}) => an.messages.create({ model: C, max_tokens: 64, messages: user(t), ...extra });

async function chatTests() {
    let r = await chat('hi [[stub:text text="Hello, world!" input_tokens=11 output_tokens=7 cached_tokens=3 reasoning_tokens=2]]');
    eq('chat: text', r.choices[0].message.content, 'Hello, world!');
    eq('chat: finish_reason stop', r.choices[0].finish_reason, 'stop');
    eq('chat: usage', [r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens,
        r.usage.prompt_tokens_details.cached_tokens, r.usage.completion_tokens_details.reasoning_tokens],
       [11, 7, 18, 3, 2]);
    ok('chat: object and id', r.object === 'chat.completion' && r.id.startsWith('chatcmpl-'), r.id);
    eq('chat: model echoed', r.model, M);

    let ch = await chatStream('[[stub:text text="streamed words here" chunks=5 input_tokens=4 output_tokens=6]]',
                              { stream_options: { include_usage: true } });
    eq('chat stream: text assembled', text(ch), 'streamed words here');
    ok('chat stream: five content deltas', ch.filter((c) => c.choices[0]?.delta?.content).length === 5,
       ch.length);
    const last = ch[ch.length - 1];
    ok('chat stream: usage-only final chunk', last.choices.length === 0 && last.usage.total_tokens === 10, last);
    eq('chat stream: finish_reason', ch[ch.length - 2].choices[0].finish_reason, 'stop');
    ch = await chatStream('[[stub:text chunks=3 size=5]]');
    eq('chat stream: generated text', text(ch), 'lorem ipsum lor');
    ok('chat stream: no usage chunk unless asked', ch.every((c) => c.usage === undefined && c.choices.length === 1));

    r = await oa.chat.completions.create({ model: M, messages: [
        { role: 'system', content: 'SYS|' }, { role: 'user', content: [{ type: 'text', text: 'part1|' }, { type: 'text', text: 'part2|' }] },
        { role: 'assistant', content: 'prev|' }, { role: 'user', content: 'last [[stub:echo]]' }] });
    eq('chat: echo carries every text in order', r.choices[0].message.content, 'SYS|part1|part2|prev|last [[stub:echo]]');

    r = await chat('[[stub:tool name=lookup args="{\\"q\\":\\"cordon\\"}" id=call_fixed]]');
    const tc = r.choices[0].message.tool_calls;
    eq('chat: tool call', [tc.length, tc[0].id, tc[0].type, tc[0].function.name, JSON.parse(tc[0].function.arguments)],
       [1, 'call_fixed', 'function', 'lookup', { q: 'cordon' }]);
    eq('chat: finish_reason tool_calls', r.choices[0].finish_reason, 'tool_calls');
    ok('chat: content null with only a tool call', r.choices[0].message.content === null);

    let st = oa.chat.completions.stream({ model: M, messages: user('[[stub:tools_parallel n=3 name=fetch]]') });
    let fin = await st.finalChatCompletion();
    const calls = fin.choices[0].message.tool_calls;
    eq('chat stream: parallel tool calls', calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
       [['fetch', { call: 0 }], ['fetch', { call: 1 }], ['fetch', { call: 2 }]]);
    ok('chat stream: parallel ids distinct', new Set(calls.map((c) => c.id)).size === 3, calls.map((c) => c.id));

    ch = await chatStream('[[stub:tool_bytewise args="{\\"a\\":\\"é1\\"}"]]');
    const argDeltas = ch.map((c) => c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments).filter((a) => a);
    eq('chat stream: bytewise arguments, one character per event', argDeltas, ['{', '"', 'a', '"', ':', '"', 'é', '1', '"', '}']);
    eq('chat stream: bytewise name whole in the first delta', ch[1].choices[0].delta.tool_calls[0].function.name, 'get_weather');

    r = await chat('[[stub:tool_malformed]]');
    let threw = false;
    try { JSON.parse(r.choices[0].message.tool_calls[0].function.arguments); } catch { threw = true; }
    ok('chat: malformed arguments do not parse', threw, r.choices[0].message.tool_calls[0].function.arguments);

    ch = await chatStream('[[stub:tool_reused_index n=3]]');
    const starts = ch.map((c) => c.choices[0]?.delta?.tool_calls?.[0]).filter((t) => t && t.id);
    ok('chat stream: reused index 0 with distinct ids', starts.length === 3 && starts.every((t) => t.index === 0) &&
       new Set(starts.map((t) => t.id)).size === 3, starts);

    st = oa.chat.completions.stream({ model: M, messages: user('[[stub:text_then_tool text="Checking." name=look]]') });
    fin = await st.finalChatCompletion();
    eq('chat stream: text then tool', [fin.choices[0].message.content, fin.choices[0].message.tool_calls[0].function.name,
        fin.choices[0].finish_reason], ['Checking.', 'look', 'tool_calls']);

    let got = '';
    try {
        for await (const c of await chat('[[stub:error_midstream text="abcdefgh" chunks=4 after=2]]', { stream: true }))
            got += c.choices[0]?.delta?.content ?? '';
        ok('chat stream: mid-stream error raised', false, got);
    } catch (e) {
        ok('chat stream: mid-stream error raised as APIError after the content', e instanceof OpenAI.APIError && got === 'abcd',
           { got, name: e.constructor.name, message: e.message });
    }
    await raises('chat: status 429 is a RateLimitError', () => chat('[[stub:status code=429]]'), OpenAI.RateLimitError, 429);
    await raises('chat: status 400 is a BadRequestError', () => chat('[[stub:status code=400 message="nope"]]'), OpenAI.BadRequestError, 400);
    await raises('chat: status 500 is an InternalServerError', () => chat('[[stub:status code=500]]'), OpenAI.InternalServerError, 500);
    await raises('chat: status 401 is an AuthenticationError', () => chat('[[stub:status code=401]]'), OpenAI.AuthenticationError, 401);
    await raises('chat stream: status before the stream', () => chat('[[stub:status code=529]]', { stream: true }), OpenAI.APIError, 529);
    const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: URL_ + '/v1', maxRetries: 0 });
    await raises('chat: a wrong key is an AuthenticationError', () => bad.chat.completions.create({ model: M, messages: user('x') }),
                 OpenAI.AuthenticationError, 401);

    let t0 = Date.now();
    const sr = await chat('[[stub:slow_first_byte first_byte_ms=400 first_event_ms=0]]', { stream: true });
    const t1 = Date.now();
    for await (const c of sr) void c;
    ok('chat stream: slow first byte delays the headers', t1 - t0 >= 380, t1 - t0);
    t0 = Date.now();
    const se = await chat('[[stub:slow_first_byte first_byte_ms=0 first_event_ms=400]]', { stream: true });
    const t2 = Date.now();
    let firstAt = 0;
    for await (const c of se) { if (!firstAt) firstAt = Date.now(); void c; }
    ok('chat stream: slow first event: headers at once, events later', t2 - t0 < 300 && firstAt - t0 >= 380, [t2 - t0, firstAt - t0]);
    t0 = Date.now();
    ch = await chatStream('[[stub:text chunks=4 delay_ms=100]]');
    ok('chat stream: delay_ms between deltas', Date.now() - t0 >= 350 && text(ch).length === 64, Date.now() - t0);

    got = '';
    try {
        for await (const c of await chat('[[stub:drop text="12345678" chunks=8 after=3]]', { stream: true }))
            got += c.choices[0]?.delta?.content ?? '';
        ok('chat stream: drop raises', false, got);
    } catch (e) { ok('chat stream: drop raises after the content sent', got === '123', { got, e: String(e) }); }
    await raises('chat: drop of a non-streamed answer', () => chat('[[stub:drop]]'), Error);

    ch = await chatStream('[[stub:huge mib=2 size=65536]]');
    ok('chat stream: huge 2 MiB in 32 deltas', text(ch).length === 2 << 20 && ch.length === 32 + 2, [text(ch).length, ch.length]);
    ch = await chatStream('[[stub:sse_long_line bytes=300000]]');
    ok('chat stream: one 300000-byte delta', ch.filter((c) => c.choices[0]?.delta?.content).map((c) => c.choices[0].delta.content.length)
       .join() === '300000');
    ch = await chatStream('[[stub:sse_no_final_newline text="tail" chunks=2]]');
    eq('chat stream: no final newline still assembles', text(ch), 'tail');
    ch = await chatStream('[[stub:sse_unterminated mode=close text="open" chunks=2]]');
    ok('chat stream: unterminated (body ended): text, no finish', text(ch) === 'open' && ch.every((c) => !c.choices[0].finish_reason), ch.length);
    got = '';
    t0 = Date.now();
    try {
        for await (const c of await chat('[[stub:sse_unterminated hold_ms=300 text="held" chunks=2]]', { stream: true }))
            got += c.choices[0]?.delta?.content ?? '';
        ok('chat stream: unterminated (held, then closed) raises', false, got);
    } catch (e) { ok('chat stream: unterminated (held, then closed) raises after the hold', got === 'held' && Date.now() - t0 >= 280, [got, Date.now() - t0]); }
    ch = await chatStream('[[stub:ping_storm text="pingpong" chunks=4 pings=5]]');
    eq('chat stream: comments between deltas are skipped', text(ch), 'pingpong');
    r = await chat('[[stub:placeholder tokens="[EMAIL_1] [PHONE_2]" repeat=3]]');
    eq('chat: placeholder tokens', r.choices[0].message.content, '[EMAIL_1] [PHONE_2] [EMAIL_1] [PHONE_2] [EMAIL_1] [PHONE_2]');
    ch = await chatStream('[[stub:placeholder tokens="[EMAIL_1]" repeat=2 size=2]]');
    ok('chat stream: placeholders split across deltas', text(ch) === '[EMAIL_1] [EMAIL_1]' && ch.length === 10 + 2, ch.length);
    r = await chat('[[stub:text text="cut" finish=length]]');
    eq('chat: finish=length', r.choices[0].finish_reason, 'length');
    r = await chat('[[stub:text text="first"]] later [[stub:text text="second"]]');
    eq('chat: the last marker wins', r.choices[0].message.content, 'second');
    await raises('chat: an unknown scenario is a 400 that names it', () => chat('[[stub:nosuch]]'), OpenAI.BadRequestError, 400);
}

async function responsesTests() {
    let r = await oa.responses.create({ model: M, input: '[[stub:text text="Resp text" input_tokens=5 output_tokens=3 cached_tokens=1 reasoning_tokens=1]]' });
    eq('responses: output_text', r.output_text, 'Resp text');
    eq('responses: status and usage', [r.status, r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens,
        r.usage.input_tokens_details.cached_tokens, r.usage.output_tokens_details.reasoning_tokens], ['completed', 5, 3, 8, 1, 1]);
    const s = oa.responses.stream({ model: M, input: [{ role: 'user', content: [{ type: 'input_text', text: '[[stub:text_then_tool text="On it." name=find args="{\\"x\\":1}"]]' }] }] });
    const types = [], seqs = [];
    s.on('event', (e) => { types.push(e.type); seqs.push(e.sequence_number); });
    r = await s.finalResponse();
    eq('responses stream: final text and call', [r.output_text, r.output[1].type, r.output[1].name, JSON.parse(r.output[1].arguments)],
       ['On it.', 'function_call', 'find', { x: 1 }]);
    eq('responses stream: event order', [...new Set(types)], ['response.created', 'response.in_progress', 'response.output_item.added',
        'response.content_part.added', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
        'response.output_item.done', 'response.function_call_arguments.delta', 'response.function_call_arguments.done',
        'response.completed']);
    ok('responses stream: sequence numbers count up from 0', seqs.every((n, i) => n === i), seqs);
    r = await oa.responses.create({ model: M, input: '[[stub:tools_parallel n=2]]' });
    ok('responses: parallel function calls', r.output.length === 2 && r.output.every((o) => o.type === 'function_call') &&
       r.output[0].call_id !== r.output[1].call_id, r.output);
    const ev = [];
    for await (const e of await oa.responses.create({ model: M, input: '[[stub:error_midstream after=1 error=server_error message="boom"]]', stream: true }))
        ev.push(e);
    const err = ev.find((e) => e.type === 'error');
    ok('responses stream: mid-stream error event', err && err.code === 'server_error' && err.message === 'boom' &&
       !ev.some((e) => e.type === 'response.completed'), ev.map((e) => e.type));
    await raises('responses: status 429', () => oa.responses.create({ model: M, input: '[[stub:status code=429]]' }), OpenAI.RateLimitError, 429);
    r = await oa.responses.create({ model: M, instructions: 'I|', input: 'echo me [[stub:echo]]' });
    eq('responses: echo', r.output_text, 'I|echo me [[stub:echo]]');
}

async function embeddingModelTests() {
    const input = ['alpha', 'beta'];
    const f = await oa.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float', dimensions: 8 });
    ok('embeddings: float vectors', f.data.length === 2 && f.data.every((d, i) => d.index === i && d.embedding.length === 8 &&
       d.embedding.every((x) => x >= -1 && x <= 1)), f.data);
    const d = await oa.embeddings.create({ model: 'text-embedding-3-small', input, dimensions: 8 });
    eq('embeddings: the client\'s default (base64) decodes to the same floats', d.data.map((x) => Array.from(x.embedding)),
       f.data.map((x) => x.embedding));
    const b = await oa.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', dimensions: 8, encoding_format: 'base64' });
    const buf = Buffer.from(b.data[0].embedding, 'base64');
    const dec = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
    eq('embeddings: base64 is little-endian float32', dec, f.data[0].embedding);
    ok('embeddings: usage', f.usage.prompt_tokens > 0 && f.usage.total_tokens === f.usage.prompt_tokens, f.usage);
    const ids = [];
    for await (const m of oa.models.list()) ids.push(m.id);
    ok('models: listed', ids.includes('gpt-4o-mini') && ids.includes('claude-haiku-4-5'), ids);
    eq('models: retrieve', (await oa.models.retrieve('gpt-4o')).id, 'gpt-4o');
    await raises('models: retrieve a missing one is a 404', () => oa.models.retrieve('nope'), OpenAI.NotFoundError, 404);
    const aids = [];
    for await (const m of an.models.list()) aids.push(m.id);
    ok('anthropic models: listed', aids.includes('claude-sonnet-4-5'), aids);
}

async function anthropicTests() {
    let r = await msg('[[stub:text text="Bonjour" input_tokens=9 output_tokens=4 cached_tokens=2 cache_creation_tokens=1]]');
    eq('messages: text', [r.content[0].type, r.content[0].text, r.stop_reason, r.role, r.type], ['text', 'Bonjour', 'end_turn', 'assistant', 'message']);
    eq('messages: usage', [r.usage.input_tokens, r.usage.output_tokens, r.usage.cache_read_input_tokens, r.usage.cache_creation_input_tokens], [9, 4, 2, 1]);
    let s = an.messages.stream({ model: C, max_tokens: 64, messages: user('[[stub:text text="streamed reply" chunks=3 output_tokens=5]]') });
    const evt = [];
    s.on('streamEvent', (e) => evt.push(e.type));
    r = await s.finalMessage();
    eq('messages stream: text and usage', [r.content[0].text, r.usage.output_tokens, r.stop_reason], ['streamed reply', 5, 'end_turn']);
    eq('messages stream: event order', [...new Set(evt)], ['message_start', 'content_block_start', 'content_block_delta',
        'content_block_stop', 'message_delta', 'message_stop']);
    s = an.messages.stream({ model: C, max_tokens: 64, messages: user('[[stub:text_then_tool name=search args="{\\"q\\":\\"x\\"}"]]') });
    r = await s.finalMessage();
    eq('messages stream: tool_use input parsed', [r.content[0].type, r.content[1].type, r.content[1].name, r.content[1].input, r.stop_reason],
       ['text', 'tool_use', 'search', { q: 'x' }, 'tool_use']);
    ok('messages stream: tool_use id', r.content[1].id.startsWith('toolu_'), r.content[1].id);
    r = await msg('[[stub:tools_parallel n=3]]');
    ok('messages: parallel tool_use blocks', r.content.length === 3 && r.content.every((c, i) => c.type === 'tool_use' && c.input.call === i), r.content);
    s = an.messages.stream({ model: C, max_tokens: 64, messages: user('[[stub:tool_bytewise]]') });
    let deltas = 0;
    s.on('inputJson', () => deltas++);
    r = await s.finalMessage();
    ok('messages stream: bytewise input, one character per delta', deltas === 33 && r.content[0].input.city === 'Paris', deltas);
    let got = '';
    try {
        for await (const e of await msg('[[stub:error_midstream text="xyzw" chunks=4 after=2]]', { stream: true }))
            if (e.type === 'content_block_delta') got += e.delta.text;
        ok('messages stream: mid-stream error raised', false);
    } catch (e) {
        ok('messages stream: error event raised as overloaded_error after the content', e instanceof Anthropic.APIError && got === 'xy' &&
           e.error?.error?.type === 'overloaded_error', { got, n: e.constructor.name, err: e.error });
    }
    await raises('messages: 529 is an OverloadedError', () => msg('[[stub:status code=529]]'), Anthropic.APIError, 529);
    await raises('messages: 429 is a RateLimitError', () => msg('[[stub:status code=429]]'), Anthropic.RateLimitError, 429);
    await raises('messages: 400 is a BadRequestError', () => msg('[[stub:status code=400]]'), Anthropic.BadRequestError, 400);
    const bad = new Anthropic({ apiKey: 'wrong', baseURL: URL_, maxRetries: 0 });
    await raises('messages: a wrong key is an AuthenticationError', () => bad.messages.create({ model: C, max_tokens: 5, messages: user('x') }),
                 Anthropic.AuthenticationError, 401);
    r = await an.messages.create({ model: C, max_tokens: 5, system: [{ type: 'text', text: 'S1|' }], messages: [
        { role: 'user', content: [{ type: 'text', text: 'U1|' }] }, { role: 'assistant', content: 'A1|' },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'R1|' }, { type: 'text', text: '[[stub:echo]]' }] }] });
    eq('messages: echo carries system, blocks and tool results in order', r.content[0].text, 'S1|U1|A1|R1|[[stub:echo]]');
    r = await msg('[[stub:text finish=length]]');
    eq('messages: finish=length is max_tokens', r.stop_reason, 'max_tokens');
    s = an.messages.stream({ model: C, max_tokens: 64, messages: user('[[stub:ping_storm text="abcd" chunks=4 pings=4]]') });
    r = await s.finalMessage();
    eq('messages stream: pings between deltas are skipped', r.content[0].text, 'abcd');
    got = '';
    try {
        for await (const e of await msg('[[stub:drop text="abcd" chunks=4 after=2]]', { stream: true }))
            if (e.type === 'content_block_delta') got += e.delta.text;
        ok('messages stream: drop raises', false);
    } catch (e) { ok('messages stream: drop raises after the content', got === 'ab', { got, e: String(e) }); }
}

(async () => {
    for (const t of [chatTests, responsesTests, embeddingModelTests, anthropicTests]) {
        try { await t(); } catch (e) { ok(t.name + ' ran to the end', false, String(e.stack || e)); }
    }
    console.log(`${pass} passed, ${fail} failed`);
    process.exit(fail ? 1 : 0);
})();
