// SPDX-License-Identifier: Apache-2.0
// The ways node programs reach a host, for the name and IPv6 tunnel tests:
// `node net_clients.js PORT TARGET...`. For each target and way, one line:
// `RES WAY TARGET OK BODY` or `RES WAY TARGET ERR WHY`. Ways: fetch; http.get; net.connect
// with family 0, 4 and 6; net.connect with autoSelectFamily (happy eyeballs) where this node
// has it. Every connect of node is non-blocking.
'use strict';
const http = require('http');
const net = require('net');

const port = Number(process.argv[2]);
const targets = process.argv.slice(3);
const urlHost = (t) => (t.includes(':') ? `[${t}]` : t);

function viaNet(t, opts) {
    return new Promise((resolve, reject) => {
        const s = net.connect({ host: t, port, ...opts });
        let data = '';
        s.setTimeout(10000, () => s.destroy(new Error('timeout')));
        s.on('connect', () => s.write(`GET / HTTP/1.0\r\nHost: ${urlHost(t)}\r\n\r\n`));
        s.on('data', (d) => { data += d; });
        s.on('end', () => resolve(data.split('\r\n\r\n').slice(1).join('').trim()));
        s.on('error', reject);
    });
}

const ways = [
    ['fetch', (t) => fetch(`http://${urlHost(t)}:${port}/`).then((r) => r.text()).then((x) => x.trim())],
    ['http', (t) => new Promise((resolve, reject) => {
        http.get({ host: t, port, path: '/' }, (r) => {
            let d = '';
            r.on('data', (c) => { d += c; });
            r.on('end', () => resolve(d.trim()));
        }).on('error', reject);
    })],
    ['net-family0', (t) => viaNet(t, { family: 0 })],
    ['net-family4', (t) => viaNet(t, { family: 4 })],
    ['net-family6', (t) => viaNet(t, { family: 6 })],
];
if (typeof net.getDefaultAutoSelectFamily === 'function')
    ways.push(['net-autoselect', (t) => viaNet(t, { autoSelectFamily: true })]);
else
    console.log('note: this node has no autoSelectFamily; its case was not run');

(async () => {
    for (const t of targets) {
        for (const [name, fn] of ways) {
            // an IPv4 literal with family 6 (or the reverse) is not a lookup: skip the pair
            if ((name === 'net-family6' && net.isIPv4(t)) || (name === 'net-family4' && net.isIPv6(t)))
                continue;
            try {
                console.log(`RES node-${name} ${t} OK ${await fn(t)}`);
            } catch (e) {
                const c = e.cause || e;
                console.log(`RES node-${name} ${t} ERR ${c.code || ''} ${c.message}`);
            }
        }
    }
})();
