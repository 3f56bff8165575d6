// node-postgres named prepared statements through baton: several Clients and a Pool, interleaved.
//
// Usage: node named_queries.js HOST PORT DATABASE
// Prints one line per checked fact; the C++ test compares the output exactly. Named queries make
// node-postgres send Parse only once per connection and Bind/Execute by name afterwards.
'use strict';
const { Client, Pool } = require('pg');

async function main() {
  const [host, port, database] = process.argv.slice(2);
  const base = { host, port: Number(port), database, user: 'app', password: 'app-secret', ssl: false };
  const errors = [];

  const clients = [];
  for (let i = 0; i < 6; ++i) {
    const c = new Client(base);
    await c.connect();
    clients.push(c);
  }
  const pool = new Pool({ ...base, max: 4 });

  let sum = 0;
  let count = 0;
  for (let round = 0; round < 30; ++round) {
    const pending = [];
    clients.forEach((c, i) => {
      const x = i * 100 + round;
      pending.push(c.query({ name: 'get-x', text: 'SELECT $1::int + 1 AS v /* drv-node-get */', values: [x] })
        .then((r) => { if (r.rows[0].v !== x + 1) errors.push(`client ${i} round ${round}: ${r.rows[0].v}`); sum += r.rows[0].v; ++count; }));
      // A second name on the same connection, alternating with the first.
      pending.push(c.query({ name: 'concat', text: "SELECT $1::text || ':' || $2::text AS s /* drv-node-cat */", values: [`c${i}`, `${round}`] })
        .then((r) => { if (r.rows[0].s !== `c${i}:${round}`) errors.push(`client ${i} concat: ${r.rows[0].s}`); }));
    });
    for (let k = 0; k < 4; ++k) {
      const x = 10000 + round * 10 + k;
      pending.push(pool.query({ name: 'get-x', text: 'SELECT $1::int + 1 AS v /* drv-node-get */', values: [x] })
        .then((r) => { if (r.rows[0].v !== x + 1) errors.push(`pool ${k} round ${round}: ${r.rows[0].v}`); sum += r.rows[0].v; ++count; }));
    }
    await Promise.all(pending);
  }
  console.log(`named queries: rows=${count} sum=${sum}`);

  // A transaction on one client using the named statements while the others keep going.
  const t = clients[0];
  await t.query('BEGIN');
  const a = await t.query({ name: 'get-x', text: 'SELECT $1::int + 1 AS v /* drv-node-get */', values: [41] });
  const others = await Promise.all(clients.slice(1).map((c, i) =>
    c.query({ name: 'get-x', text: 'SELECT $1::int + 1 AS v /* drv-node-get */', values: [i] })));
  const b = await t.query({ name: 'concat', text: "SELECT $1::text || ':' || $2::text AS s /* drv-node-cat */", values: ['in', 'tx'] });
  await t.query('COMMIT');
  console.log(`in a transaction: ${a.rows[0].v} ${b.rows[0].s}; others: ${others.map((r) => r.rows[0].v).join(',')}`);

  // A named statement that fails at execution leaves the name usable afterwards.
  try {
    await clients[1].query({ name: 'div', text: 'SELECT 10 / $1::int AS q /* drv-node-div */', values: [0] });
    errors.push('division by zero did not fail');
  } catch (e) {
    console.log(`error ${e.code} ${e.message}`);
  }
  const q = await clients[1].query({ name: 'div', text: 'SELECT 10 / $1::int AS q /* drv-node-div */', values: [5] });
  console.log(`after the error: ${q.rows[0].q}`);

  for (const e of errors) console.log(`ERROR ${e}`);
  await Promise.all(clients.map((c) => c.end()));
  await pool.end();
  console.log('done');
}

main().catch((e) => { console.log(`FAILED ${e.stack}`); process.exit(1); });
