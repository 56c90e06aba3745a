// An SSM Parameter Store endpoint on 127.0.0.1 for the code under test: GetParameter over AWS's
// JSON protocol (POST, X-Amz-Target: AmazonSSM.GetParameter), the only call Sirocco makes. No
// SSM server runs here (s3rver is S3 only), so this serves the protocol the real SDK speaks;
// point AWS_ENDPOINT_URL_SSM at `endpoint`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SsmParameters = { endpoint: string; reads: string[]; close: () => Promise<void> };

export async function startSsmParameters(values: Record<string, string>): Promise<SsmParameters> {
  const reads: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const reply = (status: number, json: object) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(json));
      if (req.headers['x-amz-target'] !== 'AmazonSSM.GetParameter') return reply(400, { __type: 'InvalidAction', message: `not served here: ${req.headers['x-amz-target']}` });
      if (!/^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? '')) return reply(400, { __type: 'MissingAuthenticationTokenException', message: 'unsigned request' });
      const { Name } = JSON.parse(body) as { Name: string };
      reads.push(Name);
      const value = values[Name];
      if (value === undefined) return reply(400, { __type: 'ParameterNotFound', message: `no parameter ${Name}` });
      reply(200, { Parameter: { Name, Type: 'SecureString', Value: value, Version: 1 } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
