import * as assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { AccessGuard } from '../../../src/core/proxy/access';
import { ProxyError } from '../../../src/core/errors';

const TOKEN = 'kr-test-Zq8vLm3Np7RtZq8vLm3Np7Rt0001';
const PORT = 48787;

function guard(
  extra: Partial<{ bindHost: string; allowedOrigins: string[]; allowedHosts: string[] }> = {},
): AccessGuard {
  return new AccessGuard({ port: PORT, bindHost: '127.0.0.1', allowedOrigins: [], token: TOKEN, ...extra });
}

/** Asserts `fn` throws a ProxyError with this code and status, and returns it for more checks. */
function rejects(fn: () => unknown, code: string, status: number): ProxyError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProxyError, `expected ProxyError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  return caught;
}

/** A request as the server sees it: parsed headers and the raw name/value list. */
function req(headers: Record<string, string>, extraRaw: string[] = []) {
  return { headers, rawHeaders: [...Object.entries(headers).flat(), ...extraRaw] };
}

suite('AccessGuard.checkOrigin', () => {
  test('two Host headers are refused even when the first is allowed', () => {
    const e = rejects(
      () => guard().checkOrigin(req({ host: `127.0.0.1:${PORT}` }, ['HOST', 'evil.example'])),
      'bad_request_target',
      400,
    );
    assert.match(e.message, /more than one Host/);
  });

  test('accepts the loopback names with our port, case-insensitively', () => {
    const g = guard();
    for (const host of [`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`, `LocalHost:${PORT}`]) {
      assert.doesNotThrow(() => g.checkOrigin(req({ host })), host);
    }
  });

  test('refuses other hosts, other ports, a missing port and a missing Host (DNS rebinding)', () => {
    const g = guard();
    for (const host of [
      'evil.example',
      `evil.example:${PORT}`,
      '127.0.0.1:1',
      '127.0.0.1',
      'localhost',
      `127.0.0.2:${PORT}`,
      `0.0.0.0:${PORT}`,
    ]) {
      const e = rejects(() => g.checkOrigin(req({ host })), 'forbidden_host', 403);
      assert.match(e.message, new RegExp(`http://127\\.0\\.0\\.1:${PORT}`), 'the message names the right address');
    }
    const none = rejects(() => g.checkOrigin(req({})), 'bad_request_target', 400);
    assert.match(none.message, /no Host header.*Host: 127\.0\.0\.1/);
  });

  test('a non-loopback bind host is accepted as well, as the user chose it', () => {
    const g = guard({ bindHost: '192.168.1.20' });
    assert.doesNotThrow(() => g.checkOrigin(req({ host: `192.168.1.20:${PORT}` })));
    assert.doesNotThrow(() => g.checkOrigin(req({ host: `127.0.0.1:${PORT}` })));
    rejects(() => guard().checkOrigin(req({ host: `192.168.1.20:${PORT}` })), 'forbidden_host', 403);
  });

  test('requests with an Origin are refused unless the origin is allowed', () => {
    const host = `127.0.0.1:${PORT}`;
    const e = rejects(
      () => guard().checkOrigin(req({ host, origin: 'https://evil.example' })),
      'forbidden_origin',
      403,
    );
    assert.match(e.message, /keyRelay\.proxy\.allowedOrigins/);
    rejects(() => guard().checkOrigin(req({ host, origin: 'null' })), 'forbidden_origin', 403);
    assert.doesNotThrow(() => guard().checkOrigin(req({ host })));
  });

  test('allowed origins match without trailing slash and case-insensitively, and only exactly', () => {
    const g = guard({ allowedOrigins: ['http://localhost:3000/', 'https://App.Example.com'] });
    const host = `127.0.0.1:${PORT}`;
    assert.doesNotThrow(() => g.checkOrigin(req({ host, origin: 'http://localhost:3000' })));
    assert.doesNotThrow(() => g.checkOrigin(req({ host, origin: 'https://app.example.com' })));
    rejects(() => g.checkOrigin(req({ host, origin: 'http://localhost:3001' })), 'forbidden_origin', 403);
    rejects(
      () => g.checkOrigin(req({ host, origin: 'https://app.example.com.evil.example' })),
      'forbidden_origin',
      403,
    );
  });
});

