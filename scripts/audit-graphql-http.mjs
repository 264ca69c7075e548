// Runs the serverAudits of graphql-http against a running gateway, with a bearer
// token on every request (the gateway refuses requests without one), and prints
// each result and the totals. Used by scripts/audit-graphql-http.sh.
import { serverAudits } from 'graphql-http';

const url = process.env.AUDIT_URL;
const token = process.env.AUDIT_TOKEN;
if (!url || !token) {
  console.error('AUDIT_URL and AUDIT_TOKEN are required');
  process.exit(2);
}

// serverAudits calls fetchFn(url, init) with plain-object headers (or none).
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const counts = { ok: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  counts[result.status] += 1;
  let line = `${result.status.toUpperCase().padEnd(5)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    line += `\n      ${result.reason}`;
    if (result.response) {
      const body = await result.response.text().catch(() => '');
      line += `\n      status ${result.response.status}: ${body.slice(0, 300)}`;
    }
  }
  console.log(line);
}
console.log(`\n${counts.ok} passed, ${counts.error} failed, ${counts.warn} warned`);
process.exit(counts.error > 0 || counts.warn > 0 ? 1 : 0);
