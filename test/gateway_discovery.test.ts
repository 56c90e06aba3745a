// EC2 tag discovery: pagination, filtering, URL building, and keeping the last list when EC2
// fails. No AWS endpoint is reachable from tests, so EC2 is a test double that answers
// DescribeInstances from a script of pages; nothing else is replaced.
import type { DescribeInstancesCommand, DescribeInstancesCommandOutput, Instance } from '@aws-sdk/client-ec2';
import { afterEach, expect, it, vi } from 'vitest';
import { runGateway } from '../src/cli/gateway.ts';
import { DiscoverSpec } from '../src/gateway/discovery/discover_spec.ts';
import { Ec2TagDiscovery, type DescribeInstancesSender } from '../src/gateway/discovery/ec2_tag_discovery.ts';

type Page = { instances: Instance[]; nextToken?: string } | Error;

// Answers each call with the next scripted page; records what it was asked.
class FakeEc2 implements DescribeInstancesSender {
  readonly inputs: DescribeInstancesCommand['input'][] = [];
  constructor(private readonly pages: Page[]) {}
  async send(command: DescribeInstancesCommand): Promise<DescribeInstancesCommandOutput> {
    this.inputs.push(command.input);
    const page = this.pages.shift();
    if (page === undefined) throw new Error('no more scripted pages');
    if (page instanceof Error) throw page;
    return { $metadata: {}, Reservations: [{ Instances: page.instances }], NextToken: page.nextToken };
  }
}

const ip = (address: string | undefined): Instance => ({ InstanceId: `i-${address ?? 'pending'}`, PrivateIpAddress: address });

const discovery = (client: FakeEc2, onNodes: (urls: string[]) => void, intervalMs = 60_000) =>
  new Ec2TagDiscovery({ tagKey: 'sirocco-node-group', tagValue: 'prod', port: 8081, intervalMs, client, onNodes });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

it('follows NextToken across pages and builds sorted, unique http://<private ip>:<port> URLs', async () => {
  const ec2 = new FakeEc2([
    { instances: [ip('10.0.1.20'), ip('10.0.1.7')], nextToken: 'page-2' },
    { instances: [ip('10.0.2.5'), ip('10.0.1.7')], nextToken: 'page-3' },
    { instances: [ip('10.0.3.9')] },
  ]);
  const seen: string[][] = [];
  const d = discovery(ec2, (urls) => void seen.push(urls));
  const urls = await d.start();
  d.stop();
  expect(urls).toEqual(['http://10.0.1.20:8081', 'http://10.0.1.7:8081', 'http://10.0.2.5:8081', 'http://10.0.3.9:8081']);
  expect(seen).toEqual([urls]);
  expect(ec2.inputs.map((i) => i.NextToken)).toEqual([undefined, 'page-2', 'page-3']);
});

it('asks only for running instances with the tag', async () => {
  const ec2 = new FakeEc2([{ instances: [] }]);
  const d = discovery(ec2, () => {});
  expect(await d.start()).toEqual([]);
  d.stop();
  expect(ec2.inputs[0]!.Filters).toEqual([
    { Name: 'tag:sirocco-node-group', Values: ['prod'] },
    { Name: 'instance-state-name', Values: ['running'] },
  ]);
});

it('leaves out instances that have no private address yet', async () => {
  const ec2 = new FakeEc2([{ instances: [ip(undefined), ip('10.0.1.4'), { InstanceId: 'i-empty', PrivateIpAddress: '' }] }]);
  const d = discovery(ec2, () => {});
  expect(await d.start()).toEqual(['http://10.0.1.4:8081']);
  d.stop();
});

it('throws at start-up when the first lookup fails, so a wrong region or permission is loud', async () => {
  const ec2 = new FakeEc2([new Error('UnauthorizedOperation: not authorized to perform ec2:DescribeInstances')]);
  const onNodes = vi.fn();
  await expect(discovery(ec2, onNodes).start()).rejects.toThrow(/UnauthorizedOperation/);
  expect(onNodes).not.toHaveBeenCalled();
});

it('keeps the last list and logs when a later lookup fails, then picks up changes again', async () => {
  vi.useFakeTimers();
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const ec2 = new FakeEc2([
    { instances: [ip('10.0.1.1'), ip('10.0.1.2')] },
    new Error('RequestLimitExceeded'),
    { instances: [ip('10.0.1.2'), ip('10.0.1.3')] },
  ]);
  const seen: string[][] = [];
  const d = discovery(ec2, (urls) => void seen.push(urls), 1000);
  await d.start();

  await vi.advanceTimersByTimeAsync(1000); // the failing round
  expect(d.urls()).toEqual(['http://10.0.1.1:8081', 'http://10.0.1.2:8081']);
  expect(seen).toHaveLength(1);
  const logged = stderr.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
  expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'node discovery failed, keeping the last list', error: 'RequestLimitExceeded', nodes: 2 }));

  await vi.advanceTimersByTimeAsync(1000); // recovered: a node left, one joined
  expect(d.urls()).toEqual(['http://10.0.1.2:8081', 'http://10.0.1.3:8081']);
  expect(seen).toEqual([
    ['http://10.0.1.1:8081', 'http://10.0.1.2:8081'],
    ['http://10.0.1.2:8081', 'http://10.0.1.3:8081'],
  ]);
  d.stop();
  await vi.advanceTimersByTimeAsync(5000); // stopped: no more calls
  expect(ec2.inputs).toHaveLength(3);
});

it('parses --discover ec2:TAG_KEY=TAG_VALUE[:PORT]', () => {
  expect(DiscoverSpec.parse('ec2:sirocco-node-group=prod')).toEqual({ provider: 'ec2', tagKey: 'sirocco-node-group', tagValue: 'prod', port: 8081 });
  expect(DiscoverSpec.parse('ec2:sirocco:group=a=b:9000')).toEqual({ provider: 'ec2', tagKey: 'sirocco:group', tagValue: 'a=b', port: 9000 });
  for (const bad of ['sirocco-node-group=prod', 'ec2:=prod', 'ec2:key', 'ec2:key=', 'ec2:key=v:70000']) {
    expect(DiscoverSpec.safeParse(bad).success, bad).toBe(false);
  }
});

it('sirocco gateway takes exactly one of --nodes and --discover, and refuses a malformed --discover', async () => {
  vi.stubEnv('SIROCCO_NODE_SECRET', 'a-node-secret-of-enough-length');
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const cases: [string[], RegExp][] = [
    [['--nodes', 'http://10.0.0.1:8081', '--discover', 'ec2:sirocco-node-group=prod'], /--nodes: give either --nodes .* or --discover .*exactly one/],
    [[], /--nodes: give either/],
    [['--discover', 'sirocco-node-group=prod'], /--discover: expected ec2:TAG_KEY=TAG_VALUE\[:PORT\]/],
  ];
  for (const [args, message] of cases) {
    stderr.mockClear();
    expect(await runGateway(args), args.join(' ')).toBe(1);
    expect(stderr.mock.calls.map(([s]) => String(s)).join('')).toMatch(message);
  }
});
