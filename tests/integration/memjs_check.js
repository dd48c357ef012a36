// Stores and reads values through memjs with SASL PLAIN over a plain port.
// Usage: node memjs_check.js PORT USER PASSWORD; exits 0 when every check passes.
'use strict';
const memjs = require('memjs');

const [port, user, password] = process.argv.slice(2);
const fail = (msg) => {
  console.error('memjs_check: ' + msg);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 20000).unref();

async function main() {
  const client = memjs.Client.create(`127.0.0.1:${port}`, {
    username: user,
    password: password,
    retries: 0,
    timeout: 5,
  });
  const value = 'memjs value ' + 'x'.repeat(5000);
  if (!(await client.set('memjs:key', value, {expires: 0}))) fail('set failed');
  const got = await client.get('memjs:key');
  if (!got.value || got.value.toString() !== value) fail('get returned a different value');
  await client.delete('memjs:key');
  const gone = await client.get('memjs:key');
  if (gone.value !== null) fail('deleted key still present');
  client.close();
  console.log('memjs_check: ok');
}

main().catch((e) => fail(String(e && e.stack ? e.stack : e)));
