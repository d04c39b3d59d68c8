// SPDX-License-Identifier: Apache-2.0
// api.data through cordond with the official clients: the openai client's e-mail address is
// tokenized on the way to the stub upstream and restored in the answers of the same session
// (in the stream of the same call, and in a later call that only names the token), and a card
// number the model streams through @anthropic-ai/sdk arrives redacted. Run by
// tests/integration/data_proxy.sh inside `cordon run`; the script checks the stub's request
// log for the address.
'use strict';
const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');

const oa = new OpenAI({ maxRetries: 0 });
const an = new Anthropic({ maxRetries: 0 });
const EMAIL = 'alice.smith@example.com';

let pass = 0, fail = 0;
function ok(name, cond, ...info) {
    if (cond) { pass++; console.log('ok   ' + name); }
    else { fail++; console.log('FAIL ' + name); for (const i of info) console.log('     ' + JSON.stringify(i)); }
}
const user = (t) => [{ role: 'user', content: t }];

async function main() {
    // 1. the stub echoes what reached it, streamed in 5-byte deltas: the token, restored
    const s = await oa.chat.completions.create({ model: 'gpt-4o-mini', stream: true,
        messages: user(`Write to ${EMAIL} today. [[stub:echo size=5]]`) });
    let t = '';
    for await (const c of s) t += c.choices[0]?.delta?.content ?? '';
    ok('openai stream: the client sees its address restored', t.includes(`Write to ${EMAIL} today.`), t);
    ok('openai stream: no token left in the answer', !t.includes('[EMAIL_'), t);
    // 2. a later call of the same session: the model names only the token
    const r = await oa.chat.completions.create({ model: 'gpt-4o-mini',
        messages: user('Who did you write to? [[stub:text text="I wrote to [EMAIL_1] as asked."]]') });
    ok('openai: the same session restores the token in a later answer',
       r.choices[0].message.content === `I wrote to ${EMAIL} as asked.`, r.choices[0].message.content);
    const r2 = await oa.chat.completions.create({ model: 'gpt-4o-mini',
        messages: user('[[stub:text text="And [EMAIL_7] is not one of ours."]]') });
    ok('openai: a token the vault never minted is left alone',
       r2.choices[0].message.content === 'And [EMAIL_7] is not one of ours.', r2.choices[0].message.content);
    // 3. Anthropic stream: the model's card number is redacted across the deltas
    const st = an.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 64,
        messages: user('[[stub:text text="Your card 4539 1488 0343 6467 is on file." chunks=7]]') });
    let a = '';
    st.on('text', (d) => { a += d; });
    const fin = await st.finalMessage();
    ok('anthropic stream: the card number arrives redacted', a === 'Your card [CREDIT_CARD] is on file.', a);
    ok('anthropic stream: the final message agrees', fin.content[0].text === a, fin.content);
    console.log(`${pass} passed, ${fail} failed`);
    process.exit(fail ? 1 : 0);
}
main().catch((e) => { console.log('FAIL exception: ' + e.stack); process.exit(1); });
