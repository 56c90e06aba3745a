// A fetch that remembers every request body a client framework sends, so a test can assert
// what the framework put on the wire (the fields the gateway must accept or ignore) as well as
// what came back.
export type RecordingFetch = {
  fetch: typeof globalThis.fetch;
  // Parsed JSON bodies, in order, with the path each was sent to.
  sent: { path: string; body: Record<string, unknown> }[];
};

export function recordingFetch(): RecordingFetch {
  const sent: RecordingFetch['sent'] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const text = request.body ? await request.clone().text() : '';
    if (text !== '') sent.push({ path: new URL(request.url).pathname, body: JSON.parse(text) as Record<string, unknown> });
    return globalThis.fetch(request);
  };
  return { fetch, sent };
}