suite('AccessGuard.credential', () => {
  test('the access token in any of the three headers unlocks pool keys', () => {
    const g = guard();
    const forms: IncomingHttpHeaders[] = [
      { authorization: `Bearer ${TOKEN}` },
      { 'x-api-key': TOKEN },
      { 'api-key': TOKEN },
    ];
    for (const h of forms) assert.deepEqual(g.credential(h), { isToken: true }, JSON.stringify(Object.keys(h)));
  });

  test('another credential is handed back for passthrough, never taken for the token', () => {
    const g = guard();
    const own = 'sk-test-ownkeyZq8vLm3Np7RtZq8vLm3Np7';
    assert.deepEqual(g.credential({ authorization: `Bearer ${own}` }), {
      isToken: false,
      credential: own,
      mayPassThrough: true,
    });
    // A prefix or an extension of the token is not the token.
    assert.equal(g.credential({ 'x-api-key': TOKEN.slice(0, -1) }).isToken, false);
    assert.equal(g.credential({ 'x-api-key': `${TOKEN}x` }).isToken, false);
  });

  test('bound beyond loopback, an own key may pass through only with the token in x-keyrelay-token', () => {
    const own = 'sk-test-ownkeyZq8vLm3Np7RtZq8vLm3Np7';
    for (const bindHost of ['0.0.0.0', '::', '192.168.1.5']) {
      const g = guard({ bindHost });
      assert.equal(g.credential({ authorization: `Bearer ${own}` }).mayPassThrough, false, bindHost);
      assert.equal(g.credential({ authorization: `Bearer ${own}`, 'x-keyrelay-token': 'wrong' }).mayPassThrough, false);
      assert.equal(g.credential({ authorization: `Bearer ${own}`, 'x-keyrelay-token': TOKEN }).mayPassThrough, true);
    }
  });

  test('on 0.0.0.0 only loopback names and the listed allowedHosts pass the Host check', () => {
    const g = guard({ bindHost: '0.0.0.0', allowedHosts: ['MyBox.lan', 'fd00::5'] });
    for (const host of [`127.0.0.1:${PORT}`, `mybox.lan:${PORT}`, `[fd00::5]:${PORT}`]) g.checkOrigin(req({ host }));
    for (const host of [`0.0.0.0:${PORT}`, `192.168.1.5:${PORT}`, `evil.example:${PORT}`])
      rejects(() => g.checkOrigin(req({ host })), 'forbidden_host', 403);
  });

  test('no credential is 401 naming the command, without echoing anything secret', () => {
    const e = rejects(() => guard().credential({}), 'unauthorized', 401);
    assert.match(e.message, /Copy Access Token/);
    assert.ok(!e.message.includes(TOKEN));
  });

  test('setToken replaces the token at once', () => {
    const g = guard();
    const next = 'kr-test-rotatedZq8vLm3Np7RtZq8vLm3N';
    g.setToken(next);
    assert.equal(g.credential({ 'x-api-key': TOKEN }).isToken, false);
    assert.equal(g.credential({ 'x-api-key': next }).isToken, true);
  });

  test('multi-byte tokens compare by bytes without throwing', () => {
    const g = new AccessGuard({ port: PORT, bindHost: '127.0.0.1', allowedOrigins: [], token: 'tökén-ü' });
    assert.equal(g.credential({ 'x-api-key': 'tökén-ü' }).isToken, true);
    assert.equal(g.credential({ 'x-api-key': 'tokenxxx' }).isToken, false);
  });

  test('only the whole token matches: not a prefix, not the token with more after it, not NUL-padded', () => {
    const g = guard();
    for (const other of [TOKEN.slice(0, -1), `${TOKEN}x`, `${TOKEN}\0`, TOKEN.toUpperCase(), 'k', 'x'.repeat(600)]) {
      assert.equal(g.credential({ 'x-api-key': other }).isToken, false, `${other.length} chars`);
    }
    assert.equal(g.credential({ 'x-api-key': TOKEN }).isToken, true);
  });

  test('a token longer than the compared width (512 bytes) still matches only itself', () => {
    const long = `kr-${'Zq8vLm3N'.repeat(80)}`;
    const g = new AccessGuard({ port: PORT, bindHost: '127.0.0.1', allowedOrigins: [], token: long });
    assert.equal(g.credential({ 'x-api-key': long }).isToken, true);
    assert.equal(g.credential({ 'x-api-key': long.slice(0, 512) }).isToken, false);
    assert.equal(g.credential({ 'x-api-key': `${long}Z` }).isToken, false);
    assert.equal(g.credential({ 'x-api-key': `${long.slice(0, -1)}q` }).isToken, false);
  });
});
