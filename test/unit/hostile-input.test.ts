import request from 'supertest';
import { createApp } from '../../src/app';
import { asIs, FakeClusterView, FakeStore, silentLogger, testConfig } from '../support/fakes';
import { errorBody } from '../support/http';

/** A store already holding data, so every test can check nothing was changed or lost. */
function setup() {
  const store = new FakeStore();
  store.data.set('kept', { value: 'original', ttl: undefined });
  const app = createApp({ store, view: new FakeClusterView(), logger: silentLogger, config: testConfig({ NODE_ENV: 'production' }) });
  return { app, store, unchanged: () => expect([...store.data.entries()]).toEqual([['kept', { value: 'original', ttl: undefined }]]) };
}

describe('input a hostile user might send', () => {
  it.each([
    ['bytes that are not UTF-8 in the key', 'key=%FF%FEkept&value=v', 'not valid UTF-8'],
    ['bytes that are not UTF-8 in the value', 'key=kept&value=%C3%28', 'not valid UTF-8'],
    [
      'raw bytes that are not UTF-8',
      Buffer.from([0x6b, 0x65, 0x79, 0x3d, 0xff, 0x26, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x3d, 0x76]),
      'not valid UTF-8',
    ],
    ['a NUL byte in the key', 'key=ke%00pt&value=v', 'control characters'],
    ['a newline in the key', 'key=a%0Ab&value=v', 'control characters'],
    ['a tab-only key', 'key=%09&value=v', 'must not be empty'],
  ])('refuses %s with 400 and changes nothing', async (_name, body: string | Buffer, message) => {
    const { app, unchanged } = setup();
    const res = await request(app).post('/save-data').type('form').serialize(asIs).send(body).expect(400);
    expect(res.text).toContain(message);
    unchanged();
  });

  it('refuses a value over 1 MB with 413 and changes nothing', async () => {
    const { app, unchanged } = setup();
    await request(app)
      .post('/save-data')
      .type('form')
      .send({ key: 'kept', value: 'x'.repeat(1024 * 1024 + 1) })
      .expect(413);
    unchanged();
  });

  it('refuses a 5 MB JSON body with 413 and changes nothing', async () => {
    const { app, unchanged } = setup();
    await request(app)
      .put('/api/keys/kept')
      .set('content-type', 'application/json')
      .send(`{"value":"${'x'.repeat(5 * 1024 * 1024)}"}`)
      .expect(413);
    unchanged();
  });

  it('refuses a form with thousands of fields with 413', async () => {
    const { app, unchanged } = setup();
    const body = Array.from({ length: 5000 }, (_, i) => `f${i}=x`).join('&');
    await request(app).post('/save-data').type('form').send(body).expect(413);
    unchanged();
  });

  it.each(['text/xml', 'multipart/form-data; boundary=x', 'application/octet-stream'])('refuses content type %s with 415', async (type) => {
    const { app, unchanged } = setup();
    await request(app).put('/api/keys/kept').set('content-type', type).send('value=evil').expect(415);
    unchanged();
  });

  it('stores a key with a hash tag exactly as sent', async () => {
    const { app, store } = setup();
    await request(app).put('/api/keys/%7Buser1%7D:cart').send({ value: 'v' }).expect(200);
    expect(store.data.get('{user1}:cart')?.value).toBe('v');
  });

  it.each(['/api/keys/..', '/api/keys/.', '/api/keys/%2E%2E'])('refuses the dot segment %s with 400', async (path) => {
    const { app, unchanged } = setup();
    const res = await request(app).put(path).send({ value: 'v' });
    expect([400, 404]).toContain(res.status);
    expect(errorBody(res).error).toBeDefined();
    unchanged();
  });

  it('treats an encoded slash as part of the key, not as a path', async () => {
    const { app, store } = setup();
    await request(app).put('/api/keys/..%2F..%2Fetc%2Fpasswd').send({ value: 'v' }).expect(200);
    expect(store.data.get('../../etc/passwd')?.value).toBe('v');
    expect(store.data.get('kept')?.value).toBe('original');
  });

  it('escapes script in keys and values on every page', async () => {
    const { app, store } = setup();
    store.data.set('<script>alert(1)</script>', { value: '"><img src=x onerror=alert(2)>', ttl: undefined });
    const res = await request(app).post('/search').type('form').send({ key: '<script>alert(1)</script>' }).expect(200);
    expect(res.text).not.toContain('<script>alert(1)');
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('answers an unexpected failure with no stack trace in production', async () => {
    const { app, store } = setup();
    store.fail = new TypeError('Cannot read properties of undefined (at /srv/app/secret.js:12:3)');
    const res = await request(app).get('/api/keys/kept').expect(500);
    expect(res.body).toEqual({ error: 'Something went wrong on our side.' });
  });
});
